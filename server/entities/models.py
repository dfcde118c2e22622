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


#: A licence's state as people read it. ``status`` stores the licensing authority's
#: decision (valid / suspended / revoked / cancelled); "expired" is never stored: it
#: follows from the validity dates on the day the licence is looked at (a licence
#: past its 有效期 is no longer valid whatever was recorded when it was issued).
LICENCE_STATUSES: dict[str, str] = {
    "valid": "有效",
    "expired": "已过期",
    "suspended": "暂停",
    "revoked": "已吊销",
    "cancelled": "已注销",
}


def licence_status(status: str, valid_from: dt.date | None, valid_to: dt.date | None, today: dt.date) -> str:
    """The state of a licence on ``today``: the authority's decision, unless the dates
    say it has lapsed (expired) — the one place that derivation lives.
    """
    if status == "valid" and valid_to is not None and valid_to < today:
        return "expired"
    return status


class Licence(Base):
    __tablename__ = "licences"

    id: Mapped[intpk]
    entity_id: Mapped[int] = mapped_column(ForeignKey("entities.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    number: Mapped[str] = mapped_column(String(64))
    valid_from: Mapped[dt.date]
    valid_to: Mapped[dt.date | None]
    # the authority's decision: valid / suspended / revoked / cancelled (never "expired":
    # see :func:`licence_status`)
    status: Mapped[str] = mapped_column(String(16), default="valid")

    entity: Mapped[Entity] = relationship(back_populates="licences")

    def status_on(self, today: dt.date) -> str:
        return licence_status(self.status, self.valid_from, self.valid_to, today)
