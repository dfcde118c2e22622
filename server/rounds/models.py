"""Double-random sampling rounds (双随机抽查计划) and their draws."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
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
    #: the draw pool's file, stored relative to POOL_DIR (a copied instance replays its own
    #: files); read and set through ``pool_path`` (absolute)
    pool_file: Mapped[str | None] = mapped_column("pool_path", String(300))
    drawn_at: Mapped[dt.datetime | None]
    publish_due_on: Mapped[dt.date | None]
    published_at: Mapped[dt.datetime | None]
    results_published_at: Mapped[dt.datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    drawn: Mapped[list[DrawnEntity]] = relationship(
        back_populates="round", order_by="DrawnEntity.rank"
    )

    @property
    def pool_path(self) -> str | None:
        """The draw pool's file, absolute, in this instance's POOL_DIR."""
        return resolve_pool_path(self.pool_file)

    @pool_path.setter
    def pool_path(self, value: str | None) -> None:
        self.pool_file = relative_pool_path(value)


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


def _pool_dir() -> Path | None:
    from flask import current_app

    try:
        directory = current_app.config.get("POOL_DIR")
    except RuntimeError:  # outside an app context
        return None
    return Path(directory).resolve() if directory else None


def relative_pool_path(value: str | None, pool_dir: Path | None = None) -> str | None:
    """``value`` relative to POOL_DIR when it lies inside it (else unchanged)."""
    if not value or not os.path.isabs(value):
        return value
    base = pool_dir or _pool_dir()
    if base is None:
        return value
    try:
        return Path(value).resolve().relative_to(base).as_posix()
    except ValueError:
        return value


def resolve_pool_path(value: str | None, pool_dir: Path | None = None) -> str | None:
    """The absolute file of a stored pool path (relative ones are under POOL_DIR)."""
    if not value or os.path.isabs(value):
        return value
    base = pool_dir or _pool_dir()
    return str(base / value) if base is not None else value
