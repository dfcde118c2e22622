from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

import sampling.assign
import sampling.draw
import sampling.estimators
import sampling.seed
from sampling.draw import (
    exponential_keys,
    pps_inclusion_probabilities,
    pps_sample,
    stratified_sample,
    weighted_sample,
)


@pytest.mark.parametrize("module", [sampling.draw, sampling.seed, sampling.assign, sampling.estimators])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0


def test_weighted_sample_exact_seeded_output():
    out = weighted_sample(np.arange(10), np.arange(1, 11, dtype=float), 4, rng=12345)
    assert out.tolist() == weighted_sample(np.arange(10), np.arange(1, 11, dtype=float), 4, rng=12345).tolist()
    assert out.tolist() == [7, 4, 3, 9]


def test_stratified_exact_seeded_output():
    strata = np.repeat([0, 1, 2, 3], 10)
    r = stratified_sample(strata, {0: 0.1, 1: 0.2, 2: 0.3, 3: 0.5}, rng=2024)
    assert r.indices.tolist() == [9, 10, 15, 24, 26, 28, 32, 33, 34, 38, 39]
    assert r.inclusion_probability.tolist() == [0.1, 0.2, 0.2, 0.3, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5, 0.5]


def test_pps_exact_seeded_output():
    r = pps_sample([1, 2, 3, 4, 10, 1, 1], 3, rng=7)
    assert r.indices.tolist() == [1, 4, 5]
    assert r.pi_all.sum() == pytest.approx(3.0)
    assert r.pi_all[4] == 1.0  # 3·10/22 ≥ 1: capped at certainty


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: weighted_sample([1, 2], [1.0], 1), "length"),
        (lambda: weighted_sample([1, 2], [1.0, -1.0], 1), "non-negative"),
        (lambda: weighted_sample([1, 2], [1.0, np.nan], 1), "finite"),
        (lambda: weighted_sample([1, 2], [1.0, 0.0], 2), "exceeds"),
        (lambda: stratified_sample([0, 1], {0: 1.5}), r"\[0, 1\]"),
        (lambda: stratified_sample([0, 1], {0: -0.1}), r"\[0, 1\]"),
        (lambda: stratified_sample([0, 1], {0: 0.5}, forced=[True]), "shape"),
        (lambda: pps_sample([1, 1, 1], 4), "exceeds"),
        (lambda: pps_sample([1, 1, 1], 1, forced=[True, True, False]), "forced"),
        (lambda: exponential_keys([1.0, -2.0]), "non-negative"),
    ],
)
def test_bad_input_raises_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_forced_and_excluded_units():
    strata = np.zeros(100, dtype=int)
    forced = np.zeros(100, bool)
    forced[:5] = True
    excluded = np.zeros(100, bool)
    excluded[4:20] = True  # unit 4 is both: exclusion wins
    r = stratified_sample(strata, {0: 0.1}, forced=forced, excluded=excluded, rng=0)
    assert set(range(4)) <= set(r.indices.tolist())
    assert not set(range(4, 20)) & set(r.indices.tolist())
    assert r.pi_all[:4].tolist() == [1.0] * 4 and r.pi_all[4:20].sum() == 0
    assert r.forced.sum() == 4
    assert len(r) - 4 in (8, 9)  # 10 % of the 80 units left, randomly rounded


def test_stratified_inclusion_frequencies_match_probabilities():
    strata = np.repeat([0, 1, 2], [7, 13, 5])
    ratios = {0: 0.15, 1: 0.35, 2: 0.6}
    reps = 4000
    counts = np.zeros(len(strata))
    rng = np.random.default_rng(99)
    for _ in range(reps):
        counts[stratified_sample(strata, ratios, rng=rng).indices] += 1
    pi = np.array([ratios[s] for s in strata])
    chi2 = ((counts - reps * pi) ** 2 / (reps * pi * (1 - pi))).sum()
    assert stats.chi2.sf(chi2, len(strata)) > 0.001


def test_pps_inclusion_frequencies_match_probabilities():
    w = np.array([1, 2, 3, 5, 8, 13, 0.5, 0.5, 4, 30.0])
    k = 4
    pi = pps_inclusion_probabilities(w, k)
    assert pi.sum() == pytest.approx(k) and pi.max() == 1.0
    reps = 4000
    counts = np.zeros(len(w))
    rng = np.random.default_rng(5)
    for _ in range(reps):
        r = pps_sample(w, k, rng=rng)
        assert len(r) == k
        counts[r.indices] += 1
    random_units = pi < 1
    expected = reps * pi[random_units]
    chi2 = ((counts[random_units] - expected) ** 2 / (expected * (1 - pi[random_units]))).sum()
    assert stats.chi2.sf(chi2, random_units.sum()) > 0.001
    assert counts[~random_units].tolist() == [reps] * int((~random_units).sum())


def test_weighted_sample_favours_heavy_items():
    rng = np.random.default_rng(3)
    hits = np.zeros(3)
    for _ in range(3000):
        hits[weighted_sample(np.arange(3), [1.0, 1.0, 8.0], 1, rng=rng)] += 1
    assert hits[2] / hits.sum() == pytest.approx(0.8, abs=0.03)
