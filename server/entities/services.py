"""Registering entities: one by one (API) or from a CSV export, all-or-nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.services import record
from server.entities.models import ENTITY_STATUSES, ENTITY_TYPES, Entity
from server.errors import Conflict, Invalid
from server.reference.models import BusinessType, Industry, Region
from server.validation import (
    ValidationError,
    validate_industry_code,
    validate_region_code,
    validate_uscc,
)

CSV_COLUMNS = (
    "uscc", "name", "region_code", "industry_code", "business_type", "entity_type",
    "registered_on", "address", "legal_representative", "phone", "registered_capital",
)
REQUIRED = ("uscc", "name", "region_code", "industry_code", "business_type", "entity_type",
            "registered_on", "address", "legal_representative")


@dataclass
class KnownCodes:
    regions: set[str]
    industries: set[str]
    business_types: set[str]

    @classmethod
    def load(cls, session: Session) -> KnownCodes:
        return cls(
            set(session.scalars(select(Region.code))),
            set(session.scalars(select(Industry.code))),
            set(session.scalars(select(BusinessType.code))),
        )


def _clean(row: dict[str, Any], known: KnownCodes, where: str) -> dict[str, Any]:
    """Validate one record; raise :class:`Invalid` naming the place and the field."""
    missing = [c for c in REQUIRED if not str(row.get(c) or "").strip()]
    if missing:
        raise Invalid(f"{where}: 缺少必填字段 (missing required field) {', '.join(missing)}", field=missing[0])
    try:
        uscc = validate_uscc(str(row["uscc"]))
        region = validate_region_code(str(row["region_code"]).strip(), known.regions or None)
        industry = validate_industry_code(str(row["industry_code"]).strip(), known.industries or None)
    except ValidationError as exc:
        raise Invalid(f"{where}, {exc.field}: {exc.message}", field=exc.field) from None
    business_type = str(row["business_type"]).strip()
    if known.business_types and business_type not in known.business_types:
        raise Invalid(f"{where}, business_type: 未知经营类别 (unknown business type) {business_type!r}",
                      field="business_type")
    entity_type = str(row["entity_type"]).strip()
    if entity_type not in ENTITY_TYPES:
        raise Invalid(f"{where}, entity_type: 未知主体类型 (unknown entity type) {entity_type!r}; "
                      f"可用: {', '.join(ENTITY_TYPES)}", field="entity_type")
    raw_date = row["registered_on"]
    try:
        registered_on = raw_date if isinstance(raw_date, dt.date) else dt.date.fromisoformat(str(raw_date).strip())
    except ValueError:
        raise Invalid(f"{where}, registered_on: 日期格式应为 YYYY-MM-DD (bad date) {raw_date!r}",
                      field="registered_on") from None
    capital = row.get("registered_capital")
    try:
        capital_value = float(capital) if capital not in (None, "") else None
    except ValueError:
        raise Invalid(f"{where}, registered_capital: 应为数字 (not a number) {capital!r}",
                      field="registered_capital") from None
    status = str(row.get("status") or "active")
    if status not in ENTITY_STATUSES:
        raise Invalid(f"{where}, status: 未知状态 (unknown status) {status!r}", field="status")
    return {
        "uscc": uscc,
        "name": str(row["name"]).strip()[:200],
        "region_code": region,
        "industry_code": industry,
        "business_type": business_type,
        "entity_type": entity_type,
        "registered_on": registered_on,
        "address": str(row["address"]).strip()[:300],
        "legal_representative": str(row["legal_representative"]).strip()[:100],
        "phone": (str(row.get("phone") or "").strip() or None),
        "registered_capital": capital_value,
        "status": status,
    }


def create_entity(session: Session, data: dict[str, Any], *, actor: str) -> Entity:
    values = _clean(data, KnownCodes.load(session), "entity")
    if session.scalar(select(Entity.id).where(Entity.uscc == values["uscc"])) is not None:
        raise Conflict(f"统一社会信用代码已登记 (duplicate entity): {values['uscc']}", field="uscc")
    entity = Entity(**values)
    session.add(entity)
    session.flush()
    record(session, actor, "entity.create", "entity", entity.id, uscc=entity.uscc)
    session.commit()
    return entity


def import_entities_csv(session: Session, text: str, *, actor: str) -> int:
    """Import a CSV export; any bad row rejects the whole file (nothing is written)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS and h != "status"]
    if missing or unknown:
        raise Invalid(
            "CSV 表头错误 (wrong header), row 1: "
            + (f"缺少列 (missing columns) {', '.join(missing)}" if missing else "")
            + ("; " if missing and unknown else "")
            + (f"未知列 (unknown columns) {', '.join(unknown)}" if unknown else "")
        )
    known = KnownCodes.load(session)
    rows: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for line, raw in enumerate(reader, start=2):
        if None in raw:
            raise Invalid(f"row {line}: 列数多于表头 (more fields than the header)")
        values = _clean({k.strip(): v for k, v in raw.items()}, known, f"row {line}")
        if values["uscc"] in seen:
            raise Invalid(f"row {line}, uscc: 与第 {seen[values['uscc']]} 行重复 (duplicate in file) {values['uscc']}")
        seen[values["uscc"]] = line
        rows.append(values)
    if not rows:
        raise Invalid("CSV 没有数据行 (no data rows)")
    existing = set(session.scalars(select(Entity.uscc).where(Entity.uscc.in_(list(seen)))))
    if existing:
        first = min(existing, key=seen.__getitem__)
        raise Conflict(f"row {seen[first]}, uscc: 统一社会信用代码已登记 (duplicate entity) {first}")
    session.execute(Entity.__table__.insert(), rows)
    record(session, actor, "entity.import", "entity", None, rows=len(rows))
    session.commit()
    return len(rows)
