"""Inspection tasks as the handheld and the console see them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from server.auth.models import User
from server.db import utcnow
from server.errors import Forbidden, NotFound
from server.reference.models import CheckItem
from server.rounds.models import SamplingRound
from server.tasks.models import Inspector, Task, TaskAssignment
from server.warnings.models import Warning


def _inspector_id(user: User) -> int | None:
    return user.inspector_id


def visible_tasks_query(user: User) -> Any:
    q = select(Task).options(
        selectinload(Task.entity), selectinload(Task.assignments).selectinload(TaskAssignment.inspector)
    )
    if user.has_role("supervisor", "admin", "analyst"):
        if user.department_code and not user.has_role("admin", "analyst"):
            q = q.where(Task.department_code == user.department_code)
        return q
    inspector_id = _inspector_id(user)
    if inspector_id is None:
        return q.where(False)
    return q.join(TaskAssignment, TaskAssignment.task_id == Task.id).where(
        TaskAssignment.inspector_id == inspector_id
    )


def list_tasks(
    session: Session, user: User, *, state: str | None = None, since: dt.datetime | None = None,
    limit: int = 500,
) -> Sequence[Task]:
    q = visible_tasks_query(user)
    if state:
        q = q.where(Task.state.in_(state.split(",")))
    if since:
        q = q.where(Task.updated_at > since)
    return session.scalars(q.order_by(Task.due_on, Task.id).limit(limit)).unique().all()


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


def mark_seen(session: Session, user: User, tasks: Sequence[Task]) -> None:
    if not user.inspector_id or not tasks:
        return
    unseen = [t.id for t in tasks for a in t.assignments if a.inspector_id == user.inspector_id and a.seen_at is None]
    if unseen:  # one UPDATE, and only when something is new to this inspector
        session.execute(update(TaskAssignment).where(TaskAssignment.inspector_id == user.inspector_id,
                                                     TaskAssignment.task_id.in_(unseen),
                                                     TaskAssignment.seen_at.is_(None))
                        .values(seen_at=utcnow()).execution_options(synchronize_session=False))
        session.commit()


def task_dicts(session: Session, tasks: Sequence[Task]) -> list[dict[str, Any]]:
    """Serialise tasks with their entity, round, warning and check items (batched look-ups)."""
    from server.entities.profile import warning_summary

    round_ids = {t.round_id for t in tasks if t.round_id}
    warning_ids = {t.warning_id for t in tasks if t.warning_id}
    codes = {c for t in tasks for c in t.check_items}
    rounds = {r.id: r for r in session.scalars(select(SamplingRound).where(SamplingRound.id.in_(round_ids)))} if round_ids else {}
    warnings = {w.id: w for w in session.scalars(select(Warning).where(Warning.id.in_(warning_ids)))} if warning_ids else {}
    items = {
        c.code: c
        for c in session.scalars(select(CheckItem).where(CheckItem.code.in_(codes)).options(selectinload(CheckItem.legal_reference)))
    } if codes else {}
    out = []
    for t in tasks:
        e = t.entity
        r = rounds.get(t.round_id) if t.round_id else None
        w = warnings.get(t.warning_id) if t.warning_id else None
        out.append({
            "id": t.id,
            "state": t.state,
            "due_on": t.due_on.isoformat(),
            "channel": t.channel,
            "department_code": t.department_code,
            "round": {"id": r.id, "name": r.name} if r else None,
            "warning": warning_summary(w) if w else None,
            "entity": {
                "uscc": e.uscc,
                "name": e.name,
                "address": e.address,
                "region_code": e.region_code,
                "credit_grade": e.credit_grade,
                "credit_score": e.credit_score,
                "business_type": e.business_type,
            },
            "form_code": t.form_code,
            "domains": t.domains,
            "check_items": [
                {
                    "code": code,
                    "question_id": f"ci_{code}",
                    "item": items[code].item,
                    "domain": items[code].domain,
                    "legal_basis": items[code].legal_basis,
                    "law": items[code].legal_reference.law_id if items[code].legal_reference else None,
                    "article": items[code].legal_reference.article if items[code].legal_reference else None,
                }
                for code in t.check_items
                if code in items
            ],
            "inspectors": [{"id": a.inspector_id, "name": a.inspector.name} for a in t.assignments],
            "problem_found": t.problem_found,
            "created_at": t.created_at.isoformat(),
            "updated_at": t.updated_at.isoformat(),
        })
    return out


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
