"""Tests of the monotone binner and the points scorecard (risk_models.scorecard)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from risk_models.scorecard import (
    MISSING_LABEL,
    MonotoneBinner,
    Scorecard,
    ks_statistic,
)


def _data(n: int = 4000, rng: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three features: riskier with x0, safer with x1, x2 noise; 10 % missing."""
    g = np.random.default_rng(rng)
    X = g.normal(size=(n, 3))
    y = (g.random(n) < expit(1.2 * X[:, 0] - 0.8 * X[:, 1] - 1.0)).astype(np.int64)
    X[g.random(X.shape) < 0.1] = np.nan
    return X, y


@pytest.fixture(scope="module")
def fitted() -> tuple[Scorecard, np.ndarray, np.ndarray]:
    X, y = _data()
    return Scorecard().fit(X, y), X, y


def _monotone(rates: np.ndarray, ascending: bool) -> bool:
    d = np.diff(rates)
    return bool(np.all(d > 0) if ascending else np.all(d < 0))


# -- binning ----------------------------------------------------------------------
def test_bins_follow_the_given_direction():
    X, y = _data()
    b = MonotoneBinner(directions=("ascending", "descending", "auto")).fit(X, y)
    for fb in b.bins_:
        assert _monotone(fb.event_rate[:-1], fb.direction == "ascending")
    assert [fb.direction for fb in b.bins_[:2]] == ["ascending", "descending"]
    assert b.iv_[0] > 0.2
    assert b.iv_[1] > 0.1
    assert b.iv_[2] < 0.05


def test_auto_direction_uses_the_sign_of_the_association():
    X, y = _data()
    b = MonotoneBinner().fit(X, y)
    assert [fb.direction for fb in b.bins_[:2]] == ["ascending", "descending"]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.sampled_from([0.0, 0.02, 0.1, 0.2]))
def test_bins_are_strictly_monotone_and_big_enough(seed, share):
    g = np.random.default_rng(seed)
    n = 600
    x = np.round(g.normal(size=n) * g.choice([1, 5, 100]), g.integers(0, 3))
    y = (g.random(n) < expit(np.sin(x) + 0.3 * x / (np.abs(x).max() + 1))).astype(int)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    b = MonotoneBinner(min_bin_share=share).fit(x[:, None], y)
    fb = b.bins_[0]
    rates = fb.event_rate[:-1]
    assert _monotone(rates, fb.direction == "ascending")
    shares = fb.counts[:-1] / n
    if len(shares) > 1:
        assert shares.min() >= share - 1e-12
    assert np.all(fb.counts[:-1] > 0)


def test_missing_values_are_their_own_bin():
    X, y = _data()
    b = MonotoneBinner().fit(X, y)
    idx = b.bin_indices(X)
    for j, fb in enumerate(b.bins_):
        miss = np.isnan(X[:, j])
        assert np.all(idx[miss, j] == fb.n_bins - 1)
        assert np.all(idx[~miss, j] < fb.n_bins - 1)
        assert fb.counts[-1] == miss.sum()
        assert fb.labels()[-1] == MISSING_LABEL


def test_missing_bin_exists_without_missing_training_values():
    X, y = _data()
    X = np.nan_to_num(X)
    b = MonotoneBinner().fit(X, y)
    assert b.bins_[0].counts[-1] == 0
    assert b.bins_[0].woe[-1] == 0.0
    Xt = X[:5].copy()
    Xt[:, 0] = np.nan
    np.testing.assert_array_equal(b.transform(Xt)[:, 0], 0.0)


def test_woe_sign_convention():
    X, y = _data()
    fb = MonotoneBinner().fit(X, y).bins_[0]  # riskier with x0
    assert fb.woe[0] > 0 > fb.woe[-2]  # positive WoE = better than average


