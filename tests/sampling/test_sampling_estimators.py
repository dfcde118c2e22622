from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sampling.draw import pps_sample, stratified_sample
from sampling.estimators import (
    horvitz_thompson,
    two_proportion_test,
    wilson_interval,
    wilson_intervals,
)


def test_wilson_matches_scipy_and_vectorised_form():
    k = np.array([0, 3, 33, 100, 7])
    n = np.array([10, 40, 100, 100, 0])
    lo, hi = wilson_intervals(k, n)
    for i in range(4):
        ci = stats.binomtest(int(k[i]), int(n[i])).proportion_ci(method="wilson")
        assert (lo[i], hi[i]) == pytest.approx((ci.low, ci.high), abs=1e-9)
        assert wilson_interval(int(k[i]), int(n[i])) == pytest.approx((ci.low, ci.high))
    assert (lo[4], hi[4]) == (0.0, 1.0)


def test_two_proportion_test():
    z, p = two_proportion_test(520, 1560, 94, 1000)
    assert z > 10 and p < 1e-20
    assert two_proportion_test(10, 100, 10, 100) == pytest.approx((0.0, 1.0))


def _population(seed=0, N=3000):
    rng = np.random.default_rng(seed)
    grade = rng.integers(0, 4, N)
    y = (rng.random(N) < np.array([0.03, 0.07, 0.15, 0.35])[grade]).astype(float)
    return grade, y


def test_ht_unbiased_and_covers_under_stratified_design():
    grade, y = _population()
    ratios = {0: 0.02, 1: 0.04, 2: 0.08, 3: 0.2}
    sizes = {g: float((grade == g).sum()) for g in range(4)}
    rng = np.random.default_rng(1)
    estimates, covered = [], 0
    for _ in range(2000):
        r = stratified_sample(grade, ratios, rng=rng)
        est = horvitz_thompson(y[r.indices], r.inclusion_probability, N=len(y), strata=r.stratum,
                               stratum_sizes=sizes)
        estimates.append(est.mean)
        covered += est.ci95[0] <= y.mean() <= est.ci95[1]
    se = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - y.mean()) < 4 * se
    assert 0.92 <= covered / 2000 <= 0.975


def test_ht_unbiased_under_pps_design():
    grade, y = _population(2)
    weight = np.array([0.4, 1.0, 2.0, 4.0])[grade]
    rng = np.random.default_rng(4)
    estimates = []
    for _ in range(2000):
        r = pps_sample(weight, 150, rng=rng)
        estimates.append(horvitz_thompson(y[r.indices], r.inclusion_probability, N=len(y)).mean)
    se = np.std(estimates) / np.sqrt(len(estimates))
    assert abs(np.mean(estimates) - y.mean()) < 4 * se


def test_naive_mean_of_weighted_draw_is_biased_but_ht_is_not():
    grade, y = _population(3)
    r = stratified_sample(grade, {0: 0.05, 1: 0.05, 2: 0.3, 3: 0.6}, rng=0)
    naive = y[r.indices].mean()
    est = horvitz_thompson(y[r.indices], r.inclusion_probability, N=len(y), strata=r.stratum)
    assert naive > y.mean() + 0.03
    assert abs(est.mean - y.mean()) < 3 * est.se


def test_bad_probabilities_are_refused():
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        horvitz_thompson([1, 0], [0.5, 0.0])
    with pytest.raises(ValueError, match="same length"):
        horvitz_thompson([1, 0], [0.5])
