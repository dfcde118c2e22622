"""Credit direction: adverse records only ever lower a score (prior, trained, blended cards),
binary/count indicators keep their own bins, missing values are handled explicitly, the
blend keeps the published policy on few outcomes, and reasons name only what applies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import expit

from risk_models.bench import synthetic_columns
from risk_models.credit import (
    CREDIT_FEATURE_NAMES,
    CREDIT_FEATURES,
    DIRECTIONS,
    INDICATORS,
    CreditModel,
)
from risk_models.credit_prior import POINTS, PriorScorecard

NAMES = list(CREDIT_FEATURE_NAMES)
J = NAMES.index
ADVERSE = [n for n in NAMES if INDICATORS[n].direction == "adverse"]


def _province(n: int, seed: int, *, rectified: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic rows; where ``rectified``, a past problem found is followed by *fewer*
    problems (the finding was rectified), the pattern that flipped the demo card."""
    cols, _ = synthetic_columns(n, seed)
    X = np.column_stack([cols[k] for k in NAMES]).astype(np.float64)
    g = np.random.default_rng(seed + 1)
    never = g.random(n) < 0.5  # half never inspected: no last result
    X[never, J("last_inspection_problem")] = np.nan
    logit = cols["_latent"] + 0.6 * X[:, J("penalties_3y")] - 2.0
    if rectified:
        logit -= 1.0 * np.nan_to_num(X[:, J("last_inspection_problem")])
        logit -= 0.4 * X[:, J("inspection_problems_3y")]
    y = (g.random(n) < expit(logit)).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return _province(8000, 3)


@pytest.fixture(scope="module")
def cards(data) -> dict[str, object]:
    X, y = data
    return {
        "prior": PriorScorecard(NAMES),
        "trained": CreditModel(blend=False).fit(X, y),
        "blend": CreditModel().fit(X[:313], y[:313], population=X),
        "blend_large": CreditModel().fit(X, y),
    }


# -- one declared direction per indicator ---------------------------------------------
def test_every_indicator_has_one_declared_direction():
    assert set(INDICATORS) == set(CREDIT_FEATURES)
    assert {i.direction for i in INDICATORS.values()} <= set(DIRECTIONS)
    for name in ("inspection_problems_3y", "last_inspection_problem", "penalties_3y",
                 "warnings_confirmed_2y", "on_abnormal_list", "on_serious_violation_list",
                 "complaints_365d", "tests_failed_3y_product", "annual_report_missing",
                 "annual_report_late_3y"):
        assert INDICATORS[name].direction == "adverse", name
    for name in ("is_individual", "inspections_3y", "days_since_inspection"):
        assert INDICATORS[name].direction == "neutral" and INDICATORS[name].note
    # every adverse indicator of the published table is adverse here too
    assert set(POINTS) <= set(ADVERSE)


# -- bins -------------------------------------------------------------------------
def test_binary_and_count_indicators_keep_their_own_bins(cards):
    for key in ("trained", "blend", "blend_large"):
        model = cards[key]
        card = model.scorecard_
        for name in ADVERSE:
            k = model.scored_names_.index(name)
            fb = card.binner_.bins_[k]
            pts = card.points_[k]
            split = INDICATORS[name].split
            assert split in fb.edges, (key, name, fb.edges)  # "no record" is a bin of its own
            assert fb.edges[0] == split, (key, name)  # ... and only "no record"
            assert np.all(np.diff(pts[:-1]) <= 1e-9), (key, name)  # monotone: never rewarded
            assert pts[-1] == pytest.approx(pts[0])  # missing = no record
    # the demo's collapse: "any value" one bin, missing lower, so any inspection earned points
    k = cards["trained"].scored_names_.index("last_inspection_problem")
    assert cards["trained"].scorecard_.binner_.bins_[k].n_bins == 3


def test_an_unseen_record_keeps_its_bin_and_the_prior_sets_its_points(data):
    X, y = data
    X = X.copy()
    X[:, J("on_serious_violation_list")] = 0.0  # nobody on the list in training
    model = CreditModel().fit(X[:2000], y[:2000])
    k = model.scored_names_.index("on_serious_violation_list")
    fb = model.scorecard_.binner_.bins_[k]
    pts = model.scorecard_.points_[k]
    assert fb.counts[1] == 0 and len(pts) == 3
    lost = pts[0] - pts[1]
    assert lost == pytest.approx(POINTS["on_serious_violation_list"][1], rel=0.05)
    row = X[:1].copy()
    row[0, J("on_serious_violation_list")] = 1.0
    assert model.score(row)[0] < model.score(X[:1])[0] - 300


def test_missing_favourable_value_is_neutral(cards, data):
    X, _ = data
    model = cards["trained"]
    k = model.scored_names_.index("capital_log")
    fb = model.scorecard_.binner_.bins_[k]
    pts = model.scorecard_.points_[k]
    mean = np.dot(fb.counts[:-1], pts[:-1]) / fb.counts[:-1].sum()
    assert pts[-1] == pytest.approx(mean)


# -- the property: an adverse record never raises a score -----------------------------
def _score(card, X):
    return card.score(X)


@pytest.mark.parametrize("key", ["prior", "trained", "blend", "blend_large"])
@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 7999),
       changes=st.lists(st.tuples(st.sampled_from(ADVERSE), st.integers(1, 6)), min_size=1,
                        max_size=4))
def test_adding_adverse_records_never_raises_a_score(cards, data, key, row, changes):
    X, _ = data
    before = X[row:row + 1].copy()
    after = before.copy()
    for name, add in changes:
        j = J(name)
        old = 0.0 if np.isnan(after[0, j]) else after[0, j]
        kind = INDICATORS[name].kind
        after[0, j] = min(1.0, old + add) if kind == "flag" else old + add
    card = cards[key]
    assert _score(card, after)[0] <= _score(card, before)[0] + 1e-9


@pytest.mark.parametrize("key", ["trained", "blend", "blend_large"])
def test_every_row_and_adverse_indicator_at_once(cards, data, key):
    """Exhaustive companion of the property: every row, every adverse indicator +1."""
    X, _ = data
    model = cards[key]
    base = model.score(X)
    for name in ADVERSE:
        Y = X.copy()
        j = J(name)
        v = np.nan_to_num(Y[:, j]) + 1.0
        Y[:, j] = np.minimum(v, 1.0) if INDICATORS[name].kind == "flag" else v
        assert np.all(model.score(Y) <= base + 1e-9), name


# -- blending ----------------------------------------------------------------------
def test_few_outcomes_keep_the_published_policy_and_many_let_the_data_speak(data):
    """The data say a past problem is followed by fewer problems (it was rectified):
    unblended, 313 outcomes drop the penalty; blended, it stays near the table's; the
    data's pull grows with the outcomes, never past the direction."""
    X, y = data
    X2, y2 = _province(40_000, 9)

    def step(model, name):
        k = model.scored_names_.index(name)
        pts = model.scorecard_.points_[k]
        return pts[0] - pts[1]

    few = CreditModel().fit(X[:313], y[:313])
    many = CreditModel().fit(X2, y2)
    raw = CreditModel(blend=False).fit(X[:313], y[:313])
    for name in ("inspection_problems_3y", "last_inspection_problem"):
        assert step(raw, name) < 0.25 * POINTS[name][0]  # unblended: the penalty all but gone
        assert step(few, name) > max(step(raw, name), 0.3 * POINTS[name][0])  # blended: holds
        assert 0.0 <= step(many, name) < step(few, name)  # fades, keeps its direction
    # where data and table agree (penalties), the blend keeps a clear penalty throughout
    assert step(few, "penalties_3y") > 20 and step(many, "penalties_3y") > 20


# -- reasons -------------------------------------------------------------------------
def test_reasons_name_only_what_applies_with_value_and_points(cards, data):
    X, _ = data
    for key in ("prior", "trained", "blend"):
        card = cards[key]
        reasons = card.reasons(X) if key == "prior" else card.reasons(X)
        for i, row in enumerate(reasons):
            for r in row:
                name = r["code"]
                assert INDICATORS[name].direction != "neutral", (key, name)
                v = X[i, J(name)]
                assert not np.isnan(v), (key, i, name)
                if INDICATORS[name].direction == "adverse":
                    assert v >= INDICATORS[name].split, (key, i, name, v)
                assert r["points_lost"] >= 1.0
                assert r["detail"] == f"{r['label']} −{r['points_lost']:.0f} 分"
    Xt = X[:1].copy()
    for name in ADVERSE:
        Xt[0, J(name)] = 0.0
    Xt[0, J("inspection_problems_3y")] = 2.0
    Xt[0, J("penalties_3y")] = 3.0
    Xt[0, J("is_individual")] = 0.0
    Xt[0, J("last_inspection_problem")] = np.nan  # (inconsistent, but: never "上次检查发现问题")
    expected = {"inspection_problems_3y": "近3年检查发现问题 2 次", "penalties_3y": "近3年行政处罚 3 次"}
    for key in ("prior", "trained", "blend"):
        row = cards[key].reasons(Xt)[0]
        # the trained card learnt from rectified data that problems found cost nothing
        names = ["penalties_3y"] if key == "trained" else list(expected)
        for name in names:
            mine = [r for r in row if r["code"] == name]
            assert mine, (key, name)
            assert mine[0]["label"] == expected[name]
            assert mine[0]["detail"].startswith(expected[name] + " −")
        assert all(r["code"] not in ("is_individual", "last_inspection_problem") for r in row)