def test_constant_and_all_missing_columns():
    X, y = _data()
    X[:, 1] = 3.0
    X[:, 2] = np.nan
    b = MonotoneBinner().fit(X, y)
    assert b.bins_[1].n_bins == 2
    assert b.bins_[2].n_bins == 2
    m = Scorecard().fit(X, y)
    assert not m.used_[1]
    assert not m.used_[2]
    assert np.all(m.points_[1] == 0)
    assert np.all(np.isfinite(m.score(X)))


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"max_prebins": 1}, ValueError),
        ({"max_prebins": 2.5}, TypeError),
        ({"min_bin_share": 0.6}, ValueError),
        ({"min_bin_share": "0.1"}, TypeError),
        ({"directions": "ascending"}, TypeError),
        ({"directions": ("up", "ascending", "auto")}, ValueError),
        ({"woe_smoothing": -1.0}, ValueError),
    ],
)
def test_binner_params_are_checked(params, error):
    X, y = _data(200)
    with pytest.raises(error):
        MonotoneBinner(**params).fit(X, y)


@pytest.mark.parametrize(
    ("params", "error"),
    [({"C": 0.0}, ValueError), ({"pdo": -1.0}, ValueError), ({"base_odds": 0}, ValueError),
     ({"min_iv": -0.1}, ValueError), ({"base_score": "600"}, TypeError),
     ({"C": float("nan")}, ValueError), ({"directions": ("auto",)}, ValueError),
     ({"encoding": "dummies"}, ValueError), ({"segment_by": "x0"}, ValueError),
     ({"cv": 1}, ValueError), ({"cv": 2.0}, TypeError), ({"random_state": "0"}, TypeError)],
)
def test_scorecard_params_are_checked(params, error):
    X, y = _data(200)
    with pytest.raises(error):
        Scorecard(**params).fit(X, y)


# -- scorecard ------------------------------------------------------------------
def test_points_range_and_direction(fitted):
    m, X, y = fitted
    s = m.score(X)
    assert s.min() >= 0
    assert s.max() <= 1000
    p = m.predict_proba(X)[:, 1]
    # higher score = lower event probability (a strictly decreasing map)
    order = np.argsort(s)
    assert np.all(np.diff(p[order]) <= 1e-12)
    extreme = Scorecard(pdo=400.0, base_score=900.0).fit(X, y).score(X)
    assert extreme.min() >= 0
    assert extreme.max() == 1000


def assert_table_points_are_the_score(m, X, total):
    """``total`` (the table's points summed per row) is the score, and the points scale of
    the model's log-odds (offset − factor · logit)."""
    np.testing.assert_allclose(m.score(X), np.clip(total, 0, 1000))
    factor = m.pdo / np.log(2)
    offset = m.base_score - factor * np.log(m.base_odds)
    np.testing.assert_allclose(total, offset - factor * m.decision_function(X))


def test_points_add_up_to_the_score(fitted):
    m, X, _ = fitted
    idx = m.binner_.bin_indices(X)
    total = m.base_points_ + sum(m.points_[j][idx[:, j]] for j in range(X.shape[1]))
    assert_table_points_are_the_score(m, X, total)


def test_points_are_monotone_within_features(fitted):
    m, _, _ = fitted
    for fb, pts in zip(m.binner_.bins_, m.points_, strict=True):
        rates, p = fb.event_rate[:-1], pts[:-1]
        # more events, fewer points
        assert np.all(np.diff(p)[np.diff(rates) > 0] <= 1e-9)
        assert np.all(np.diff(p)[np.diff(rates) < 0] >= -1e-9)
        # the bins' points are fitted jointly: monotone in the feature's direction even
        # where the pooled event rates tie
        steps = np.diff(p)
        assert np.all(steps <= 1e-9) if fb.direction == "ascending" else np.all(steps >= -1e-9)


def test_scorecard_discriminates(fitted):
    from sklearn.metrics import roc_auc_score

    m, X, y = fitted
    assert roc_auc_score(y, -m.score(X)) > 0.75
    assert ks_statistic(y, m.score(X)) > 0.35


