"""Scoring a population: model matrices, score_all, context models, explanations."""

from __future__ import annotations

import numpy as np
import pytest

from risk_models.bench import bench_models, synthetic_labels
from risk_models.models import make_model_matrix, score_all
from risk_models.models.registration import shared_attribute_graph
from risk_models.registry import get_model, list_models


def test_make_model_matrix(province):
    cols, _ = province
    X = make_model_matrix(get_model("metrology"), cols)
    assert X.dtype == np.float64 and X.shape == (3000, 8)
    np.testing.assert_array_equal(X[:, 5], cols["instrument_overdue"])
    T = make_model_matrix(get_model_cls := get_model("advertising"), cols, rows=np.arange(10))
    assert T.dtype == object and T.shape == (10, len(get_model_cls.features))
    assert isinstance(T[0, 1], str) and isinstance(T[0, 0], float)
    with pytest.raises(KeyError, match="instrument_overdue"):
        make_model_matrix(get_model("metrology"),
                          {k: v for k, v in cols.items() if k != "instrument_overdue"})


def test_score_all(province):
    cols, bt = province
    models = {}
    for name in list_models():
        model = get_model(name)
        rows = (np.arange(len(bt)) if model.business_types is None
                else np.flatnonzero(np.isin(bt, list(model.business_types))))
        models[name] = model.fit(make_model_matrix(model, cols, rows))
    out = score_all(cols, models, business_type=bt)
    assert set(out) == set(list_models())
    for name, res in out.items():
        assert res.scores.shape == res.levels.shape == res.applicable.shape == (3000,)
        np.testing.assert_array_equal(res.warned, np.flatnonzero(res.levels > 0))
        assert len(res.explanation.codes) == len(res.warned)
        assert np.all(res.scores[~res.applicable] == 0)
        assert len(res.warned) > 0, f"{name} issues no warning in cold start"
        types = models[name].business_types
        if types is not None:
            assert np.all(np.isin(bt[res.applicable], list(types)))
    warned = np.zeros(3000, dtype=bool)
    for res in out.values():
        warned[res.warned] = True
    assert 0.005 < warned.mean() < 0.05


def test_context_model_explains_rows_within_the_population(province):
    cols, _ = province
    model = get_model("registration_fraud")
    X = make_model_matrix(model, cols)
    model.fit(X)
    rows = np.flatnonzero(model.predict(X))
    part = model.explain(X, top=3, rows=rows)
    whole = model.explain(X, top=3)
    np.testing.assert_array_equal(part.codes, whole.codes[rows])
    np.testing.assert_allclose(part.contributions, whole.contributions[rows])
    # on its own, the warned subset is a different graph: context matters
    alone = model.decision_function(X[rows])
    assert not np.allclose(alone, model.decision_function(X)[rows])


def test_groups_keep_stacked_snapshots_apart(province):
    cols, _ = province
    model = get_model("registration_fraud")
    X = make_model_matrix(model, cols)
    single = get_model("registration_fraud").fit(X).thresholds_
    stacked = np.vstack([X, X])
    grouped = model.fit(stacked, groups=np.repeat([0, 1], len(X))).thresholds_
    merged = get_model("registration_fraud").fit(stacked).thresholds_
    np.testing.assert_allclose(grouped, single)
    assert not np.allclose(merged, single)  # every entity would share with its copy


def test_shared_attribute_graph():
    g = shared_attribute_graph(
        np.array([1, 1, 2, np.nan, 3]), np.array([-1, 7, 7, -1, -1]),
        flags={"bad": np.array([1, 0, 1, 1, 0])})
    assert g["component_size"].tolist() == [3, 3, 3, 1, 1]
    assert g["shared_0"].tolist() == [1, 1, 0, 0, 0]
    assert g["shared_1"].tolist() == [0, 1, 1, 0, 0]
    np.testing.assert_allclose(g["cluster_bad_share"], [0.5, 1.0, 0.5, 0.0, 0.0])


def test_generic_mode_learns_from_any_numeric_matrix():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 4))
    y = (X[:, 0] + 0.3 * rng.normal(size=600) > 0.8).astype(float)
    model = get_model("food_safety", n_folds=0).fit(X, y)
    assert model.mode_ == "lightgbm" and model.applicable(X).all()
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(y, model.decision_function(X)) > 0.9


def test_labels_validation(province):
    cols, _ = province
    X = make_model_matrix(get_model("metrology"), cols)
    with pytest.raises(ValueError, match="Only binary"):
        get_model("metrology").fit(X, np.arange(len(X)) % 3)
    with pytest.raises(ValueError, match="infinity"):
        get_model("metrology").fit(X, np.full(len(X), np.inf))
    with pytest.raises(ValueError, match="zero for every row"):
        get_model("metrology").fit(X, np.zeros(len(X)), sample_weight=np.zeros(len(X)))
    y = synthetic_labels(get_model("metrology"), X, cols["_latent"])
    strings = np.where(np.isnan(y), "none", np.where(y == 1, "problem", "clean"))
    with pytest.raises(ValueError, match="Only binary"):
        get_model("metrology").fit(X, strings)
    fitted = get_model("metrology").fit(X, np.where(np.isnan(y), 0, y) == 1)
    assert set(fitted.predict(X)) <= {False, True}


def test_bench_smoke():
    out = bench_models(n=2000, rng=1, n_labels=0)
    assert set(out["models"]) == set(list_models())
    assert all(m["mode"] == "prior" for m in out["models"].values())
    assert out["warnings_share"] > 0
