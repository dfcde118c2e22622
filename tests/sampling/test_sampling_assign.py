from __future__ import annotations

import numpy as np
import pytest

from sampling.assign import assign_inspectors


def _setup(n_tasks=60, n_ins=10):
    groups = np.zeros(n_tasks, dtype=int)
    elig = np.ones((1, n_ins), dtype=bool)
    return groups, elig


def test_distinct_inspectors_and_balanced_load():
    groups, elig = _setup()
    a = assign_inspectors(groups, elig, per_task=2, rng=1)
    assert (a.inspectors >= 0).all()
    assert all(len(set(row)) == 2 for row in a.inspectors.tolist())
    assert a.load.max() - a.load.min() <= 1
    assert a.load.sum() == 120


def test_seeded_assignment_is_reproducible():
    groups, elig = _setup(8, 5)
    a = assign_inspectors(groups, elig, per_task=2, rng=42)
    b = assign_inspectors(groups, elig, per_task=2, rng=42)
    assert a.inspectors.tolist() == b.inspectors.tolist()
    assert a.inspectors.tolist() == [[0, 3], [4, 3], [2, 1], [2, 0], [2, 1], [0, 3], [4, 3], [4, 1]]


def test_qualification_by_class():
    groups = np.array([0, 1, 0, 1])
    elig = np.array([[True, True, False, False], [False, False, True, True]])
    a = assign_inspectors(groups, elig, per_task=2, rng=0)
    for t, g in enumerate(groups):
        assert set(a.inspectors[t]) == ({0, 1} if g == 0 else {2, 3})


def test_recusal_is_respected():
    groups, elig = _setup(30, 4)
    recusal = np.array([[t, 0] for t in range(0, 30, 2)])
    a = assign_inspectors(groups, elig, per_task=2, recusal=recusal, rng=3)
    assert not any(0 in a.inspectors[t] for t in range(0, 30, 2))
    assert not a.infeasible


def test_all_recused_is_reported():
    groups, elig = _setup(1, 2)
    a = assign_inspectors(groups, elig, per_task=2, recusal=[[0, 1]], rng=0)
    assert a.infeasible == [(0, "all_recused")]
    assert -1 in a.inspectors[0]


def test_workload_cap_is_respected_and_overflow_reported():
    groups, elig = _setup(20, 4)
    a = assign_inspectors(groups, elig, per_task=2, workload=[3, 0, 0, 0], cap=5, rng=0)
    assert a.load.max() <= 5
    filled = int((a.inspectors >= 0).all(axis=1).sum())
    assert filled == 8  # room 2+5+5+5 = 17 slots → 8 tasks
    assert sorted(r for _, r in a.infeasible) == ["workload_cap"] * 12


def test_not_enough_qualified_and_bad_arguments():
    a = assign_inspectors([0], [[True, False, False]], per_task=2, rng=0)
    assert a.infeasible == [(0, "not_enough_qualified")]
    with pytest.raises(ValueError, match="at least 2"):
        assign_inspectors([0], [[True, True]], per_task=1)
    with pytest.raises(ValueError, match="outside"):
        assign_inspectors([3], [[True, True]], per_task=2)
