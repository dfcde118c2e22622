"""Model versions and stored risk scores.

``risk_scores`` is wide (one column per warning model) and written with bulk Core
inserts: scoring a province writes one row per entity, not fifteen.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, Date, Float, ForeignKey, Index, Integer, SmallInteger, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from risk_models.registry import MODEL_NAMES
from server.db import Base, bool_false, created_t, intpk


class ModelVersion(Base):
    __tablename__ = "model_versions"

    id: Mapped[intpk]
    name: Mapped[str] = mapped_column(String(32), index=True)  # "credit" or a warning model
    version: Mapped[str] = mapped_column(String(32))
    trained_at: Mapped[created_t]
    trained_from: Mapped[dt.date | None]
    trained_to: Mapped[dt.date | None]
    n_samples: Mapped[int] = mapped_column(default=0)
    n_positive: Mapped[int] = mapped_column(default=0)
    thresholds: Mapped[list[Any]]
    metrics: Mapped[dict[str, Any]]
    path: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool_false]


class FeatureSnapshot(Base):
    """Features of every entity as of a date, kept so training joins outcomes to the
    features the models saw before the inspection (no look-ahead).
    """

    __tablename__ = "feature_snapshots"

    id: Mapped[intpk]
    as_of: Mapped[dt.date] = mapped_column(unique=True)
    path: Mapped[str] = mapped_column(String(300))
    n_entities: Mapped[int]
    created_at: Mapped[created_t]


risk_scores = Table(
    "risk_scores",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("entity_id", Integer, ForeignKey("entities.id"), nullable=False),
    Column("as_of", Date, nullable=False),
    *[Column(f"s_{name}", Float) for name in MODEL_NAMES],
    Column("max_level", SmallInteger, nullable=False, default=0),
    Column("max_model", String(32)),
    Index("ix_risk_scores_entity_asof", "entity_id", "as_of"),
    Index("ix_risk_scores_asof", "as_of"),
)
