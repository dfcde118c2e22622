"""Public-credit scores and grades over time (grade history)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, intpk


class CreditScore(Base):
    __tablename__ = "credit_scores"
    __table_args__ = (Index("ix_credit_scores_entity_asof", "entity_id", "as_of"),)

    id: Mapped[intpk]
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"))
    as_of: Mapped[dt.date] = mapped_column(index=True)
    score: Mapped[float]
    grade: Mapped[str] = mapped_column(String(1))
    override: Mapped[str | None] = mapped_column(String(32))
    reasons: Mapped[list[Any]]
    model_version: Mapped[str] = mapped_column(String(32))
