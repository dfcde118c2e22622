"""Tests of the constrained fit and the segments of the scorecard (risk_models.scorecard)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.tree import DecisionTreeClassifier
from test_scorecard import assert_table_points_are_the_score

from risk_models.scorecard import (
    MISSING_LABEL,
    MonotoneBinner,
    Scorecard,
    SegmentRule,
)


def _interaction(n: int = 6000, rng: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x0 < 0 (say, an operating loss) raises the risk and reverses the effect of x1 (a
    sign flip, as in ratios over a negative denominator); x2 is additive; 5 % missing
    everywhere."""
    g = np.random.default_rng(rng)
    X = g.normal(size=(n, 4))
    loss = X[:, 0] < 0
    logit = 1.2 * loss + np.where(loss, 1.5 * X[:, 1], -1.5 * X[:, 1]) + 0.5 * X[:, 2] - 2.5
    y = (g.random(n) < expit(logit)).astype(np.int64)
    X[g.random(X.shape) < 0.05] = np.nan
    return X, y


def _additive(n: int = 6000, rng: int = 0) -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(rng)
    X = g.normal(size=(n, 3))
    y = (g.random(n) < expit(1.0 * X[:, 0] - 0.7 * X[:, 1] - 2.0)).astype(np.int64)
    return X, y


@pytest.fixture(scope="module")
def segmented() -> tuple[Scorecard, np.ndarray, np.ndarray]:
    X, y = _interaction()
    return Scorecard(segment_by="auto").fit(X, y), X, y


# -- the sign-constrained logistic regression ----------------------------------------
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), rho=st.sampled_from([0.0, 0.9, 0.99]))
def test_woe_weights_are_never_positive(seed, rho):
    """Collinear copies of a risk driver: the bounded fit keeps every WoE weight <= 0."""
    g = np.random.default_rng(seed)
    n = 1500
    z = g.normal(size=n)
    X = np.column_stack([z, rho * z + np.sqrt(1 - rho**2) * g.normal(size=n),
                         z + 0.1 * g.normal(size=n), g.normal(size=n)])
    y = (g.random(n) < expit(1.5 * z - 1.5)).astype(np.int64)
    m = Scorecard(encoding="woe").fit(X, y)
    coef = m.segments_[0].coef
    assert np.all(coef <= 0)
    assert min(coef[0], coef[2]) < 0  # the driver or its near copy carries the risk
    assert np.all(coef[~m.used_] == 0)


def test_bounded_fit_equals_sklearn_when_no_bound_binds():
    X, y = _additive(3000)
    m = Scorecard(encoding="woe", C=0.5).fit(X, y)
    W = m.binner_.transform(X)
    lr = LogisticRegression(C=0.5, tol=1e-10, max_iter=10_000).fit(W, y)
    assert np.all(lr.coef_ < 0)  # no bound binds here
    np.testing.assert_allclose(m.segments_[0].coef, lr.coef_[0], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m.intercept_, lr.intercept_[0], rtol=1e-4, atol=1e-6)


def test_bin_points_are_monotone_with_collinear_features():
    """``encoding="bins"``: every step is bounded, so a feature's points never reverse
    its direction, even when an unconstrained fit would (collinearity)."""
    g = np.random.default_rng(3)
    n = 4000
    z = g.normal(size=n)
    X = np.column_stack([z, z + 0.05 * g.normal(size=n), g.normal(size=n)])
    y = (g.random(n) < expit(2 * z - 2)).astype(np.int64)
    m = Scorecard().fit(X, y)
    for fb, pts in zip(m.binner_.bins_, m.points_, strict=True):
        d = np.diff(pts[:-1])
        assert np.all(d <= 1e-9) if fb.direction == "ascending" else np.all(d >= -1e-9)


def test_bins_encoding_beats_woe_on_held_out_rows():
    """A non-linear (but monotone) effect: per-bin points fit it better than a WoE line."""
    g = np.random.default_rng(5)
    n = 12_000
    X = g.normal(size=(n, 3))
    logit = 2.5 * (X[:, 0] > 1.0) + 0.8 * X[:, 1] - 0.6 * np.tanh(2 * X[:, 2]) - 2.5
    y = (g.random(n) < expit(logit)).astype(np.int64)
    tr, te = slice(0, 8000), slice(8000, None)
    auc = {e: roc_auc_score(y[te], Scorecard(encoding=e).fit(X[tr], y[tr])
                            .decision_function(X[te])) for e in ("bins", "woe")}
    assert auc["bins"] >= auc["woe"] - 0.002


