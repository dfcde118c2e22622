"""The public's view of draws and results (一公开): only what the rules make public."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.entities.models import Entity
from server.errors import NotFound
from server.inspections.models import InspectionResult
from server.reference.models import Department, Region
from server.rounds.models import DrawnEntity, SamplingRound
from server.rounds.services import DESIGNS


def published(session: Session, round_id: int) -> SamplingRound:
    rnd = session.get(SamplingRound, round_id)
    if rnd is None or rnd.state != "published":
        raise NotFound(f"未公示的抽查计划 (no published round {round_id})")
    return rnd


def public_round_summary(rnd: SamplingRound) -> dict[str, Any]:
    return {"id": rnd.id, "name": rnd.name, "design": DESIGNS[rnd.design], "period_start": rnd.period_start.isoformat(),
            "period_end": rnd.period_end.isoformat(), "pool_size": rnd.pool_size,
            "published_at": rnd.published_at.isoformat() if rnd.published_at else None,
            "seed_commitment": rnd.seed_commitment, "seed": rnd.seed, "pool_digest": rnd.pool_digest}


def public_round(session: Session, rnd: SamplingRound) -> dict[str, Any]:
    rows = session.execute(
        select(DrawnEntity.rank, DrawnEntity.stratum, DrawnEntity.inclusion_probability, DrawnEntity.forced,
               Entity.uscc, Entity.name, Entity.region_code, InspectionResult.inspected_on,
               InspectionResult.problem_found, InspectionResult.summary)
        .join(Entity, Entity.id == DrawnEntity.entity_id)
        .outerjoin(InspectionResult, (InspectionResult.entity_id == DrawnEntity.entity_id)
                   & (InspectionResult.round_id == rnd.id))
        .where(DrawnEntity.round_id == rnd.id).order_by(DrawnEntity.rank)).all()
    regions = dict(session.execute(select(Region.code, Region.name)).all())
    departments = [d for d in session.scalars(select(Department.name).where(Department.code.in_(rnd.department_codes)))]
    return {
        **public_round_summary(rnd),
        "departments": departments,
        "entities": [{
            "rank": r.rank, "uscc": r.uscc, "name": r.name, "region": regions.get(r.region_code, r.region_code),
            "grade": r.stratum, "inclusion_probability": round(r.inclusion_probability, 6), "forced": r.forced,
            "inspected_on": r.inspected_on.isoformat() if r.inspected_on else None,
            "result": None if r.problem_found is None else ("发现问题" if r.problem_found else "未发现问题"),
            "summary": r.summary,
        } for r in rows],
    }
