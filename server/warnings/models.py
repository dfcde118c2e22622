"""Risk warnings (风险预警) and their audited transitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, bool_false, created_t, intpk


class Warning(Base):
    __tablename__ = "warnings"
    __table_args__ = (
        Index("ix_warnings_state_level", "state", "level"),
        Index("ix_warnings_entity_model", "entity_id", "model"),
    )

    id: Mapped[intpk]
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    model: Mapped[str] = mapped_column(String(32), index=True)
    model_version: Mapped[str] = mapped_column(String(32))
    score: Mapped[float]
    level: Mapped[str] = mapped_column(String(8))  # red / orange / yellow
    reasons: Mapped[list[Any]]
    legal_basis: Mapped[list[Any]]
    state: Mapped[str] = mapped_column(String(16), default="issued")
    department_code: Mapped[str | None] = mapped_column(String(32), index=True)
    # The department that dispatched it (派发科室): keeps a read-only view once it has
    # been handed over to the department handling it.
    dispatched_from: Mapped[str | None] = mapped_column(String(32), index=True)
    region_code: Mapped[str] = mapped_column(String(6), index=True)
    issued_on: Mapped[dt.date] = mapped_column(index=True)
    due_on: Mapped[dt.date]
    handled_on: Mapped[dt.date | None]
    outcome: Mapped[str | None] = mapped_column(String(24))
    handling: Mapped[str | None] = mapped_column(String(16))  # inspection / desk_check
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    note: Mapped[str | None] = mapped_column(Text)
    overdue: Mapped[bool_false]
    escalated: Mapped[bool_false]
    created_at: Mapped[created_t]

    transitions: Mapped[list[WarningTransition]] = relationship(
        back_populates="warning", order_by="WarningTransition.id"
    )


class WarningTransition(Base):
    __tablename__ = "warning_transitions"

    id: Mapped[intpk]
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[created_t]
    note: Mapped[str | None] = mapped_column(Text)

    warning: Mapped[Warning] = relationship(back_populates="transitions")
