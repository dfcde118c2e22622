"""Drawing inspectors for tasks (the second "random" of 双随机), with recusal and caps.

For each task, ``per_task`` distinct inspectors are drawn at random among those
qualified for the task's eligibility class (department × domain), excluding recused
pairs, never exceeding a workload cap, and balancing load: within a class the final
loads differ by at most one wherever the cap allows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["REASONS", "Assignment", "assign_inspectors", "balanced_extra"]

#: Reason codes of unfilled tasks, with their Chinese explanation.
REASONS: dict[str, str] = {
    "not_enough_qualified": "具备该事项执法资格的人员不足",
    "all_recused": "符合条件的执法人员均需回避",
    "workload_cap": "执法人员工作量已达上限",
    "department_unstaffed": "参与检查的部门没有具备该事项执法资格的人员",
}


@dataclass
class Assignment:
    """Inspectors drawn per task.

    Attributes
    ----------
    inspectors : ndarray of int64, shape (n_tasks, per_task)
        Inspector positions; ``-1`` where a task could not be filled.
    infeasible : list of (int, str)
        ``(task index, reason code)`` for every task left (partly) unfilled.
    load : ndarray of int64
        Final workload of every inspector (existing + assigned).
    """

    inspectors: NDArray[np.int64]
    infeasible: list[tuple[int, str]] = field(default_factory=list)
    load: NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def messages(self) -> list[str]:
        """Chinese explanations of the infeasible tasks."""
        return [f"任务 {t}: {REASONS[r]}" for t, r in self.infeasible]


def balanced_extra(load: NDArray[np.int64], room: NDArray[np.int64], slots: int,
                   rng: np.random.Generator) -> NDArray[np.int64]:
    """How many of ``slots`` each inspector takes so final loads are as level as possible.

    Water-filling: find the highest level ``T`` with ``Σ clip(T - load, 0, room) ≤ slots``,
    then hand the remaining slots one each to randomly chosen inspectors still below
    their room at level ``T``.
    """
    if slots <= 0 or len(load) == 0:
        return np.zeros(len(load), dtype=np.int64)
    lo, hi = int(load.min()), int(load.max() + slots + 1)

    def filled(level: int) -> int:
        return int(np.clip(level - load, 0, room).sum())

    while lo < hi:  # largest level whose fill does not exceed slots
        mid = (lo + hi + 1) // 2
        if filled(mid) <= slots:
            lo = mid
        else:
            hi = mid - 1
    extra = np.clip(lo - load, 0, room).astype(np.int64)
    left = slots - int(extra.sum())
    if left > 0:
        can = np.flatnonzero(extra < room)
        pick = rng.choice(can, size=min(left, len(can)), replace=False)
        extra[pick] += 1
    return extra


def assign_inspectors(
    task_groups: ArrayLike,
    eligibility: ArrayLike,
    *,
    per_task: int = 2,
    workload: ArrayLike | None = None,
    cap: int | None = None,
    recusal: ArrayLike | None = None,
    departments: ArrayLike | None = None,
    required: ArrayLike | None = None,
    rng: Any = None,
) -> Assignment:
    """Draw ``per_task`` distinct qualified, non-recused inspectors for each task.

    Parameters
    ----------
    task_groups : array_like of int, shape (n_tasks,)
        Eligibility class of each task (a row of ``eligibility``).
    eligibility : array_like of bool, shape (n_classes, n_inspectors)
        ``eligibility[c, i]``: inspector ``i`` is qualified for class ``c``.
    per_task : int, default 2
        Inspectors per task; at least 2 (two law-enforcement officers per inspection).
        A joint task needing more departments than ``per_task`` gets one inspector of
        each of them.
    workload : array_like of int, shape (n_inspectors,), optional
        Tasks each inspector already has.
    cap : int, optional
        Maximum total tasks per inspector.
    recusal : array_like of int, shape (m, 2), optional
        Forbidden ``(task index, inspector index)`` pairs (conflicts of interest, the
        entity's previous inspectors).
    departments : array_like of int, shape (n_inspectors,), optional
        Department index of each inspector (needed with ``required``).
    required : array_like of bool, shape (n_classes, n_departments), optional
        ``required[c, d]``: every task of class ``c`` needs at least one inspector of
        department ``d`` (a joint inspection: each department takes part in the visit).
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    Assignment
        ``inspectors`` has ``max(per_task, departments required by a class)`` columns.

    Raises
    ------
    ValueError
        If ``per_task`` < 2, shapes disagree or a class index is out of range.

    Notes
    -----
    Per class, tasks are shuffled and each inspector's number of new tasks is set by
    water-filling (:func:`balanced_extra`): first one slot per task for each required
    department among that department's qualified inspectors, then the remaining slots
    among all qualified inspectors, so loads are levelled within each department and,
    as far as the required slots allow, across departments. The multiset of slots is
    laid out column-major over the tasks with inspectors grouped by department (random
    department order, random order within a department): an inspector's slots are
    consecutive and number at most one per task, so no inspector appears twice on a
    task, and a department's run of at least ``n_tasks`` consecutive slots covers every
    task once. Recused pairs are then repaired by swapping slots with another task of
    the class, or by drawing a spare qualified inspector, keeping every required
    department on the task.

    Examples
    --------
    >>> a = assign_inspectors([0, 0, 0], [[True, True, True, True]], per_task=2, rng=0)
    >>> a.inspectors.shape, sorted(a.load.tolist())
    ((3, 2), [1, 1, 2, 2])

    A joint task of two departments gets one inspector of each:

    >>> a = assign_inspectors([0, 0], [[True, True, True, True]], departments=[0, 0, 1, 1],
    ...                       required=[[True, True]], rng=0)
    >>> [sorted(r) for r in (a.inspectors // 2).tolist()]
    [[0, 1], [0, 1]]
    """
    rng = np.random.default_rng(rng)
    if per_task < 2:
        raise ValueError("per_task must be at least 2 (two inspectors per task, by law)")
    groups = np.asarray(task_groups, dtype=np.int64)
    elig = np.asarray(eligibility, dtype=bool)
    if elig.ndim != 2:
        raise ValueError("eligibility must be a (n_classes, n_inspectors) matrix")
    n_classes, n_ins = elig.shape
    if len(groups) and (groups.min() < 0 or groups.max() >= n_classes):
        raise ValueError("task_groups refers to a class outside eligibility")
    load = np.zeros(n_ins, dtype=np.int64) if workload is None else np.asarray(workload, dtype=np.int64).copy()
    if load.shape != (n_ins,):
        raise ValueError(f"workload must have shape ({n_ins},)")
    if (required is None) != (departments is None):
        raise ValueError("departments and required go together")
    dept = np.zeros(n_ins, dtype=np.int64) if departments is None else np.asarray(departments, dtype=np.int64)
    need = np.zeros((n_classes, 0), dtype=bool) if required is None else np.asarray(required, dtype=bool)
    if dept.shape != (n_ins,):
        raise ValueError(f"departments must have shape ({n_ins},)")
    if need.ndim != 2 or need.shape[0] != n_classes:
        raise ValueError(f"required must be a ({n_classes}, n_departments) matrix")
    if n_ins and need.shape[1] and (dept.min() < 0 or dept.max() >= need.shape[1]):
        raise ValueError("departments refers to a department outside required")
    limit = np.full(n_ins, np.iinfo(np.int64).max // 4) if cap is None else np.full(n_ins, int(cap))
    rec = np.zeros((0, 2), dtype=np.int64) if recusal is None else np.asarray(recusal, dtype=np.int64).reshape(-1, 2)
    forbidden = {(int(t), int(i)) for t, i in rec}
    present = np.unique(groups)
    width = max([per_task] + [int(need[c].sum()) for c in present])
    out = np.full((len(groups), width), -1, dtype=np.int64)
    infeasible: list[tuple[int, str]] = []

    for c in present:
        tasks = rng.permutation(np.flatnonzero(groups == c))
        qualified = np.flatnonzero(elig[c])
        wanted = np.flatnonzero(need[c])  # departments every task of the class needs
        k = max(per_task, len(wanted))
        members = [qualified[dept[qualified] == d] for d in wanted]
        if len(qualified) < k or any(len(m) == 0 for m in members):
            code = "department_unstaffed" if any(len(m) == 0 for m in members) else "not_enough_qualified"
            infeasible += [(int(t), code) for t in tasks]
            continue
        room = np.clip(limit[qualified] - load[qualified], 0, None)
        # Only as many tasks as the cap allows can be filled (each needs k distinct people,
        # one of each required department).
        fillable = _max_tasks(room, k, len(tasks))
        for m in members:
            fillable = min(fillable, _max_tasks(np.clip(limit[m] - load[m], 0, None), 1, len(tasks)))
        if fillable < len(tasks):
            infeasible += [(int(t), "workload_cap") for t in tasks[fillable:]]
            tasks = tasks[:fillable]
        if len(tasks) == 0:
            continue
        n = len(tasks)
        room = np.minimum(room, n)
        if len(wanted):
            extra = np.zeros(len(qualified), dtype=np.int64)
            pos = np.searchsorted(qualified, np.concatenate(members))
            start = 0
            for m in members:  # one slot per task for each required department, levelled within it
                at = pos[start:start + len(m)]
                extra[at] = balanced_extra(load[m], room[at], n, rng)
                start += len(m)
            extra += balanced_extra(load[qualified] + extra, room - extra, (k - len(wanted)) * n, rng)
            # grouped by department so that each department's slots are consecutive
            order = np.concatenate([
                rng.permutation(np.flatnonzero(dept[qualified] == d)) for d in rng.permutation(np.unique(dept[qualified]))])
        else:
            extra = balanced_extra(load[qualified], room, k * n, rng)
            order = rng.permutation(len(qualified))
        slots = np.repeat(qualified[order], extra[order])
        grid = slots.reshape(k, n).T  # column-major: no one twice on a task
        out[tasks, :k] = grid
        load[qualified] += extra
        cover = (dept, wanted)
        for t in tasks:
            for j in range(k):
                ins = int(out[t, j])
                if (int(t), ins) in forbidden and not _repair(out, tasks, int(t), j, forbidden, qualified, load,
                                                               limit, rng, cover):
                    out[t, j] = -1
                    load[ins] -= 1
                    infeasible.append((int(t), "all_recused"))
    return Assignment(out, infeasible, load)


def _max_tasks(room: NDArray[np.int64], per_task: int, wanted: int) -> int:
    """Most of ``wanted`` tasks fillable with ``per_task`` distinct people each: ``n`` tasks
    need ``Σ min(room, n) ≥ per_task · n`` (nobody takes two slots of one task).
    """
    lo, hi = 0, wanted
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if int(np.minimum(room, mid).sum()) >= per_task * mid:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _covers(row: NDArray[np.int64], cover: tuple[NDArray[np.int64], NDArray[np.int64]]) -> bool:
    """Whether a task's inspectors include one of every required department."""
    dept, wanted = cover
    on = row[row >= 0]
    return bool(np.isin(wanted, dept[on]).all())


def _repair(out: NDArray[np.int64], tasks: NDArray[np.int64], t: int, j: int, forbidden: set[tuple[int, int]],
            qualified: NDArray[np.int64], load: NDArray[np.int64], limit: NDArray[np.int64],
            rng: np.random.Generator, cover: tuple[NDArray[np.int64], NDArray[np.int64]]) -> bool:
    """Fix a recused slot by a swap within the class, else by a spare inspector, keeping
    every required department on both tasks.
    """
    bad = int(out[t, j])
    for other in rng.permutation(tasks):
        other = int(other)
        if other == t:
            continue
        for k in range(out.shape[1]):
            cand = int(out[other, k])
            if cand < 0 or cand in out[t] or bad in out[other]:
                continue
            if (t, cand) in forbidden or (other, bad) in forbidden:
                continue
            out[t, j], out[other, k] = cand, bad
            if _covers(out[t], cover) and _covers(out[other], cover):
                return True
            out[t, j], out[other, k] = bad, cand
    spares = [int(i) for i in qualified if i not in out[t] and (t, int(i)) not in forbidden and load[i] < limit[i]]
    for pick in sorted(spares, key=lambda i: (load[i], rng.random())):
        out[t, j] = pick
        if _covers(out[t], cover):
            load[pick] += 1
            load[bad] -= 1
            return True
    out[t, j] = bad
    return False
