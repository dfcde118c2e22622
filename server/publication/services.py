"""The public's view of draws and results (一公开): only what the rules make public.

What is public, and when (docs/publication.md gives the reasons):

- from the moment a round is committed: its name, departments, scope, check items,
  ratios, period and the SHA-256 commitment to its seed (承诺值) — before any draw;
- after the draw, before publication: the pool digest (the pool is fixed), nothing drawn;
- once published: the seed, the drawn entities (name, USCC, region) each with its result
  category and follow-up (or 无法实施 with the reason), and the anonymised pool file.
  Never the credit grade, weight, inclusion probability or warning flag of any entity.

The publication clock is per entity: a result is due on the public page within 20 working
days of the inspection's completion (企业信息公示暂行条例 第六条第二款 "前款规定的企业信息应当自
产生之日起20个工作日内予以公示"), counted on the State Council's holiday arrangement
(:mod:`server.workdays`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.entities.models import ENTITY_TYPES, Entity
from server.errors import NotFound
from server.inspections.models import InspectionResult
from server.inspections.results import FOLLOW_UPS, RESULT_CATEGORIES
from server.reference.models import BusinessType, Department, Industry, LicenceKind, Region
from server.rounds.models import ROUND_STATES, DrawnEntity, SamplingRound
from server.rounds.services import DESIGNS
from server.tasks.models import Task
from server.workdays import WorkCalendar

#: Round states the public sees: from the seed commitment on (a draft has no commitment yet).
PUBLIC_STATES = ("committed", "drawing", "drawn", "published")
PUBLIC_STATE_LABELS = {
    "committed": "已承诺种子，待抽取",
    "drawing": "抽取中",
    "drawn": "已抽取，名单待公示",
    "published": "已公示",
}
INFEASIBLE = "无法实施"
#: Reason published for a drawn entity that never got a task (rounds drawn before tasks
#: recorded their infeasibility: the only way a drawn entity was left without a task).
UNASSIGNED_REASON = "未能分派符合条件的执法人员"
SCOPE_LABELS = {"regions": "地区", "industries": "行业", "entity_types": "主体类型",
                "business_types": "经营类别", "licence_kinds": "许可证"}
DEFAULT_DAYS = 20


# ---------------------------------------------------------------------------- result labels
def result_category(category: str | None, problem_found: bool | None, follow_up: str | None) -> str | None:
    """The published category code of a result, deriving one for results filed without it.

    Results recorded before categories existed (``result_category`` null) are published by
    this rule: no problem → ``no_problem``; a problem whose follow-up was a rectification
    order (or its completion) → ``problem_corrected``; any other problem →
    ``problem_referred`` ("发现问题待后续处理"), the only category that does not claim a
    rectification the record does not show.
    """
    if category in RESULT_CATEGORIES:
        return category
    if problem_found is None:
        return None
    if not problem_found:
        return "no_problem"
    if follow_up in ("rectification_ordered", "rectified"):
        return "problem_corrected"
    return "problem_referred"


def follow_up_label(follow_up: str | None, category: str | None) -> str | None:
    if follow_up in FOLLOW_UPS:
        return FOLLOW_UPS[follow_up]
    if category == "no_problem":
        return FOLLOW_UPS["none"]
    return None


# ---------------------------------------------------------------------------- visibility
def published(session: Session, round_id: int) -> SamplingRound:
    rnd = session.get(SamplingRound, round_id)
    if rnd is None or rnd.state != "published":
        raise NotFound(f"未公示的抽查计划 (no published round {round_id})")
    return rnd


def visible(session: Session, round_id: int) -> SamplingRound:
    """A round the public may see (committed or later)."""
    rnd = session.get(SamplingRound, round_id)
    if rnd is None or rnd.state not in PUBLIC_STATES:
        raise NotFound(f"抽查计划不存在或尚未承诺种子 (no public round {round_id})")
    return rnd


def public_rounds(session: Session) -> list[SamplingRound]:
    """Published rounds first (newest publication first), then the others, newest first."""
    rows = session.scalars(select(SamplingRound).where(SamplingRound.state.in_(PUBLIC_STATES))
                           .order_by(SamplingRound.id.desc())).all()
    return sorted(rows, key=lambda r: (r.state != "published",
                                       -(r.published_at.timestamp() if r.published_at else 0), -r.id))


class Names:
    """Code → name lookups for departments and scope, read once per request."""

    def __init__(self, session: Session) -> None:
        def pairs(model: Any) -> dict[str, str]:
            return dict(session.execute(select(model.code, model.name)).all())  # type: ignore[arg-type]

        self.departments = pairs(Department)
        self.scope = {"regions": pairs(Region), "industries": pairs(Industry),
                      "business_types": pairs(BusinessType), "licence_kinds": pairs(LicenceKind),
                      "entity_types": dict(ENTITY_TYPES)}


def _ratios(rnd: SamplingRound) -> list[dict[str, Any]]:
    out = []
    for key, value in (rnd.ratios or {}).items():
        label = "总体" if key == "overall" else f"{key} 类"
        out.append({"stratum": key, "label": label, "ratio": float(value), "percent": round(float(value) * 100, 2),
                    "text": f"{label} {float(value) * 100:.4g}%"})
    return out


def public_round_summary(rnd: SamplingRound, names: Names | None = None) -> dict[str, Any]:
    """What anyone sees of a round in the list: its definition and commitment, by state."""
    drawn = rnd.state in ("drawn", "published")
    is_published = rnd.state == "published"
    scope = {k: [names.scope.get(k, {}).get(v, v) if names else v for v in vals]
             for k, vals in (rnd.scope or {}).items() if vals}
    return {
        "id": rnd.id, "name": rnd.name, "state": rnd.state,
        "state_label": PUBLIC_STATE_LABELS.get(rnd.state, ROUND_STATES.get(rnd.state, rnd.state)),
        "design": DESIGNS[rnd.design], "design_code": rnd.design,
        "departments": [names.departments.get(c, c) if names else c for c in rnd.department_codes or []],
        "scope": scope,
        "scope_text": "；".join(f"{SCOPE_LABELS.get(k, k)}：{'、'.join(v)}" for k, v in scope.items()) or "不限",
        "ratios": _ratios(rnd),
        "period_start": rnd.period_start.isoformat(), "period_end": rnd.period_end.isoformat(),
        "committed_at": rnd.created_at.isoformat() if rnd.created_at else None,
        "seed_commitment": rnd.seed_commitment,
        # the seed only with the list: seed + pool file give the list, so never before publication
        "seed": rnd.seed if is_published else None,
        "pool_digest": rnd.pool_digest if drawn else None,
        "pool_size": rnd.pool_size if drawn else None,
        "drawn_at": rnd.drawn_at.isoformat() if drawn and rnd.drawn_at else None,
        "published_at": rnd.published_at.isoformat() if rnd.published_at else None,
    }


# ---------------------------------------------------------------------------- drawn entities
def _salts(rnd: SamplingRound) -> dict[int, str]:
    """Entity id → the salt of its pool key (published for drawn entities only)."""
    if not rnd.pool_path or not Path(rnd.pool_path).exists():
        return {}
    with np.load(rnd.pool_path, allow_pickle=False) as z:
        if "salts" not in z.files:
            return {}
        ids, salts = z["entity_ids"], z["salts"]
    return {int(i): str(s) for i, s in zip(ids.tolist(), salts.tolist(), strict=True)}


def entity_rows(session: Session, rnd: SamplingRound, *, salts: bool = False) -> list[dict[str, Any]]:
    """Each drawn entity with its task state and result, in draw order (no grade, no weight)."""
    rows = session.execute(
        select(DrawnEntity.rank, DrawnEntity.entity_id, Entity.uscc, Entity.name, Entity.region_code,
               Task.state, Task.state_reason, Task.completed_at, Task.updated_at,
               InspectionResult.inspected_on, InspectionResult.problem_found, InspectionResult.result_category,
               InspectionResult.follow_up, InspectionResult.created_at)
        .join(Entity, Entity.id == DrawnEntity.entity_id)
        .outerjoin(Task, (Task.entity_id == DrawnEntity.entity_id) & (Task.round_id == rnd.id))
        .outerjoin(InspectionResult, InspectionResult.task_id == Task.id)
        .where(DrawnEntity.round_id == rnd.id)
        # per entity: a task with a result first, then the earliest task
        .order_by(DrawnEntity.rank, InspectionResult.id.is_(None), Task.id)).all()
    regions = dict(session.execute(select(Region.code, Region.name)).all())
    salt_of = _salts(rnd) if salts else {}
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for r in rows:
        if r.entity_id in seen:  # several tasks of one entity in the round: the first row stands
            continue
        seen.add(r.entity_id)
        category = result_category(r.result_category, r.problem_found, r.follow_up)
        infeasible = category is None and (r.state == "infeasible" or r.state is None)
        if category is not None:
            status, label = "inspected", RESULT_CATEGORIES[category]
        elif infeasible:
            status, label = "infeasible", INFEASIBLE
        else:
            status, label = "pending", None
        if infeasible:
            completed = (r.completed_at or r.updated_at or rnd.drawn_at)
            completed_on = completed.date() if completed else None
        else:
            completed_on = r.inspected_on
        row = {
            "rank": r.rank, "name": r.name, "uscc": r.uscc, "region": regions.get(r.region_code, r.region_code),
            "status": status, "status_label": {"inspected": "已检查", "infeasible": INFEASIBLE,
                                               "pending": "待检查"}[status],
            "inspected_on": r.inspected_on.isoformat() if r.inspected_on else None,
            "result_category": category if status == "inspected" else ("infeasible" if infeasible else None),
            "result": label,
            "follow_up": r.follow_up if category else None,
            "follow_up_label": follow_up_label(r.follow_up, category) if category else None,
            "reason": (r.state_reason or UNASSIGNED_REASON) if infeasible else None,
            "_entity_id": r.entity_id, "_completed_on": completed_on, "_result_created": r.created_at,
        }
        if salts:
            row["replay_salt"] = salt_of.get(r.entity_id)
        out.append(row)
    return out


def public_round(session: Session, rnd: SamplingRound, names: Names | None = None) -> dict[str, Any]:
    """A round as the public sees it; the entities only once the round is published."""
    names = names or Names(session)
    data = public_round_summary(rnd, names)
    data["entities"] = []
    if rnd.state == "published":
        data["entities"] = [_public(e) for e in entity_rows(session, rnd, salts=True)]
    return data


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}


# ---------------------------------------------------------------------------- the clock
def deadlines(session: Session, rnd: SamplingRound, *, calendar: WorkCalendar, today: dt.date,
              days: int = DEFAULT_DAYS, soon: int = 5) -> dict[str, Any]:
    """Per-entity publication deadlines of a round's results, and the round's figures.

    A result (or a 无法实施) is due ``days`` working days after its completion date; it is
    published when the round is published (results filed later appear on the public page
    at once, so on the day they are filed). Returns the rows (entity, completion, due,
    published on, status) and counts: ``due`` (not yet published, due within ``soon``
    working days), ``overdue``, ``on_time``, ``late``, ``waiting`` (not yet due).
    """
    rows = [r for r in entity_rows(session, rnd) if r["_completed_on"] is not None]
    completed = np.array([r["_completed_on"] for r in rows], dtype="datetime64[D]")
    due = calendar.add_many(completed, days)
    pub_round = np.datetime64(rnd.published_at.date(), "D") if rnd.published_at else np.datetime64("NaT")
    filed = np.array([(r["_result_created"] or rnd.published_at or dt.datetime(1970, 1, 1)).date()
                      for r in rows], dtype="datetime64[D]")
    published_on = np.maximum(filed, pub_round) if rnd.published_at else np.full(len(rows), np.datetime64("NaT"),
                                                                                   dtype="datetime64[D]")
    today64 = np.datetime64(today, "D")
    is_pub = ~np.isnat(published_on)
    left = calendar.between_many(np.full(len(rows), today64), due)
    status = np.where(is_pub, np.where(published_on <= due, "on_time", "late"),
                      np.where(today64 > due, "overdue", np.where(left <= soon, "due", "waiting")))
    out_rows = []
    for r, c, d, p, s, n in zip(rows, completed, due, published_on, status, left, strict=True):
        out_rows.append({"rank": r["rank"], "name": r["name"], "uscc": r["uscc"], "result": r["result"],
                         "completed_on": str(c), "due_on": str(d),
                         "published_on": None if np.isnat(p) else str(p), "status": str(s),
                         "working_days_left": int(n) if s in ("due", "waiting") else None})
    counts = {k: int((status == k).sum()) for k in ("on_time", "late", "overdue", "due", "waiting")}
    open_due = due[~is_pub]
    return {
        "days": days, "completed": len(rows), **counts,
        "next_due": str(open_due.min()) if len(open_due) else None,
        "calendar_warning": calendar.warning(completed, due) if len(rows) else None,
        "rows": out_rows,
    }


STATUS_LABELS = {"on_time": "按期公示", "late": "逾期后已公示", "overdue": "已逾期未公示", "due": "即将到期",
                 "waiting": "未到期"}
