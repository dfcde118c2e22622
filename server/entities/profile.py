"""The entity profile the inspector and supervisor see."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.credit.models import CreditScore
from server.entities.models import ENTITY_STATUSES, ENTITY_TYPES, LICENCE_STATUSES, Entity
from server.inspections.models import InspectionResult
from server.reference.models import Industry, LicenceKind, Region
from server.warnings.models import Warning

OPEN_WARNING_STATES = ("issued", "dispatched", "accepted", "in_handling", "overdue")


def warning_summary(w: Warning) -> dict[str, Any]:
    from risk_models.base import LEVEL_NAMES
    from server.warnings.labels import model_label
    from server.warnings.services import STATES

    return {
        "id": w.id,
        "model": w.model,
        "model_label": model_label(w.model),
        "level": w.level,
        "level_label": LEVEL_NAMES.get(w.level, w.level),
        "score": round(w.score, 4),
        "state": w.state,
        "state_label": STATES.get(w.state, w.state),
        "issued_on": w.issued_on.isoformat(),
        "due_on": w.due_on.isoformat(),
        "reasons": w.reasons,
        "legal_basis": w.legal_basis,
    }


def credit_summary(session: Session, entity: Entity) -> dict[str, Any] | None:
    latest = session.scalar(
        select(CreditScore).where(CreditScore.entity_id == entity.id).order_by(CreditScore.as_of.desc()).limit(1)
    )
    if latest is None:
        return None
    history = session.execute(
        select(CreditScore.as_of, CreditScore.grade, CreditScore.score)
        .where(CreditScore.entity_id == entity.id)
        .order_by(CreditScore.as_of)
    ).all()
    return {
        "score": round(latest.score, 1),
        "grade": latest.grade,
        "as_of": latest.as_of.isoformat(),
        "override": latest.override,
        "reasons": latest.reasons,
        "history": [{"as_of": d.isoformat(), "grade": g, "score": round(s, 1)} for d, g, s in history],
    }


def licence_summary(lic: Any, kinds: dict[str, str], today: dt.date) -> dict[str, Any]:
    """A licence as shown to people: its state on ``today`` follows its validity dates."""
    status = lic.status_on(today)
    return {
        "kind": lic.kind,
        "kind_label": kinds.get(lic.kind, lic.kind),
        "number": lic.number,
        "valid_from": lic.valid_from.isoformat(),
        "valid_to": lic.valid_to.isoformat() if lic.valid_to else None,
        "status": status,
        "status_label": LICENCE_STATUSES.get(status, status),
        "valid": status == "valid" and lic.valid_from <= today,
    }


def entity_profile(session: Session, entity: Entity, *, today: dt.date | None = None) -> dict[str, Any]:
    today = today or dt.date.today()
    region = session.get(Region, entity.region_code)
    industry = session.get(Industry, entity.industry_code)
    kinds = {k.code: k.name for k in session.scalars(select(LicenceKind))}
    warnings = session.scalars(
        select(Warning)
        .where(Warning.entity_id == entity.id, Warning.state.in_(OPEN_WARNING_STATES))
        .order_by(Warning.issued_on.desc())
    ).all()
    results = session.scalars(
        select(InspectionResult)
        .where(InspectionResult.entity_id == entity.id)
        .order_by(InspectionResult.inspected_on.desc())
        .limit(20)
    ).all()
    return {
        "id": entity.id,
        "uscc": entity.uscc,
        "name": entity.name,
        "address": entity.address,
        "legal_representative": entity.legal_representative,
        "phone": entity.phone,
        "entity_type": entity.entity_type,
        "entity_type_label": ENTITY_TYPES.get(entity.entity_type, entity.entity_type),
        "business_type": entity.business_type,
        "registered_on": entity.registered_on.isoformat(),
        "registered_capital": entity.registered_capital,
        "status": entity.status,
        "status_label": ENTITY_STATUSES.get(entity.status, entity.status),
        "region": {"code": entity.region_code, "name": region.name if region else None},
        "industry": {"code": entity.industry_code, "name": industry.name if industry else None},
        "licences": [licence_summary(lic, kinds, today) for lic in entity.licences],
        "credit": credit_summary(session, entity),
        "open_warnings": [warning_summary(w) for w in warnings],
        "inspections": [
            {
                "date": r.inspected_on.isoformat(),
                "problem_found": r.problem_found,
                "channel": r.channel,
                "summary": r.summary,
                "task_id": r.task_id,
            }
            for r in results
        ],
    }
