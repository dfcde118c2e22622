"""Learning from outcomes: LightGBM explanations, learner choice, AUC over the prior."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from risk_models.base import BIAS_CODE
from risk_models.bench import synthetic_columns, synthetic_labels
from risk_models.models import make_model_matrix
from risk_models.registry import get_model, get_model_class, list_models

LGBM = [n for n in list_models() if "lightgbm" in get_model_class(n).learners]


def _rows(model, bt):
    if model.business_types is None:
        return np.arange(len(bt))
    return np.flatnonzero(np.isin(bt, list(model.business_types)))


def _labelled(name, cols, bt, seed=0, **params):
    """A model, its X over its business types, and synthetic outcomes (NaN if not applicable)."""
    model = get_model(name, **params)
    rows = _rows(model, bt)
    X = make_model_matrix(model, cols, rows)
    y = synthetic_labels(model, X, cols["_latent"][rows], seed)
    return model, X, y


def test_lightgbm_models_are_the_catalogue_ones():
    assert set(LGBM) == {
        "food_safety", "drug_device_retail", "special_equipment", "product_quality",
        "registration_fraud", "online_trade", "metrology", "trademark_ip", "prepaid_consumer",
    }


@pytest.mark.parametrize("name", LGBM)
def test_contributions_sum_to_raw_log_odds(name, province):
    cols, bt = province
    model, X, y = _labelled(name, cols, bt, n_folds=0)  # no comparison: LightGBM is kept
    model.fit(X, y)
    assert model.mode_ == "lightgbm"
    raw = model.decision_function(X)
    np.testing.assert_allclose(model.score_samples(X)[model.applicable(X)],
                               1 / (1 + np.exp(-raw[model.applicable(X)])), rtol=1e-12)
    full = model.explain(X, top=None)
    assert full.codes[0, -1] == BIAS_CODE
    np.testing.assert_allclose(full.contributions.sum(axis=1), raw, atol=1e-8)
    # every reason code is a catalogue feature or one of the model's labelled codes
    codes = set(full.codes[0])
    assert codes - set(model.features) - set(model.reason_labels) - {BIAS_CODE} == set()
    top = model.explain(X, top=3)
    c = top.contributions
    assert np.all(np.diff(c, axis=1) <= 1e-12)
    assert np.all((c > 0) == (top.codes != ""))
    # the top reasons are the largest terms of the complete explanation
    i = int(np.argmax(raw))
    biggest = np.sort(full.contributions[i, :-1])[::-1][:3]
    np.testing.assert_allclose(c[i][c[i] > 0], biggest[biggest > 0])


@pytest.mark.parametrize("name", list_models())
def test_linear_explanations_sum_to_raw(name, province):
    cols, bt = province
    model, X, y = _labelled(name, cols, bt)
    for fitted in (get_model(name).fit(X), get_model(name, n_folds=0).fit(X, y)):
        if fitted.mode_ == "lightgbm":
            continue
        full = fitted.explain(X, top=None)
        np.testing.assert_allclose(full.contributions.sum(axis=1), fitted.decision_function(X),
                                   atol=1e-9)


@pytest.fixture(scope="module")
def big_province():
    return synthetic_columns(30000, rng=11)


def _split_auc(name, cols, bt, **params):
    """AUC of the cold prior and of the trained model on held-out labelled rows."""
    model, X, y = _labelled(name, cols, bt, seed=3, **params)
    rng = np.random.default_rng(0)
    lab = np.flatnonzero(~np.isnan(y))
    lab = rng.choice(lab, size=min(len(lab), 3000), replace=False)  # inspected rows
    test = rng.random(len(lab)) < 0.4
    y_train = np.full(len(y), np.nan)
    y_train[lab[~test]] = y[lab[~test]]
    prior = get_model(name, **params).fit(X)
    model.fit(X, y_train)
    Xt, yt = X[lab[test]], y[lab[test]]
    return (roc_auc_score(yt, prior.decision_function(Xt)),
            roc_auc_score(yt, model.decision_function(Xt)), model)


@pytest.mark.parametrize("name", LGBM)
def test_training_beats_the_cold_start_prior(name, big_province):
    cols, bt = big_province
    auc_prior, auc_trained, model = _split_auc(name, cols, bt)
    assert model.n_labels_ >= 400
    assert model.mode_ == "lightgbm"
    assert auc_trained > auc_prior + 0.01, (auc_prior, auc_trained)


def test_logistic_reweighs_the_rules(big_province):
    """Outcomes driven by other rules than the prior favours are learnt by the logistic."""
    cols, bt = big_province
    model = get_model("abnormal_operation", n_folds=3)
    X = make_model_matrix(model, cols)
    rng = np.random.default_rng(5)
    logit = -4.0 + 4.0 * cols["closure_signal"] + 4.0 * cols["tax_arrears"]
    y = (rng.random(len(X)) < 1 / (1 + np.exp(-logit))).astype(float)
    train = rng.random(len(X)) < 0.5
    prior = get_model("abnormal_operation").fit(X)
    model.fit(X, np.where(train, y, np.nan))
    assert model.mode_ == "logistic"
    j = list(model.term_codes_).index("tax_arrears")
    assert model.coef_[j] > prior.coef_[j] + 0.5
    auc_prior = roc_auc_score(y[~train], prior.decision_function(X[~train]))
    auc_model = roc_auc_score(y[~train], model.decision_function(X[~train]))
    assert auc_model > auc_prior + 0.05


def test_too_few_labels_is_a_cold_start(province):
    cols, bt = province
    model, X, y = _labelled("food_safety", cols, bt)
    few = np.full(len(y), np.nan)
    few[:30] = y[:30]
    model.fit(X, few)
    cold = get_model("food_safety").fit(X)
    assert model.mode_ == "prior" and model.n_labels_ == 30
    np.testing.assert_array_equal(model.score_samples(X), cold.score_samples(X))
    one_class = np.where(np.isnan(y), np.nan, 0.0)
    assert get_model("food_safety").fit(X, one_class).mode_ == "prior"


def test_learned_thresholds_reach_target_precision_out_of_fold(big_province):
    cols, bt = big_province
    model, X, y = _labelled("special_equipment", cols, bt, seed=4, volume=(1.0, 1.0, 1.0),
                            min_score=(0.0, 0.0, 0.0), target_precision=(0.4, 0.6, 0.8))
    model.fit(X, y)
    lab = ~np.isnan(y)
    flagged = model.warning_levels(model.score_samples(X[lab])) >= 1
    # in-sample precision at yellow is at least the out-of-fold target
    assert y[lab][flagged].mean() >= model.target_precision[0]
    assert flagged.mean() < 1.0


def test_fit_is_deterministic(province):
    cols, bt = province
    a, X, y = _labelled("trademark_ip", cols, bt)
    b = get_model("trademark_ip")
    np.testing.assert_array_equal(a.fit(X, y).score_samples(X), b.fit(X, y).score_samples(X))
