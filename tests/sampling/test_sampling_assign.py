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


# ---------------------------------------------------------------- joint inspections (联合抽查)
def _joint(n_tasks, sizes, required):
    """One class; inspectors of department d are ``sizes[d]`` consecutive positions."""
    departments = np.repeat(np.arange(len(sizes)), sizes)
    groups = np.zeros(n_tasks, dtype=int)
    elig = np.ones((1, len(departments)), dtype=bool)
    return groups, elig, departments, np.array([required], dtype=bool)


def test_joint_task_gets_one_inspector_of_each_department_with_level_loads():
    groups, elig, depts, req = _joint(120, [6, 3], [True, True])
    a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, rng=5)
    assert not a.infeasible
    assert all(sorted(depts[row].tolist()) == [0, 1] for row in a.inspectors)
    assert a.load[depts == 0].tolist() == [20] * 6  # 120 tasks over 6 food inspectors
    assert a.load[depts == 1].tolist() == [40] * 3  # and over 3 price inspectors


def test_more_departments_than_per_task_widens_the_crew():
    groups, elig, depts, req = _joint(10, [2, 2, 2], [True, True, True])
    a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, rng=1)
    assert a.inspectors.shape == (10, 3)
    assert all(sorted(depts[row].tolist()) == [0, 1, 2] for row in a.inspectors)


def test_free_slots_go_to_the_least_loaded_qualified_inspectors_across_departments():
    # per_task 3, two departments required, a third department qualified but not required:
    # the required slots fix 20 tasks each on departments 0 and 1, the third slot levels
    # the others (department 2 takes them all, 10 each).
    groups, elig, depts, req = _joint(40, [2, 2, 4], [True, True, False])
    a = assign_inspectors(groups, elig, per_task=3, departments=depts, required=req, rng=2)
    assert not a.infeasible
    assert a.load.tolist() == [20, 20, 20, 20, 10, 10, 10, 10]
    assert all(len(set(row)) == 3 and {0, 1} <= set(depts[row].tolist()) for row in a.inspectors.tolist())


def test_joint_assignment_is_reproducible_exactly():
    groups, elig, depts, req = _joint(6, [3, 2], [True, True])
    a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, rng=42)
    b = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, rng=42)
    assert a.inspectors.tolist() == b.inspectors.tolist()
    assert a.inspectors.tolist() == EXPECTED_JOINT


def test_department_without_qualified_staff_is_reported():
    groups, elig, depts, req = _joint(3, [3, 2], [True, True])
    elig[0, depts == 1] = False  # the price division has nobody qualified for these items
    a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, rng=0)
    assert sorted(a.infeasible) == [(0, "department_unstaffed"), (1, "department_unstaffed"),
                                    (2, "department_unstaffed")]
    assert (a.inspectors == -1).all()


def test_cap_of_a_small_department_limits_joint_tasks():
    groups, elig, depts, req = _joint(20, [6, 2], [True, True])
    a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, workload=[0] * 6 + [4, 5],
                          cap=6, rng=0)
    filled = (a.inspectors >= 0).all(axis=1)
    assert filled.sum() == 3  # the price division has 2 + 1 free slots left
    assert sorted(r for _, r in a.infeasible) == ["workload_cap"] * 17
    assert a.load.max() <= 6


def test_recusal_keeps_each_department_on_the_task():
    groups, elig, depts, req = _joint(30, [4, 2], [True, True])
    recusal = np.array([[t, 4] for t in range(0, 30, 3)])  # price inspector 4 recused on every third task
    a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, recusal=recusal, rng=3)
    assert not a.infeasible
    for t, row in enumerate(a.inspectors.tolist()):
        assert sorted(depts[row].tolist()) == [0, 1]
        assert not (t % 3 == 0 and 4 in row)


def test_each_qualified_inspector_of_a_department_is_equally_likely():
    """Over many seeds, a joint task's food inspector is uniform over the food division."""
    from scipy.stats import chisquare

    groups, elig, depts, req = _joint(1, [4, 3], [True, True])
    counts = np.zeros(7, dtype=int)
    for seed in range(4000):
        a = assign_inspectors(groups, elig, per_task=2, departments=depts, required=req, rng=seed)
        counts[a.inspectors[0]] += 1
    assert counts[:4].sum() == counts[4:].sum() == 4000
    assert chisquare(counts[:4]).pvalue > 1e-3
    assert chisquare(counts[4:]).pvalue > 1e-3


def test_department_arguments_are_checked():
    with pytest.raises(ValueError, match="together"):
        assign_inspectors([0], [[True, True]], departments=[0, 1])
    with pytest.raises(ValueError, match="outside required"):
        assign_inspectors([0], [[True, True]], departments=[0, 2], required=[[True, True]])


EXPECTED_JOINT = [[2, 4], [2, 4], [0, 3], [0, 3], [1, 4], [1, 3]]
