"""Warning thresholds: volume caps on the population, precision targets, floors, ties."""

from __future__ import annotations

import numpy as np
import pytest

from risk_models.base import NEVER, choose_thresholds, volume_threshold
from risk_models.models import make_model_matrix
from risk_models.registry import get_model


def test_volume_threshold_never_splits_ties():
    scores = np.array([0.9, 0.8, 0.8, 0.8, 0.1, 0.1])
    assert (scores >= volume_threshold(scores, 0.2)).sum() == 1  # one row allowed: the 0.9
    assert (scores >= volume_threshold(scores, 0.1)).sum() == 0
    t = volume_threshold(scores, 0.5)  # 3 rows allowed, but 0.8 is a block of 3 after 0.9
    assert (scores >= t).sum() == 1
    assert (scores >= volume_threshold(scores, 4 / 6)).sum() == 4
    assert volume_threshold(scores, 1.0) == -np.inf
    assert volume_threshold(np.array([]), 0.1) == NEVER


def test_cold_start_thresholds_are_volume_quantiles():
    scores = np.linspace(0.0, 1.0, 10001)
    yellow, orange, red = choose_thresholds(scores, volume=(0.03, 0.01, 0.003))
    assert (scores >= yellow).mean() == pytest.approx(0.03, abs=2e-4)
    assert (scores >= orange).mean() == pytest.approx(0.01, abs=2e-4)
    assert (scores >= red).mean() == pytest.approx(0.003, abs=2e-4)


def test_precision_target_with_population_volume_cap():
    rng = np.random.default_rng(0)
    s_lab = rng.random(2000)
    y = (rng.random(2000) < s_lab**3).astype(float)  # precision rises with the score
    population = rng.random(100000) * 0.9  # the population scores lower
    thr = choose_thresholds(s_lab, y, population_scores=population,
                            target_precision=(0.4, 0.6, 0.8), volume=(0.5, 0.5, 0.5))
    for level, target in enumerate((0.4, 0.6, 0.8)):
        flagged = s_lab >= thr[level]
        assert y[flagged].mean() >= target
        lower = s_lab >= thr[level] - 0.05
        assert y[lower].mean() < target + 0.05  # the lowest such threshold, roughly
    # a tight volume cap on the population wins over the precision threshold
    capped = choose_thresholds(s_lab, y, population_scores=population,
                               target_precision=(0.4, 0.6, 0.8), volume=(0.01, 0.005, 0.001))
    assert (population >= capped[0]).mean() <= 0.01
    assert capped[0] > thr[0]


def test_unreachable_precision_issues_nothing():
    rng = np.random.default_rng(1)
    s = rng.random(500)
    y = (rng.random(500) < 0.05).astype(float)  # no signal, 5 % positives
    yellow, orange, red = choose_thresholds(s, y, target_precision=(0.5, 0.6, 0.7),
                                            volume=(1.0, 1.0, 1.0))
    assert red == NEVER and orange == NEVER
    assert (s >= yellow).sum() < 20


def test_floors_and_monotone():
    s = np.linspace(0, 0.2, 1000)
    yellow, orange, red = choose_thresholds(s, volume=(0.5, 0.4, 0.3), min_score=(0.15, 0.3, 0.5))
    assert yellow >= 0.15 and orange == pytest.approx(0.3) and red == pytest.approx(0.5)
    assert yellow <= orange <= red


def test_model_volume_bounds_the_population(province):
    cols, _ = province
    model = get_model("abnormal_operation", volume=(0.02, 0.01, 0.002), min_score=(0, 0, 0))
    X = make_model_matrix(model, cols)
    model.fit(X)
    levels = model.warning_levels(model.score_samples(X))
    assert 0 < (levels >= 1).mean() <= 0.02
    assert (levels >= 2).mean() <= 0.01 and (levels == 3).mean() <= 0.002


def test_population_passed_separately_sets_the_caps(province):
    """Fit on inspected rows only; the volume cap comes from population."""
    cols, _ = province
    model = get_model("unlicensed_operation", volume=(0.01, 0.005, 0.001), min_score=(0, 0, 0))
    X = make_model_matrix(model, cols)
    risky = np.flatnonzero(model.applicable(X))[:200]  # a biased "inspected" sample
    y = np.zeros(len(risky))
    y[::5] = 1
    model.fit(X[risky], y, population=X)
    s = model.score_samples(X)[model.applicable(X)]
    assert (model.warning_levels(s) >= 1).mean() <= 0.01


def test_calibrate_thresholds_refits_only_thresholds(province):
    cols, _ = province
    model = get_model("metrology")
    X = make_model_matrix(model, cols)
    model.fit(X)
    before = model.score_samples(X)
    app = model.applicable(X)
    new = model.calibrate_thresholds(before[app])
    assert new == model.thresholds_
    np.testing.assert_array_equal(model.score_samples(X), before)


def test_bad_parameters_are_refused(province):
    cols, _ = province
    X = make_model_matrix(get_model("metrology"), cols)
    with pytest.raises(ValueError, match="volume"):
        get_model("metrology", volume=(0.1, 0.2)).fit(X)
    with pytest.raises(ValueError, match="num_leaves"):
        get_model("metrology", num_leaves=1).fit(X)
    with pytest.raises(TypeError, match="min_labels"):
        get_model("metrology", min_labels=2.5).fit(X)
    with pytest.raises(ValueError, match="test must be"):
        get_model("complaint_surge", test="binomial").fit(
            make_model_matrix(get_model("complaint_surge"), cols))
