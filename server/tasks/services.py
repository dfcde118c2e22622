"""Inspection tasks as the handheld and the console see them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, func, select, update
from sqlalchemy.orm import Session

from server.auth.models import User
from server.db import utcnow
from server.entities.models import Entity
from server.errors import Forbidden, NotFound
from server.reference.models import CheckItem, LegalReference
from server.rounds.models import SamplingRound
from server.tasks.models import Inspector, Task, TaskAssignment
from server.warnings.models import Warning


def _inspector_id(user: User) -> int | None:
    return user.inspector_id


def get_task(session: Session, user: User, task_id: int) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound(f"任务不存在 (no task {task_id})")
    if user.has_role("admin", "analyst"):
        return task
    if user.has_role("supervisor") and (not user.department_code or user.department_code == task.department_code):
        return task
    if user.inspector_id and any(a.inspector_id == user.inspector_id for a in task.assignments):
        return task
    raise Forbidden(f"任务 {task_id} 未分配给您 (task not assigned to you)")


def unread_task_count(session: Session, user: User) -> int:
    if not user.inspector_id:
        return 0
    return session.scalar(
        select(func.count())
        .select_from(TaskAssignment)
        .join(Task, Task.id == TaskAssignment.task_id)
        .where(
            TaskAssignment.inspector_id == user.inspector_id,
            TaskAssignment.seen_at.is_(None),
            Task.state.in_(("assigned", "in_progress")),
        )
    ) or 0


_TASK_COLUMNS = (
    Task.id, Task.state, Task.due_on, Task.channel, Task.department_code, Task.round_id, Task.warning_id,
    Task.form_code, Task.domains, Task.check_items, Task.problem_found, Task.created_at, Task.updated_at,
    Entity.uscc, Entity.name.label("entity_name"), Entity.address, Entity.region_code, Entity.credit_grade,
    Entity.credit_score, Entity.business_type,
)
# Built once: the handheld polls the task list, and building a statement costs more than
# running it. Executed on the session's connection (Core rows, no ORM result machinery).
_TASKS = select(*_TASK_COLUMNS).join(Entity, Entity.id == Task.entity_id)
_INSPECTOR_TASKS = _TASKS.where(Task.id.in_(
    select(TaskAssignment.task_id).where(TaskAssignment.inspector_id == bindparam("inspector_id"))))
_ORDER = (Task.due_on, Task.id)
_LIMIT = bindparam("limit", type_=Integer)
_INSPECTOR_TASKS_PAGE = _INSPECTOR_TASKS.order_by(*_ORDER).limit(_LIMIT)
_INSPECTORS_OF_TASKS = (
    select(TaskAssignment.task_id, TaskAssignment.inspector_id, TaskAssignment.seen_at, Inspector.name)
    .join(Inspector, Inspector.id == TaskAssignment.inspector_id)
    .where(TaskAssignment.task_id.in_(bindparam("ids", expanding=True))).order_by(TaskAssignment.id)
)
_ROUND_NAMES = select(SamplingRound.id, SamplingRound.name).where(
    SamplingRound.id.in_(bindparam("ids", expanding=True)))
_CHECK_ITEMS = (
    select(CheckItem.code, CheckItem.item, CheckItem.domain, CheckItem.category, CheckItem.legal_basis,
           CheckItem.basis_quote, LegalReference.law_id, LegalReference.article)
    .outerjoin(LegalReference, LegalReference.id == CheckItem.legal_reference_id)
    .where(CheckItem.code.in_(bindparam("codes", expanding=True)))
)


def own_list_only(user: User) -> bool:
    """The user sees only the tasks assigned to them (an inspector, not also an office role)."""
    return user.inspector_id is not None and not user.has_role("supervisor", "admin", "analyst")


def list_task_rows(
    session: Session, user: User, *, state: str | None = None, since: dt.datetime | None = None,
    limit: int = 500,
) -> list[Any]:
    """The tasks ``user`` may see, as plain rows (one query, no ORM objects: the handheld polls this)."""
    params: dict[str, Any] = {"limit": limit}
    if user.has_role("supervisor", "admin", "analyst"):
        q = _TASKS
        if user.department_code and not user.has_role("admin", "analyst"):
            q = q.where(Task.department_code == user.department_code)
    elif user.inspector_id is None:
        return []
    else:
        q, params["inspector_id"] = _INSPECTOR_TASKS, user.inspector_id
    if state:
        q = q.where(Task.state.in_(state.split(",")))
    if since:
        q = q.where(Task.updated_at > since)
    # the handheld's usual poll (no filter) runs the statement built once
    page = _INSPECTOR_TASKS_PAGE if q is _INSPECTOR_TASKS else q.order_by(*_ORDER).limit(_LIMIT)
    return list(session.connection().execute(page, params))


def task_dicts(session: Session, tasks: Sequence[Task]) -> list[dict[str, Any]]:
    """Serialise ORM tasks (same shape as :func:`task_row_dicts`)."""
    if not tasks:
        return []
    rows = session.execute(select(*_TASK_COLUMNS).join(Entity, Entity.id == Task.entity_id)
                           .where(Task.id.in_([t.id for t in tasks]))).all()
    order = {t.id: i for i, t in enumerate(tasks)}
    return task_row_dicts(session, sorted(rows, key=lambda r: order[r.id]))[0]


def task_row_dicts(session: Session, rows: Sequence[Any], *, inspector_id: int | None = None
                   ) -> tuple[list[dict[str, Any]], list[int]]:
    """Serialise task rows with their round, warning, check items and inspectors (batched look-ups).

    Returns the dicts and the ids of the tasks ``inspector_id`` has not seen yet.
    """
    from server.entities.profile import warning_summary

    if not rows:
        return [], []
    ids = [r.id for r in rows]
    round_ids = {r.round_id for r in rows if r.round_id}
    warning_ids = {r.warning_id for r in rows if r.warning_id}
    codes = {c for r in rows for c in (r.check_items or [])}
    conn = session.connection()
    rounds = dict(conn.execute(_ROUND_NAMES, {"ids": list(round_ids)}).all()) if round_ids else {}
    warnings = {w.id: w for w in session.scalars(select(Warning).where(Warning.id.in_(warning_ids)))} if warning_ids else {}
    items = {
        c.code: {
            "code": c.code, "question_id": f"ci_{c.code}", "item": c.item, "domain": c.domain,
            "category": c.category, "legal_basis": c.legal_basis, "basis_quote": c.basis_quote,
            "law": c.law_id, "article": c.article,
        }
        for c in conn.execute(_CHECK_ITEMS, {"codes": list(codes)})
    } if codes else {}
    people: dict[int, list[dict[str, Any]]] = {}
    unseen: list[int] = []
    for task_id, ins_id, seen_at, name in conn.execute(_INSPECTORS_OF_TASKS, {"ids": ids}):
        people.setdefault(task_id, []).append({"id": ins_id, "name": name})
        if inspector_id is not None and ins_id == inspector_id and seen_at is None:
            unseen.append(task_id)
    out = []
    for t in rows:
        w = warnings.get(t.warning_id) if t.warning_id else None
        out.append({
            "id": t.id,
            "state": t.state,
            "due_on": t.due_on.isoformat(),
            "channel": t.channel,
            "department_code": t.department_code,
            "round": {"id": t.round_id, "name": rounds[t.round_id]} if t.round_id in rounds else None,
            "warning": warning_summary(w) if w else None,
            "entity": {
                "uscc": t.uscc,
                "name": t.entity_name,
                "address": t.address,
                "region_code": t.region_code,
                "credit_grade": t.credit_grade,
                "credit_score": t.credit_score,
                "business_type": t.business_type,
            },
            "form_code": t.form_code,
            "domains": t.domains,
            "check_items": [dict(items[code]) for code in (t.check_items or []) if code in items],
            "inspectors": people.get(t.id, []),
            "problem_found": t.problem_found,
            "created_at": t.created_at.isoformat(),
            "updated_at": t.updated_at.isoformat(),
        })
    return out, unseen


def mark_seen_ids(session: Session, user: User, task_ids: Sequence[int]) -> None:
    """Record that the inspector has received these tasks (one UPDATE, only when something is new)."""
    if not user.inspector_id or not task_ids:
        return
    session.execute(update(TaskAssignment).where(TaskAssignment.inspector_id == user.inspector_id,
                                                 TaskAssignment.task_id.in_(list(task_ids)),
                                                 TaskAssignment.seen_at.is_(None))
                    .values(seen_at=utcnow()).execution_options(synchronize_session=False))
    session.commit()


def inspector_workload(session: Session, department_code: str | None = None) -> list[dict[str, Any]]:
    q = (
        select(Inspector, func.count(Task.id))
        .outerjoin(TaskAssignment, TaskAssignment.inspector_id == Inspector.id)
        .outerjoin(Task, (Task.id == TaskAssignment.task_id) & Task.state.in_(("assigned", "in_progress")))
        .group_by(Inspector.id)
        .order_by(Inspector.department_code, Inspector.name)
    )
    if department_code:
        q = q.where(Inspector.department_code == department_code)
    return [
        {"id": i.id, "name": i.name, "department_code": i.department_code, "domains": i.domains, "open_tasks": n}
        for i, n in session.execute(q).all()
    ]
