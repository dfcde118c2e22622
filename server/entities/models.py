"""Market entities (市场主体) and their licences."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.db import Base, created_t, intpk, name_t, region_t, uscc_t

ENTITY_TYPES: dict[str, str] = {
    "company": "有限责任公司",
    "joint_stock": "股份有限公司",
    "individual": "个体工商户",
    "partnership": "合伙企业",
    "cooperative": "农民专业合作社",
    "branch": "分公司",
}

ENTITY_STATUSES: dict[str, str] = {
    "active": "存续",
    "abnormal": "经营异常",
    "revoked": "吊销",
    "closed": "注销",
}


class Entity(Base):
    __tablename__ = "entities"
    __table_args__ = (Index("ix_entities_region_industry", "region_code", "industry_code"),)

    id: Mapped[intpk]
    uscc: Mapped[uscc_t] = mapped_column(unique=True)
    name: Mapped[name_t]
    region_code: Mapped[region_t]
    industry_code: Mapped[str] = mapped_column(String(8))
    business_type: Mapped[str] = mapped_column(String(32), index=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    registered_on: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(16), default="active")
    address: Mapped[str] = mapped_column(String(300))
    legal_representative: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    registered_capital: Mapped[float | None]  # 万元
    # Current credit, denormalised from the latest CreditScore for fast pools and draws.
    credit_score: Mapped[float | None]
    credit_grade: Mapped[str | None] = mapped_column(String(1))
    created_at: Mapped[created_t]

    licences: Mapped[list[Licence]] = relationship(back_populates="entity")


class Licence(Base):
    __tablename__ = "licences"

    id: Mapped[intpk]
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[dt.date]
    valid_to: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(16), default="valid")  # valid/revoked/cancelled

    entity: Mapped[Entity] = relationship(back_populates="licences")