def test_table_and_csv(fitted, tmp_path):
    m, _, _ = fitted
    rows = m.table(["risky", "safe", "noise"])
    assert {"feature", "bin", "count", "event_rate", "woe", "points"} <= set(rows[0])
    assert sum(r["feature"] == "risky" for r in rows) == m.binner_.bins_[0].n_bins
    assert sum(r["count"] for r in rows if r["feature"] == "safe") == 4000
    text = m.to_csv(tmp_path / "card.csv")
    assert (tmp_path / "card.csv").read_text("utf-8") == text
    assert text.splitlines()[0] == "feature,bin,count,event_rate,woe,iv,points,segment"
    assert {r["segment"] for r in rows} == {"all"}
    assert len(text.splitlines()) == len(rows) + 1
    with pytest.raises(ValueError, match="feature names"):
        m.table(["one"])


def test_reasons_pick_the_worst_scoring_features(fitted):
    m, X, _ = fitted
    r = m.reasons(X, top=2)
    idx = m.binner_.bin_indices(X)
    lost = np.column_stack([m.points_[j].max() - m.points_[j][idx[:, j]]
                            for j in range(X.shape[1])])
    for i in range(200):
        expected = [j for j in np.argsort(-lost[i], kind="stable") if lost[i, j] > 1e-9][:2]
        got = [j for j in r.index[i] if j >= 0]
        assert got == expected
        np.testing.assert_allclose(r.points_lost[i, : len(got)], lost[i, got])
    # the best possible row has no reasons
    best = np.array([[m.binner_.bins_[j].edges[0] - 1 if m.binner_.bins_[j].direction ==
                      "ascending" else m.binner_.bins_[j].edges[-1] + 1 for j in range(3)]])
    worst_free = m.reasons(best, top=3)
    assert np.all(worst_free.index[:, :2] == -1)


def test_reasons_sorted_and_sized(fitted):
    m, X, _ = fitted
    r = m.reasons(X, top=5)
    assert r.index.shape == (len(X), 3)  # capped at the number of features
    assert np.all(np.diff(r.points_lost, axis=1) <= 0)
    assert m.reasons(X, top=0).index.shape == (len(X), 0)
    with pytest.raises(ValueError, match="top"):
        m.reasons(X, top=-1)


def test_sample_weight_equals_repetition():
    X, y = _data(1000)
    w = np.random.default_rng(1).integers(0, 3, len(X))
    a = Scorecard().fit(X, y, sample_weight=w)
    b = Scorecard().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    for fa, fb in zip(a.binner_.bins_, b.binner_.bins_, strict=True):
        np.testing.assert_array_equal(fa.edges, fb.edges)
    np.testing.assert_allclose(a.score(X), b.score(X), rtol=1e-5)


def test_string_classes_and_dataframe_names():
    pd = pytest.importorskip("pandas")
    X, y = _data(800)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    m = Scorecard().fit(df, np.where(y == 1, "bad", "good"))
    assert list(m.classes_) == ["bad", "good"]  # "good" sorts last: it is the event here
    assert m.feature_names() == ["a", "b", "c"]
    assert set(m.predict(df)) <= {"bad", "good"}


def test_clone_refits_identically(fitted):
    m, X, y = fitted
    np.testing.assert_array_equal(clone(m).fit(X, y).score(X), m.score(X))


def test_ks_statistic():
    y = np.array([0, 0, 1, 1])
    assert ks_statistic(y, [0.1, 0.2, 0.8, 0.9]) == 1.0
    assert ks_statistic(y, [0.5, 0.5, 0.5, 0.5]) == 0.0
    with pytest.raises(ValueError, match="both classes"):
        ks_statistic([1, 1], [0.1, 0.2])


# -- scikit-learn contract ----------------------------------------------------------
# MonotoneBinner is checked through Scorecard (which runs it): sklearn's transformer
# checks feed multiclass targets, and WoE is defined for a binary event only.
# A single outcome class is refused with a ValueError naming the classes, which is what
# ``check_classifiers_one_label_sample_weights`` accepts: no check is expected to fail.
EXPECTED_FAILURES: dict[str, str] = {}


