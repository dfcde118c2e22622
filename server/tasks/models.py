"""Inspectors (执法检查人员名录库) and inspection tasks."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, TimestampMixin, bool_true, intpk, name_t

if TYPE_CHECKING:
    from server.entities.models import Entity

TASK_STATES: dict[str, str] = {
    "assigned": "待检查",
    "in_progress": "检查中",
    "submitted": "已提交",
    "done": "已办结",
    "cancelled": "已取消",
    "infeasible": "无法实施",
}

#: Why an entity is inspected: the channels whose hit rates analysts compare.
CHANNELS: dict[str, str] = {
    "random": "随机抽查",
    "credit_weighted": "信用分类抽查",
    "warning": "风险预警核查",
}


class Inspector(Base):
    __tablename__ = "inspectors"

    id: Mapped[intpk]
    name: Mapped[name_t]
    certificate_no: Mapped[str] = mapped_column(String(32), unique=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    region_code: Mapped[str] = mapped_column(String(6))
    domains: Mapped[list[Any]]
    active: Mapped[bool_true]


class TaskListEpoch(Base):
    """One row: this database's generation of task-list versions, random at creation."""

    __tablename__ = "task_list_epoch"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    value: Mapped[int] = mapped_column(default=0)


class TaskListChange(Base):
    """Appended by database triggers when an inspector's task list changes (``tasks.feed``).

    ``inspector_id`` 0 means every inspector's list. An inspector's version is the sum of
    ``weight`` over their rows: every committed change raises it, in whatever order
    concurrent transactions were given their ids. Append-only, so concurrent writers never
    wait on each other's row here; ``feed.compact`` folds old rows into one of the same
    total weight.
    """

    __tablename__ = "task_list_changes"
    __table_args__ = (Index("ix_task_list_changes_inspector", "inspector_id", "id"),)

    id: Mapped[intpk]
    inspector_id: Mapped[int]
    weight: Mapped[int] = mapped_column(default=1, server_default="1")


class InspectorConflict(Base):
    """A declared conflict of interest (回避): the inspector may not inspect the entity."""

    __tablename__ = "inspector_conflicts"
    __table_args__ = (UniqueConstraint("inspector_id", "entity_id"),)

    id: Mapped[intpk]
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspectors.id"))
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))


class Task(TimestampMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_state_due", "state", "due_on"),)

    id: Mapped[intpk]
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("sampling_rounds.id"), index=True)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"), index=True)
    department_code: Mapped[str] = mapped_column(String(32), index=True)
    state: Mapped[str] = mapped_column(String(16), default="assigned")
    form_code: Mapped[str] = mapped_column(String(32))
    check_items: Mapped[list[Any]]
    domains: Mapped[list[Any]]
    due_on: Mapped[dt.date]
    problem_found: Mapped[bool | None]
    completed_at: Mapped[dt.datetime | None]
    #: Why the task cannot be carried out (state ``infeasible``), shown to the supervisor
    #: at the draw and published as 无法实施 with this reason.
    state_reason: Mapped[str | None] = mapped_column(String(200))

    entity: Mapped[Entity] = relationship()
    assignments: Mapped[list[TaskAssignment]] = relationship(back_populates="task")


class TaskAssignment(Base):
    __tablename__ = "task_assignments"
    __table_args__ = (UniqueConstraint("task_id", "inspector_id"),)

    id: Mapped[intpk]
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspectors.id"), index=True)
    lead: Mapped[bool] = mapped_column(default=False)
    seen_at: Mapped[dt.datetime | None]

    task: Mapped[Task] = relationship(back_populates="assignments")
    inspector: Mapped[Inspector] = relationship()
