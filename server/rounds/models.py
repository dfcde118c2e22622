"""Double-random sampling rounds (双随机抽查计划) and their draws."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, TimestampMixin, intpk, name_t

ROUND_STATES: dict[str, str] = {
    "draft": "草稿",
    "committed": "已承诺种子",
    "drawing": "抽取中",
    "drawn": "已抽取",
    "published": "已公示",
}


class SamplingRound(TimestampMixin, Base):
    __tablename__ = "sampling_rounds"

    id: Mapped[intpk]
    name: Mapped[name_t]
    channel: Mapped[str] = mapped_column(String(16))  # random / credit_weighted
    department_codes: Mapped[list[Any]]
    check_item_codes: Mapped[list[Any]]
    scope: Mapped[dict[str, Any]]  # regions, industries, entity_types, business_types, licence_kinds
    period_start: Mapped[dt.date]
    period_end: Mapped[dt.date]
    design: Mapped[str] = mapped_column(String(16))  # stratified / pps / uniform
    ratios: Mapped[dict[str, Any]]  # grade -> ratio (stratified) or {"overall": r}
    force_warning_levels: Mapped[list[Any]]
    exclusions: Mapped[dict[str, Any]]
    inspector_pool: Mapped[dict[str, Any]]  # department codes and/or inspector ids
    inspectors_per_task: Mapped[int] = mapped_column(default=2)
    workload_cap: Mapped[int | None]
    recusal: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(16), default="draft")
    seed_commitment: Mapped[str | None] = mapped_column(String(64))
    seed: Mapped[str | None] = mapped_column(String(64))  # revealed after the draw
    pool_digest: Mapped[str | None] = mapped_column(String(64))
    pool_size: Mapped[int | None]
    pool_path: Mapped[str | None] = mapped_column(String(300))
    drawn_at: Mapped[dt.datetime | None]
    publish_due_on: Mapped[dt.date | None]
    published_at: Mapped[dt.datetime | None]
    results_published_at: Mapped[dt.datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    drawn: Mapped[list[DrawnEntity]] = relationship(
        back_populates="round", order_by="DrawnEntity.rank"
    )


class DrawnEntity(Base):
    __tablename__ = "drawn_entities"
    __table_args__ = (UniqueConstraint("round_id", "entity_id"),)

    id: Mapped[intpk]
    round_id: Mapped[int] = mapped_column(ForeignKey("sampling_rounds.id"), index=True)
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    rank: Mapped[int]
    stratum: Mapped[str | None] = mapped_column(String(8))
    inclusion_probability: Mapped[float]
    forced: Mapped[bool] = mapped_column(default=False)

    round: Mapped[SamplingRound] = relationship(back_populates="drawn")