@parametrize_with_checks([Scorecard(), Scorecard(encoding="woe"), Scorecard(segment_by="auto")],
                         expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_score_with_reasons_matches(fitted):
    m, X, _ = fitted
    s, r = m.score_with_reasons(X, top=2)
    np.testing.assert_array_equal(s, m.score(X))
    np.testing.assert_array_equal(r.index, m.reasons(X, top=2).index)


# -- protected splits, missing policies, prior points (issue 19 §2) -------------------
def _flag_data(n: int = 4000, seed: int = 0):
    rng = np.random.default_rng(seed)
    flag = (rng.random(n) < 0.03).astype(float)  # 3 %: under the 5 % minimum share
    other = rng.normal(size=n)
    # the flag's rows have *fewer* events: monotone pooling would merge them away
    y = (rng.random(n) < np.where(flag > 0, 0.02, 0.15) * np.exp(0.3 * other)).astype(int)
    return np.column_stack([flag, other]), y


def test_a_protected_split_keeps_a_rare_flag_in_its_own_bin():
    X, y = _flag_data()
    merged = MonotoneBinner(directions=["ascending", "auto"]).fit(X, y)
    assert merged.bins_[0].n_bins == 2  # main: one bin for "any value" (+ missing)
    kept = MonotoneBinner(directions=["ascending", "auto"], split_points=[1.0, None]).fit(X, y)
    fb = kept.bins_[0]
    np.testing.assert_array_equal(fb.edges, [1.0])
    assert fb.counts[1] == X[:, 0].sum()
    # unseen in training: the bin is kept, empty
    empty = MonotoneBinner(split_points=[1.0, None]).fit(np.column_stack([X[:, 0] * 0, X[:, 1]]), y)
    assert empty.bins_[0].n_bins == 3 and empty.bins_[0].counts[1] == 0


def test_prior_points_shrink_toward_an_expert_card_and_keep_the_sign():
    X, y = _flag_data()
    common = dict(directions=["ascending", "auto"], split_points=[1.0, None])

    def step(card):
        return card.points_[0][0] - card.points_[0][1]

    plain = Scorecard(**common).fit(X, y)
    assert step(plain) == pytest.approx(0.0, abs=1e-6)  # data say "fewer events": bound at 0
    blended = [Scorecard(**common, prior_points=[(100.0, 100.0), None], C=0.1)
               .fit(*_flag_data(n, 1)) for n in (400, 4000, 40000)]
    steps = [step(c) for c in blended]
    assert steps[0] > 30.0  # few rows: the expert card's penalty holds
    assert steps[0] > steps[1] >= steps[2] >= 0.0  # fades as rows accumulate, never reversed
    with pytest.raises(ValueError, match="encoding"):
        Scorecard(encoding="woe", prior_points=[(1.0, 1.0), None]).fit(X, y)
    with pytest.raises(ValueError, match="prior_points"):
        Scorecard(prior_points=[(-1.0, 1.0), None]).fit(X, y)


@pytest.mark.parametrize("policy", ["first", "neutral"])
def test_missing_policies(policy):
    X, y = _flag_data()
    X = X.copy()
    X[:400, 1] = np.nan
    y = y.copy()
    y[:400] = 1  # the missing rows happen to be bad: a fitted missing bin would punish them
    card = Scorecard(directions=["ascending", "ascending"], missing=["fit", policy]).fit(X, y)
    pts = card.points_[1]
    fb = card.binner_.bins_[1]
    if policy == "first":
        assert pts[-1] == pytest.approx(pts[0])
    else:
        assert pts[-1] == pytest.approx(np.dot(fb.counts[:-1], pts[:-1]) / fb.counts[:-1].sum())
    fitted = Scorecard(directions=["ascending", "ascending"]).fit(X, y)
    assert fitted.points_[1][-1] < fitted.points_[1][:-1].min()  # the default punishes them