def test_unseen_missing_bin_is_neutral():
    """No missing value in training: the missing bin sits at the indicator's weighted
    mean contribution (neither a reason nor a bonus beyond the average)."""
    X, y = _additive(3000)
    m = Scorecard().fit(X, y)
    for fb, logit in zip(m.binner_.bins_, m.segments_[0].logit, strict=True):
        assert fb.counts[-1] == 0
        mean = np.dot(fb.counts[:-1], logit[:-1]) / fb.counts[:-1].sum()
        assert logit[-1] == pytest.approx(mean, abs=1e-6)


# -- segments -------------------------------------------------------------------------
def test_auto_segments_an_interaction(segmented):
    m, X, y = segmented
    assert m.segment_rule_ is not None
    assert m.segment_rule_.feature[0] == 0  # split on the variable that flips x1
    assert abs(m.segment_rule_.threshold[0]) < 0.3
    assert max(m.segment_scores_, key=m.segment_scores_.get) != "none"
    assert m.segment_scores_["none"] < max(m.segment_scores_.values()) - 0.02
    # x1 is riskier upwards in one segment, safer in the other
    dirs = {s.binner.bins_[1].direction for s in m.segments_}
    assert dirs == {"ascending", "descending"}


def test_auto_keeps_one_card_without_interaction():
    X, y = _additive()
    m = Scorecard(segment_by="auto").fit(X, y)
    s = m.segment_scores_
    assert set(s) >= {"none", "depth 1, min share 0.05"}
    # segmenting an additive model buys nothing on held-out folds
    assert s["none"] >= max(s.values()) - 0.005
    if m.segment_rule_ is None:
        assert len(m.segments_) == 1
        assert m.segment_labels() == ["all"]


