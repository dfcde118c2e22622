"""Declarative base, shared column types and the ``db`` extension.

Column types are shared through ``Annotated`` aliases (warehouse ``utils/db/types``),
so every table spells a USCC, a region code or a timestamp the same way, on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from sqlalchemy import JSON, DateTime, MetaData, String, func, sql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Timezone-aware now in UTC (all stored timestamps are UTC)."""
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING),
        type_annotation_map={
            dt.datetime: DateTime(timezone=True),
            dict[str, Any]: JSON,
            list[Any]: JSON,
        },
    )


intpk = Annotated[int, mapped_column(primary_key=True)]
uscc_t = Annotated[str, mapped_column(String(18))]
region_t = Annotated[str, mapped_column(String(6))]
code_t = Annotated[str, mapped_column(String(64))]
name_t = Annotated[str, mapped_column(String(200))]
created_t = Annotated[dt.datetime, mapped_column(default=utcnow, server_default=func.now())]
bool_false = Annotated[bool, mapped_column(default=False, server_default=sql.false())]
bool_true = Annotated[bool, mapped_column(default=True, server_default=sql.true())]


class TimestampMixin:
    created_at: Mapped[created_t]
    updated_at: Mapped[dt.datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )
