"""scikit-learn's estimator checks on every registered model (generic numeric data).

The checks feed arbitrary matrices, so the models run in their generic mode (see
``risk_models.models._framework``). Three checks contradict what a warning model is
and are expected to fail, with the reason below.
"""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from risk_models.registry import get_model, list_models

EXPECTED_FAILURES = {
    "check_classifiers_train": (
        "predict() means 'issue a warning': it is capped to a few % of the rows "
        "(volume), so it is not a balanced classifier and misses the accuracy bar"
    ),
    "check_classifiers_one_label": (
        "a single recorded outcome class is a cold start: the model scores by its "
        "prior instead of predicting that class everywhere"
    ),
    "check_supervised_y_no_nan": (
        "NaN outcomes mean 'not inspected' (population rows used for context and "
        "volume); infinite outcomes are refused"
    ),
}


def _expected(estimator):
    return EXPECTED_FAILURES


@parametrize_with_checks([get_model(name) for name in list_models()],
                         expected_failed_checks=_expected)
def test_sklearn_compatible(estimator, check):
    check(estimator)
