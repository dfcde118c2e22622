"""Feed tables (one row per observed record)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, intpk


def _entity_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("entities.id"), index=True)


class AnnualReport(Base):
    __tablename__ = "annual_reports"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    year: Mapped[int]
    due_on: Mapped[dt.date]
    submitted_on: Mapped[dt.date | None]


class Penalty(Base):
    __tablename__ = "penalties"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    decided_on: Mapped[dt.date]
    domain: Mapped[str] = mapped_column(String(32))
    amount: Mapped[float]  # 元
    serious: Mapped[bool] = mapped_column(default=False)


class ListEntry(Base):
    """经营异常名录 / 严重违法失信名单 membership."""

    __tablename__ = "list_entries"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    list_kind: Mapped[str] = mapped_column(String(32))  # abnormal_operation / serious_violation
    listed_on: Mapped[dt.date]
    removed_on: Mapped[dt.date | None]
    reason: Mapped[str] = mapped_column(String(200))


class EntityFlag(Base):
    """Other observed states: court enforcement, tax arrears, unreachable, closure signs."""

    __tablename__ = "entity_flags"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    kind: Mapped[str] = mapped_column(String(32))
    flagged_on: Mapped[dt.date]
    cleared_on: Mapped[dt.date | None]


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (Index("ix_complaints_received", "received_on"),)

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    received_on: Mapped[dt.date]
    category: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16), default="12315")


class SamplingTest(Base):
    __tablename__ = "sampling_tests"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    tested_on: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(String(16))  # food/drug/product/authenticity
    product: Mapped[str] = mapped_column(String(100))
    passed: Mapped[bool]


class Equipment(Base):
    __tablename__ = "equipment"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    kind: Mapped[str] = mapped_column(String(32))  # elevator/boiler/pressure_vessel/...
    registration_no: Mapped[str] = mapped_column(String(64))
    installed_on: Mapped[dt.date]
    next_inspection_due: Mapped[dt.date]
    incidents_3y: Mapped[int] = mapped_column(default=0)


class PriceReport(Base):
    __tablename__ = "price_reports"
    __table_args__ = (Index("ix_price_reports_reported", "reported_on"),)

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    reported_on: Mapped[dt.date]
    item: Mapped[str] = mapped_column(String(64))
    price: Mapped[float]
    emergency: Mapped[bool] = mapped_column(default=False)


class AdRecord(Base):
    __tablename__ = "ad_records"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    captured_on: Mapped[dt.date]
    medium: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)


class OnlineMetric(Base):
    __tablename__ = "online_metrics"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    period_start: Mapped[dt.date]
    orders: Mapped[int]
    refunds: Mapped[int]
    complaints: Mapped[int]
    licence_displayed: Mapped[bool]


class PrepaidRecord(Base):
    __tablename__ = "prepaid_records"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    period_start: Mapped[dt.date]
    cards_sold: Mapped[int]
    balance_outstanding: Mapped[float]  # 元


class Instrument(Base):
    __tablename__ = "instruments"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    kind: Mapped[str] = mapped_column(String(32))  # scale/fuel_dispenser/...
    calibration_due: Mapped[dt.date]


class Certificate(Base):
    __tablename__ = "certificates"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    product: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(64))
    valid_to: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(16))  # valid/suspended/revoked
    selling: Mapped[bool] = mapped_column(default=True)


class ActivitySignal(Base):
    """Evidence that an entity is trading (invoices, online listings, deliveries)."""

    __tablename__ = "activity_signals"

    id: Mapped[intpk]
    entity_id: Mapped[int] = _entity_fk()
    observed_on: Mapped[dt.date]
    kind: Mapped[str] = mapped_column(String(32))
