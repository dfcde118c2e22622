"""Figures on the console's home page."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.entities.models import Entity
from server.rounds.models import SamplingRound
from server.tasks.models import Task
from server.warnings.models import Warning


def summary(session: Session) -> dict[str, Any]:
    grades = dict(
        session.execute(
            select(Entity.credit_grade, func.count()).group_by(Entity.credit_grade)
        ).all()
    )
    return {
        "entities": sum(grades.values()),
        "grades": {g: grades.get(g, 0) for g in ("A", "B", "C", "D")},
        "open_warnings": session.scalar(
            select(func.count())
            .select_from(Warning)
            .where(Warning.state.notin_(("closed", "dismissed", "merged")))
        )
        or 0,
        "open_tasks": session.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.state.in_(("assigned", "in_progress")))
        )
        or 0,
        "rounds": session.scalar(select(func.count()).select_from(SamplingRound)) or 0,
    }