def test_segments_are_chosen_on_the_training_rows_only(monkeypatch, tmp_path):
    """validate_on_arff: every tree and every card sees training rows only."""
    from sklearn.model_selection import train_test_split

    import risk_models.scorecard as sc
    from risk_models.credit import load_arff, validate_on_arff

    X, y = _interaction(3000, rng=2)
    X = np.column_stack([np.arange(len(X), dtype=np.float64), X])  # row id as a column
    path = tmp_path / "toy.arff"
    lines = ["@relation toy"] + [f"@attribute a{j} numeric" for j in range(X.shape[1])]
    lines += ["@attribute class {0,1}", "@data"]
    lines += [",".join("?" if np.isnan(v) else repr(float(v)) for v in row) + f",{t}"
              for row, t in zip(X, y, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    Xa, ya, _ = load_arff(path)
    _, Xte, _, _ = train_test_split(Xa, ya, test_size=0.3, stratify=ya, random_state=4)
    test_ids = set(Xte[:, 0].tolist())

    seen: list[set[float]] = []
    tree_fit, card_fit = DecisionTreeClassifier.fit, sc.Scorecard._fit_card

    def spy_tree(self, X, y, **kw):
        seen.append(set(np.asarray(X)[:, 0].tolist()))
        return tree_fit(self, X, y, **kw)

    def spy_card(self, X, y01, sw):
        seen.append(set(X[:, 0].tolist()))
        return card_fit(self, X, y01, sw)

    monkeypatch.setattr(DecisionTreeClassifier, "fit", spy_tree)
    monkeypatch.setattr(sc.Scorecard, "_fit_card", spy_card)
    res = validate_on_arff(path, test_size=0.3, random_state=4)
    assert len(seen) > 20  # the candidates on every fold, then the final card
    assert all(not (ids & test_ids) for ids in seen)
    assert res["n_test"] == len(test_ids)
    assert res["scorecard_segments"] >= 2


def test_segment_rule_matches_the_tree():
    X, y = _interaction(3000)
    tree = DecisionTreeClassifier(max_depth=2, min_weight_fraction_leaf=0.1,
                                  random_state=0).fit(X, y)
    rule = SegmentRule.from_tree(tree)
    leaves = np.unique(tree.apply(X))
    expect = np.searchsorted(leaves, tree.apply(X))
    np.testing.assert_array_equal(rule.apply(X), expect)
    assert rule.n_segments == len(leaves)
    labels = [rule.describe(s, ["a", "b", "c", "d"]) for s in range(rule.n_segments)]
    assert any(" and " in lab for lab in labels)
    root = "abcd"[rule.feature[0]]
    assert all(lab.startswith((f"{root} ", f"({root} ")) for lab in labels)
    assert any("or missing" in lab for lab in labels)


def test_segmented_points_add_up_to_the_score(segmented):
    m, X, _ = segmented
    seg = m.segment(X)
    total = np.zeros(len(X))
    for s, card in enumerate(m.segments_):
        rows = seg == s
        idx = card.binner.bin_indices(X[rows])
        total[rows] = card.base_points + sum(card.points[j][idx[:, j]]
                                             for j in range(X.shape[1]))
    assert_table_points_are_the_score(m, X, total)


def test_segmented_missing_values_are_their_own_bin(segmented):
    m, X, _ = segmented
    seg = m.segment(X)
    for s, card in enumerate(m.segments_):
        rows = seg == s
        idx = card.binner.bin_indices(X[rows])
        for j, fb in enumerate(card.binner.bins_):
            miss = np.isnan(X[rows, j])
            assert np.all(idx[miss, j] == fb.n_bins - 1)
            assert np.all(idx[~miss, j] < fb.n_bins - 1)
            assert fb.counts[-1] == miss.sum()
            assert fb.labels()[-1] == MISSING_LABEL


def test_segmented_reasons_are_the_points_lost_in_the_segment(segmented):
    m, X, _ = segmented
    r = m.reasons(X[:300], top=2)
    seg = m.segment(X[:300])
    for i in range(300):
        card = m.segments_[seg[i]]
        idx = card.binner.bin_indices(X[i:i + 1])[0]
        lost = np.array([card.points[j].max() - card.points[j][idx[j]]
                         for j in range(X.shape[1])])
        expected = [j for j in np.argsort(-lost, kind="stable") if lost[j] > 1e-9][:2]
        got = [j for j in r.index[i] if j >= 0]
        assert got == expected
        np.testing.assert_allclose(r.points_lost[i, : len(got)], lost[got])
    s, r2 = m.score_with_reasons(X[:300], top=2)
    np.testing.assert_array_equal(r2.index, r.index)
    np.testing.assert_array_equal(s, m.score(X[:300]))


def test_segmented_table_has_a_segment_column(segmented, tmp_path):
    m, X, _ = segmented
    rows = m.table(["a", "b", "c", "d"])
    labels = m.segment_labels(["a", "b", "c", "d"])
    assert len(labels) == len(m.segments_) >= 2
    assert [r["segment"] for r in rows[:1]] == labels[:1]
    assert {r["segment"] for r in rows} == set(labels)
    assert all(lab.startswith("a ") or lab.startswith("(a ") for lab in labels)
    seg = m.segment(X)
    for s, lab in enumerate(labels):
        n = sum(r["count"] for r in rows if r["segment"] == lab and r["feature"] == "b")
        assert n == np.count_nonzero(seg == s)
    text = m.to_csv(tmp_path / "card.csv", ["a", "b", "c", "d"])
    assert text.splitlines()[0].endswith(",points,segment")
    assert len(text.splitlines()) == len(rows) + 1
    with pytest.raises(AttributeError, match="segmented"):
        _ = m.points_


def test_segmentation_improves_held_out_auc_on_an_interaction():
    X, y = _interaction(9000, rng=1)
    tr, te = slice(0, 6000), slice(6000, None)
    one = Scorecard().fit(X[tr], y[tr])
    seg = Scorecard(segment_by="auto").fit(X[tr], y[tr])
    a1 = roc_auc_score(y[te], one.decision_function(X[te]))
    a2 = roc_auc_score(y[te], seg.decision_function(X[te]))
    assert a2 > a1 + 0.05


def test_too_few_events_keep_one_card():
    X, y = _interaction(400)
    y[:] = 0
    y[:25] = 1
    m = Scorecard(segment_by="auto").fit(X, y)
    assert m.segment_rule_ is None
    assert m.segment_scores_ == {}


def test_binner_unchanged_by_segments():
    X, y = _additive(2000)
    a = MonotoneBinner().fit(X, y)
    b = Scorecard().fit(X, y).binner_
    for fa, fb in zip(a.bins_, b.bins_, strict=True):
        np.testing.assert_array_equal(fa.edges, fb.edges)
