"""Tests of the credit indicators, grades, the credit model and its validation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from risk_models.bench import synthetic_columns
from risk_models.credit import (
    CREDIT_DIMENSIONS,
    CREDIT_FEATURE_NAMES,
    CREDIT_FEATURES,
    NO_DATA_REASON,
    OVERRIDE_REASONS,
    CreditModel,
    assign_grades,
    cutoffs_from_shares,
    validate_on_arff,
)
from risk_models.features import FEATURES, feature
from risk_models.persist import ModelVersionError

POLISH = Path(__file__).resolve().parents[3] / "shared/data/external/polish-bankruptcy"


@pytest.fixture(scope="module")
def province() -> tuple[np.ndarray, np.ndarray]:
    cols, _ = synthetic_columns(6000, 0)
    X = np.column_stack([cols[n] for n in CREDIT_FEATURE_NAMES]).astype(np.float64)
    j = CREDIT_FEATURE_NAMES.index
    logit = (cols["_latent"] + 0.6 * X[:, j("penalties_3y")]
             + 0.8 * X[:, j("annual_report_missing")] - 2.0)
    y = (np.random.default_rng(1).random(len(X)) < expit(logit)).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def model(province) -> CreditModel:
    X, y = province
    return CreditModel().fit(X, y, trained_from="2023-01-01", trained_to="2024-12-31")


# -- indicators -------------------------------------------------------------------
def test_credit_features_are_the_numeric_indicators_of_the_five_dimensions():
    failed_tests = [f.name for f in FEATURES if f.name.startswith("tests_failed_3y_")]
    expected = [f.name for f in FEATURES
                if (f.dimension in CREDIT_DIMENSIONS and f.kind == "num") or f.name in failed_tests]
    assert list(CREDIT_FEATURE_NAMES) == expected
    # failed sampling tests are compliance records: the only domain signals in the card
    assert [n for n in CREDIT_FEATURE_NAMES if feature(n).dimension == "domain"] == failed_tests
    assert len(failed_tests) == 4
    assert {feature(n).dimension for n in CREDIT_FEATURE_NAMES} - {"domain"} == set(CREDIT_DIMENSIONS)
    assert CREDIT_FEATURES["penalties_3y"] == "近三年行政处罚次数"
    assert "address_id" not in CREDIT_FEATURES
    assert "peer_group_id" not in CREDIT_FEATURES
    assert 40 <= len(CREDIT_FEATURES) <= 50


# -- grades ---------------------------------------------------------------------
def test_grades_from_cutoffs():
    g, r = assign_grades([900, 700, 699.9, 500, 10], cutoffs=(800, 700, 500))
    assert g.tolist() == ["A", "B", "C", "C", "D"]
    assert r.tolist() == [""] * 5


def test_grades_from_target_shares():
    s = np.random.default_rng(0).normal(600, 80, 10_000)
    g, _ = assign_grades(s, target_shares=(0.1, 0.6, 0.2, 0.1))
    shares = [np.mean(g == k) for k in "ABCD"]
    np.testing.assert_allclose(shares, [0.1, 0.6, 0.2, 0.1], atol=0.002)
    assert s[g == "A"].min() > s[g == "B"].max() > s[g == "C"].max() > s[g == "D"].max()


def test_default_grade_and_reason_without_data():
    g, r = assign_grades([np.nan, 900.0, np.nan], cutoffs=(800, 700, 500),
                         serious_violation=[False, False, True])
    assert g.tolist() == ["B", "A", "D"]
    assert r[0] == NO_DATA_REASON == "无足够数据，默认B级"
    assert r[2] == OVERRIDE_REASONS["serious_violation"]


def test_overrides_and_their_reasons():
    scores = [900, 750, 600, 100, 900]
    g, r = assign_grades(scores, cutoffs=(800, 700, 500),
                         serious_violation=[1, 0, 0, 0, 1], abnormal_list=[0, 1, 1, 1, 1])
    assert g.tolist() == ["D", "C", "C", "D", "D"]
    assert r[0] == "列入严重违法失信名单，信用等级直接评为D级"
    assert r[1] == "列入经营异常名录，信用等级最高为C级"
    assert r[2] == ""
    assert r[3] == ""
    assert r[4] == OVERRIDE_REASONS["serious_violation"]


@pytest.mark.parametrize(
    "kwargs",
    [{"cutoffs": (1, 2, 3)}, {"cutoffs": (3, 2)}, {"target_shares": (0.5, 0.5, 0.5, 0.0)},
     {"target_shares": (0.2, 0.2, 0.6)}, {"cutoffs": (3, 2, 1), "target_shares": (1, 0, 0, 0)},
     {"serious_violation": [True]}],
)
def test_bad_grading_arguments(kwargs):
    with pytest.raises(ValueError, match="cutoffs|target_shares|serious_violation"):
        assign_grades([1.0, 2.0], **kwargs)


def test_empty_grade_share():
    g, _ = assign_grades(np.arange(100.0), target_shares=(0.0, 0.5, 0.5, 0.0))
    assert set(g) == {"B", "C"}
    assert cutoffs_from_shares(np.arange(10.0), (0.0, 1.0, 0.0, 0.0))[0] == np.inf


# -- the model ------------------------------------------------------------------
def test_model_scores_grades_and_reasons(model, province):
    X, y = province
    Xt = X[:6].copy()
    Xt[0] = np.nan
    scores, grades, reasons = model.grade(Xt, serious_violation=[0, 1, 0, 0, 0, 0],
                                          abnormal_list=[0, 0, 1, 0, 0, 0])
    assert np.isnan(scores[0])
    assert np.all((scores[1:] >= 0) & (scores[1:] <= 1000))
    assert grades[0] == "B"
    assert reasons[0] == [
        {"code": "no_data", "label": NO_DATA_REASON, "points_lost": 0.0}]
    assert grades[1] == "D"
    assert reasons[1][0]["code"] == "serious_violation"
    assert grades[2] in "CD"
    for row in reasons[1:]:
        points = [r for r in row if r["code"] in CREDIT_FEATURES]
        assert len(points) <= 3
        assert all(r["indicator"] == CREDIT_FEATURES[r["code"]] for r in points)
        assert [r["points_lost"] for r in points] == sorted(
            (r["points_lost"] for r in points), reverse=True)
        for r in row:
            assert set(r) == ({"code", "label", "indicator", "value", "points_lost", "detail"}
                              if r["code"] in CREDIT_FEATURES else {"code", "label", "points_lost"})


def test_model_learns_the_direction_of_risk(model, province):
    from sklearn.metrics import roc_auc_score

    X, y = province
    assert roc_auc_score(y, -model.score(X)) > 0.6
    j = CREDIT_FEATURE_NAMES.index("penalties_3y")
    for card in model.scorecard_.segments_:
        fb = card.binner.bins_[j]
        assert fb.direction == "ascending"  # the catalogue's direction
        pts = card.points[j][:-1]
        assert pts[0] == pts.max()  # no penalty: the best points
        assert np.all(np.diff(pts) <= 1e-9)


def test_cutoffs_follow_the_target_shares(model, province):
    X, _ = province
    _, grades, _ = model.grade(X)
    shares = [np.mean(grades == k) for k in "ABCD"]
    # discrete scores tie at the cut-offs, so only roughly the target shares
    np.testing.assert_allclose(shares, [0.30, 0.50, 0.15, 0.05], atol=0.08)
    fixed = CreditModel(cutoffs=(700, 600, 500)).fit(X[:2000], province[1][:2000])
    np.testing.assert_array_equal(fixed.cutoffs_, [700, 600, 500])


def test_model_table(model):
    rows = model.table()
    from risk_models.credit import INDICATORS

    scored = {n for n in CREDIT_FEATURE_NAMES if INDICATORS[n].direction != "neutral"}
    assert {r["feature"] for r in rows} == scored == set(model.scored_names_)
    assert {r["direction"] for r in rows} == {"不利", "有利"}
    assert {r["dimension"] for r in rows} <= {"基础登记信息", "经营与年报", "合规记录",
                                              "监管检查结果", "社会评价"}
    assert model.to_csv().startswith("feature,bin,")
    assert {r["segment"] for r in rows} == {"all"}
    assert {r["segment_label"] for r in rows} == {"全部"} == set(model.segment_labels())


def test_wrong_columns_are_refused(model, province):
    X, y = province
    with pytest.raises(ValueError, match="columns"):
        model.score(X[:, :5])
    with pytest.raises(ValueError, match="columns"):
        CreditModel().fit(X[:, :5], y)


def test_save_load_roundtrip(model, province, tmp_path):
    X, _ = province
    meta_path = model.save(tmp_path / "credit")
    meta = json.loads(meta_path.read_text("utf-8"))
    assert meta["name"] == "credit"
    assert meta["version"] == CreditModel.version
    assert meta["features"] == list(CREDIT_FEATURE_NAMES)
    assert meta["trained_from"] == "2023-01-01"
    assert len(meta["extra"]["cutoffs"]) == 3
    loaded = CreditModel.load(tmp_path / "credit")
    np.testing.assert_array_equal(loaded.score(X[:100]), model.score(X[:100]))


def test_load_refuses_another_version(model, tmp_path, monkeypatch):
    model.save(tmp_path / "credit")
    monkeypatch.setattr(CreditModel, "version", "999")
    with pytest.raises(ModelVersionError, match="version '3' \\(expected '999'\\)"):
        CreditModel.load(tmp_path / "credit")


def test_load_refuses_another_feature_list(model, tmp_path):
    model.save(tmp_path / "credit")
    with pytest.raises(ModelVersionError, match="features differ"):
        CreditModel.load(tmp_path / "credit", feature_names=CREDIT_FEATURE_NAMES[:-1])


def test_unfitted_model_is_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CreditModel().score(np.zeros((1, len(CREDIT_FEATURE_NAMES))))
    with pytest.raises(NotFittedError):
        CreditModel().save(tmp_path / "x")


def test_credit_model_is_one_card_even_where_segments_would_win(province):
    """Complaints weigh on individual businesses only: the library's segmented card would
    split there, but a row crossing a segment boundary changes card, so the credit model
    stays one monotone card (the interaction is not worth an adverse record raising a score)."""
    X, _ = province
    j = CREDIT_FEATURE_NAMES.index
    g = np.random.default_rng(2)
    individual = X[:, j("is_individual")] > 0.5
    logit = (np.where(individual, 1.5, -0.8) * np.nan_to_num(X[:, j("complaints_365d")])
             + 0.6 * np.nan_to_num(X[:, j("penalties_3y")]) - 2.0)
    y = (g.random(len(X)) < expit(logit)).astype(np.int64)
    model = CreditModel().fit(X, y)
    assert model.scorecard_.segment_rule_ is None
    assert model.segment_labels() == ["全部"]


# -- validation on real data --------------------------------------------------------
#: Held-out figures measured on the Polish bankruptcy data (stratified split 70/30,
#: seed 0; default_scorecard() — bins' points by a sign-constrained logistic
#: regression, segments chosen by 5-fold CV on the training part — vs default
#: LightGBM, see docs/credit.md): (scorecard AUC, scorecard KS). The AUC gap below
#: LightGBM is 0.018 (1year) and 0.025 (5year) on this split; over 5 splits the mean
#: gap is 0.019 and 0.024, every split under 0.035: the 0.05 target of issue 5 is met.
MEASURED = {"1year.arff": (0.9617, 0.7952), "5year.arff": (0.9193, 0.6911)}


@pytest.mark.skipif(not POLISH.is_dir(), reason="polish-bankruptcy data not present")
@pytest.mark.parametrize("name", sorted(MEASURED))
def test_scorecard_on_polish_bankruptcy(name):
    auc, ks = MEASURED[name]
    res = validate_on_arff(POLISH / name, test_size=0.3, random_state=0)
    assert res["scorecard_auc"] >= auc - 0.01
    assert res["scorecard_ks"] >= ks - 0.03
    assert res["lightgbm_auc"] - res["scorecard_auc"] <= 0.05
    assert res["scorecard_segments"] >= 2
