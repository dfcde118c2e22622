"""Double-random rounds (双随机抽查): define, preview, draw, assign, publish, replay.

The draw itself is :mod:`sampling` (numpy, arrays in, arrays out); this module builds the
pool from the database in bulk, stores a snapshot of it (the file anyone can download to
replay the draw), and turns the drawn entities into inspection tasks with two or more
randomly drawn, qualified, non-recused inspectors.

Verifiability: the seed is drawn when the round is created and only its SHA-256
commitment is shown until the draw; the pool snapshot's digest is fixed at the draw; after
the draw the seed is revealed, so anyone can check ``commit(seed) == commitment`` and
re-run the draw on the published pool (:func:`replay`, ``shuangsui draw replay``).
Two supervisors pressing "draw" at once produce one draw: the state change
``committed → drawing`` is a conditional UPDATE only one of them wins.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from sampling.assign import REASONS, assign_inspectors
from sampling.draw import DrawResult, pps_sample, stratified_sample
from sampling.seed import commit, new_salts, new_seed, pool_digest, rng_from_seed, unit_keys, verify
from server.audit.services import record
from server.db import utcnow
from server.entities.models import ENTITY_TYPES, Entity, Licence
from server.errors import Conflict, DomainError, Invalid, NotFound
from server.inspections.models import InspectionResult
from server.reference.models import (
    BusinessType,
    CheckItem,
    Department,
    FormTemplate,
    Industry,
    Region,
)
from server.risk.features import locate
from server.risk.models import risk_scores
from server.rounds import jurisdiction
from server.rounds.models import DrawnEntity, SamplingRound
from server.tasks.models import Inspector, InspectorConflict, Task, TaskAssignment
from server.warnings.models import Warning
from server.warnings.services import OPEN_STATES
from server.workdays import WorkCalendar

GRADES = ("A", "B", "C", "D")
GRADE_CODE = {g: i for i, g in enumerate(GRADES)}
#: Size measure per grade for probability-proportional-to-size rounds ("good credit, lower odds").
GRADE_ODDS = {"A": 0.4, "B": 1.0, "C": 2.0, "D": 4.0}
DESIGNS = {"stratified": "按信用等级分层抽取", "pps": "按信用与风险加权抽取", "uniform": "简单随机抽取"}
ROUND_CHANNELS = ("random", "credit_weighted")
FORCE_LEVELS = ("red", "orange")


@dataclass
class Pool:
    """The pool of a round as numpy arrays, in a fixed order (entity id ascending)."""

    entity_ids: np.ndarray
    uscc: np.ndarray
    strata: np.ndarray  # grade code 0..3
    weights: np.ndarray
    forced: np.ndarray
    excluded: np.ndarray
    excluded_counts: dict[str, int]

    def digest(self) -> str:
        return pool_digest(self.uscc, self.strata, self.weights, self.forced, self.excluded)


class Gone(DomainError):
    status = 410
    code = "gone"


# ---------------------------------------------------------------------------- defining
def _date(value: Any, field: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{field}: 日期格式应为 YYYY-MM-DD (bad date {value!r})", field=field) from None


def clean_round(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a round definition; raise :class:`Invalid` naming the field."""
    name = str(data.get("name") or "").strip()
    if not name:
        raise Invalid("name: 请填写抽查计划名称 (name is required)", field="name")
    channel = data.get("channel", "credit_weighted")
    if channel not in ROUND_CHANNELS:
        raise Invalid(f"channel: 应为 {' / '.join(ROUND_CHANNELS)}", field="channel")
    design = data.get("design", "stratified" if channel == "credit_weighted" else "uniform")
    if design not in DESIGNS:
        raise Invalid(f"design: 应为 {' / '.join(DESIGNS)}", field="design")
    departments = list(dict.fromkeys(data.get("department_codes") or []))
    if not departments:
        raise Invalid("department_codes: 至少选择一个部门 (at least one department)", field="department_codes")
    known = set(session.scalars(select(Department.code).where(Department.code.in_(departments))))
    unknown = [d for d in departments if d not in known]
    if unknown:
        raise Invalid(f"department_codes: 未知部门 {', '.join(unknown)}", field="department_codes")
    items = list(dict.fromkeys(data.get("check_item_codes") or []))
    item_domains = dict(session.execute(select(CheckItem.code, CheckItem.domain).where(CheckItem.code.in_(items)))
                        .all())
    if [c for c in items if c not in item_domains]:
        raise Invalid(f"check_item_codes: 未知检查事项 {', '.join(c for c in items if c not in item_domains)}",
                      field="check_item_codes")
    depts = jurisdiction.departments(session, departments)
    # each department checks its own items (一单两库一细则): an item nobody in the round may check is refused
    orphans = [c for c in items if not any(item_domains[c] in d.domains for d in depts.values())]
    if orphans:
        raise Invalid(f"check_item_codes: 检查事项 {', '.join(orphans)} 不属于所选实施部门的职责范围",
                      field="check_item_codes")
    scope = dict(data.get("scope") or {})
    checks = {"regions": select(Region.code), "industries": select(Industry.code),
              "business_types": select(BusinessType.code)}
    for key, query in checks.items():
        values = scope.get(key) or []
        if values:
            valid = set(session.scalars(query))
            bad = [v for v in values if v not in valid]
            if bad:
                raise Invalid(f"scope.{key}: 未知代码 {', '.join(map(str, bad))}", field=f"scope.{key}")
    if scope.get("regions"):
        # the pool is the departments' jurisdiction narrowed by the scope: a scope region
        # outside every department's jurisdiction would draw nobody
        tree = jurisdiction.region_tree(session)
        own = frozenset().union(*(d.regions for d in depts.values()))
        outside = [r for r in scope["regions"] if not jurisdiction.descendants(tree, r) & own]
        if outside:
            names = dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(outside))).all())
            raise Invalid(f"scope.regions: {'、'.join(names.get(r, r) for r in outside)} 不在所选实施部门的管辖范围内",
                          field="scope.regions")
    bad_types = [t for t in scope.get("entity_types") or [] if t not in ENTITY_TYPES]
    if bad_types:
        raise Invalid(f"scope.entity_types: 未知主体类型 {', '.join(bad_types)}", field="scope.entity_types")
    start, end = _date(data.get("period_start"), "period_start"), _date(data.get("period_end"), "period_end")
    if end < start:
        raise Invalid("period_end: 结束日期早于开始日期 (period ends before it starts)", field="period_end")
    ratios = {str(k): v for k, v in (data.get("ratios") or {}).items()}
    wanted = ("overall",) if design in ("uniform", "pps") else GRADES
    for key in wanted:
        value = ratios.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise Invalid(f"ratios.{key}: 抽查比例应为 0 到 1 之间的数 (ratio in [0, 1])", field=f"ratios.{key}")
    ratios = {k: float(ratios[k]) for k in wanted}
    force = list(data.get("force_warning_levels") or [])
    if [lv for lv in force if lv not in FORCE_LEVELS]:
        raise Invalid("force_warning_levels: 只能为 red / orange", field="force_warning_levels")
    per_task = data.get("inspectors_per_task", 2)
    if not isinstance(per_task, int) or per_task < 2:
        raise Invalid("inspectors_per_task: 依法每项检查至少两名执法人员 (at least 2 inspectors)",
                      field="inspectors_per_task")
    cap = data.get("workload_cap")
    if cap is not None and (not isinstance(cap, int) or cap < 1):
        raise Invalid("workload_cap: 应为正整数", field="workload_cap")
    exclusions = dict(data.get("exclusions") or {})
    for key in ("inspected_within_days", "registered_within_days"):
        v = exclusions.get(key)
        if v is not None and (not isinstance(v, int) or v < 0):
            raise Invalid(f"exclusions.{key}: 应为非负整数天数", field=f"exclusions.{key}")
    # every department taking part draws from its own inspector list (两库); others may be added
    pool_depts = list(dict.fromkeys(departments + list((data.get("inspector_pool") or {}).get("departments") or [])))
    return {
        "name": name[:200], "channel": channel, "design": design, "department_codes": departments,
        "check_item_codes": items, "scope": {k: list(v) for k, v in scope.items() if v},
        "period_start": start, "period_end": end, "ratios": ratios, "force_warning_levels": force,
        "exclusions": exclusions, "inspector_pool": {"departments": pool_depts}, "inspectors_per_task": per_task,
        "workload_cap": cap, "recusal": dict(data.get("recusal") or {"conflicts": True, "previous_inspectors": True}),
    }


def create_round(session: Session, data: dict[str, Any], *, actor: str, user_id: int | None = None,
                 seed: str | None = None) -> SamplingRound:
    """Define a round and commit to its secret seed (the commitment is public at once).

    ``seed`` is for reproducible simulations and tests; in service a fresh 256-bit seed is drawn.
    """
    values = clean_round(session, data)
    seed = seed or new_seed()
    rnd = SamplingRound(**values, state="committed", seed=seed, seed_commitment=commit(seed), created_by=user_id)
    session.add(rnd)
    session.flush()
    record(session, actor, "round.create", "round", rnd.id, name=rnd.name, commitment=rnd.seed_commitment)
    session.commit()
    return rnd


def get_round(session: Session, round_id: int) -> SamplingRound:
    rnd = session.get(SamplingRound, round_id)
    if rnd is None:
        raise NotFound(f"抽查计划不存在 (no round {round_id})")
    return rnd


# ---------------------------------------------------------------------------- the pool
def _prefix_filter(column: Any, codes: list[str], trailing: str) -> Any:
    """Region ``330100`` covers its counties ``3301xx``; industry ``H62`` covers ``H62xx``."""
    clauses = []
    for code in codes:
        stem = code.rstrip(trailing) if trailing else code
        clauses.append(column.like(f"{stem}%") if stem != code or not trailing else column == code)
    return or_(*clauses)


def build_pool(session: Session, rnd: SamplingRound, *, today: dt.date) -> Pool:
    """The round's pool: in-scope active entities, their grade, forced and excluded flags."""
    scope = rnd.scope or {}
    q = select(Entity.id, Entity.uscc, Entity.credit_grade, Entity.registered_on).where(
        Entity.status == "active",
        # the departments' jurisdiction (属地): a city division draws in its city, a county bureau in its county
        Entity.region_code.in_(sorted(jurisdiction.pool_regions(session, rnd.department_codes))))
    if scope.get("regions"):
        q = q.where(_prefix_filter(Entity.region_code, scope["regions"], "0"))
    if scope.get("industries"):
        q = q.where(_prefix_filter(Entity.industry_code, scope["industries"], ""))
    if scope.get("entity_types"):
        q = q.where(Entity.entity_type.in_(scope["entity_types"]))
    if scope.get("business_types"):
        q = q.where(Entity.business_type.in_(scope["business_types"]))
    if scope.get("licence_kinds"):
        q = q.where(Entity.id.in_(select(Licence.entity_id).where(Licence.kind.in_(scope["licence_kinds"]))))
    rows = session.execute(q.order_by(Entity.id)).all()
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    uscc = np.array([r[1] for r in rows], dtype=str)
    grades = np.array([GRADE_CODE.get(r[2] or "B", 1) for r in rows], dtype=np.int64)
    registered = np.array([r[3] for r in rows], dtype="datetime64[D]")
    n = len(ids)
    excluded = np.zeros(n, dtype=bool)
    counts: dict[str, int] = {}

    def mark(reason: str, mask: np.ndarray) -> None:
        counts[reason] = int((mask & ~excluded).sum())
        excluded[mask] = True

    def members(entity_ids: Any) -> np.ndarray:
        return np.isin(ids, np.fromiter(entity_ids, dtype=np.int64))

    ex = rnd.exclusions or {}
    if ex.get("registered_within_days"):
        mark("registered_recently", registered > np.datetime64(today - dt.timedelta(days=ex["registered_within_days"])))
    if ex.get("inspected_within_days"):
        since = today - dt.timedelta(days=ex["inspected_within_days"])
        mark("inspected_recently", members(session.scalars(
            select(InspectionResult.entity_id).where(InspectionResult.inspected_on >= since).distinct())))
    if ex.get("drawn_this_year"):
        year_start = dt.date(rnd.period_start.year, 1, 1)
        mark("drawn_this_year", members(session.scalars(
            select(DrawnEntity.entity_id).join(SamplingRound)
            .where(SamplingRound.period_start >= year_start, SamplingRound.id != rnd.id).distinct())))
    open_warnings = session.execute(select(Warning.entity_id, Warning.level).where(Warning.state.in_(OPEN_STATES))).all()
    warned = members({e for e, _ in open_warnings})
    if ex.get("a_grade_no_disturbance"):
        mark("a_grade_no_disturbance", (grades == 0) & ~warned)
    forced = members({e for e, lv in open_warnings if lv in (rnd.force_warning_levels or [])}) & ~excluded
    # Size measure for πps rounds: credit odds × (1 + the entity's highest current warning level).
    level = np.zeros(n)
    latest = session.scalar(select(func.max(risk_scores.c.as_of)))
    if latest is not None and n:
        lv = session.execute(select(risk_scores.c.entity_id, risk_scores.c.max_level)
                             .where(risk_scores.c.as_of == latest)).all()
        pos, ok = locate(ids, [r[0] for r in lv])
        level[pos[ok]] = np.array([r[1] for r in lv], dtype=np.float64)[ok]
    odds = np.array([GRADE_ODDS[g] for g in GRADES])[grades] if n else np.zeros(0)
    return Pool(ids, uscc, grades, odds * (1 + level), forced, excluded, counts)


def _draw(rnd: SamplingRound, strata: np.ndarray, weights: np.ndarray, forced: np.ndarray, excluded: np.ndarray,
          seed: str) -> DrawResult:
    """The draw as a pure function of the design, the pool columns and the seed."""
    rng = rng_from_seed(seed, purpose=f"round:{rnd.id}:entities")
    if rnd.design == "stratified":
        return stratified_sample(strata, {GRADE_CODE[g]: r for g, r in rnd.ratios.items()}, forced=forced,
                                 excluded=excluded, rng=rng)
    if rnd.design == "uniform":
        return stratified_sample(np.zeros(len(strata), dtype=np.int64), {0: rnd.ratios["overall"]}, forced=forced,
                                 excluded=excluded, rng=rng)
    eligible = int((~excluded).sum())
    k = min(eligible, int(round(rnd.ratios["overall"] * eligible)) + int((forced & ~excluded).sum()))
    return pps_sample(weights, k, forced=forced, excluded=excluded, rng=rng)


def preview(session: Session, rnd: SamplingRound, *, today: dt.date) -> dict[str, Any]:
    """Pool size and expected draw per grade, before drawing."""
    pool = build_pool(session, rnd, today=today)
    frame = ~pool.excluded
    out: dict[str, Any] = {"pool": int(frame.sum()), "pool_total": len(pool.entity_ids),
                           "excluded": pool.excluded_counts, "forced": int(pool.forced.sum()), "by_grade": {}}
    if rnd.design == "pps":
        from sampling.draw import pps_inclusion_probabilities

        k = int(round(rnd.ratios["overall"] * frame.sum()))
        pi = np.zeros(len(pool.entity_ids))
        if k and frame.any():
            pi[frame] = pps_inclusion_probabilities(pool.weights[frame], k)
    for g, code in GRADE_CODE.items():
        in_g = frame & (pool.strata == code)
        n_g = int(in_g.sum())
        forced_g = int((pool.forced & in_g).sum())
        if rnd.design == "stratified":
            ratio = rnd.ratios.get(g, 0.0)
            expected = forced_g + ratio * (n_g - forced_g)
        elif rnd.design == "uniform":
            ratio = rnd.ratios["overall"]
            expected = forced_g + ratio * (n_g - forced_g)
        else:
            expected = float(pi[in_g].sum())
            ratio = expected / n_g if n_g else 0.0
        out["by_grade"][g] = {"pool": n_g, "ratio": round(float(ratio), 4), "forced": forced_g,
                              "expected": round(float(expected), 1)}
    out["expected_total"] = round(sum(v["expected"] for v in out["by_grade"].values()), 1)
    return out


# ---------------------------------------------------------------------------- the draw
def _pool_file(pool_dir: str | Path, rnd: SamplingRound) -> Path:
    path = Path(pool_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path / f"round-{rnd.id}-pool.npz"


def run_draw(session: Session, rnd: SamplingRound, *, actor: str, today: dt.date, pool_dir: str | Path,
             calendar: WorkCalendar | None = None, publish_days: int = 20) -> dict[str, Any]:
    """Draw the entities, assign inspectors, create the tasks; reveal the seed."""
    won = session.execute(update(SamplingRound).where(SamplingRound.id == rnd.id, SamplingRound.state == "committed")
                          .values(state="drawing").execution_options(synchronize_session=False)).rowcount
    session.commit()
    if won != 1:
        session.refresh(rnd)
        raise Conflict(f"抽查计划 {rnd.id} 已抽取或正在抽取 (round already drawn; state {rnd.state})")
    session.refresh(rnd)
    try:
        return _draw_and_assign(session, rnd, actor=actor, today=today, pool_dir=pool_dir,
                                calendar=calendar or WorkCalendar(), publish_days=publish_days)
    except BaseException:
        # BaseException too: gunicorn stops a worker past its timeout with SystemExit, and a
        # round left "drawing" could never be drawn again
        session.rollback()
        session.execute(update(SamplingRound).where(SamplingRound.id == rnd.id).values(state="committed"))
        session.commit()
        raise


def _draw_and_assign(session: Session, rnd: SamplingRound, *, actor: str, today: dt.date, pool_dir: str | Path,
                     calendar: WorkCalendar, publish_days: int) -> dict[str, Any]:
    pool = build_pool(session, rnd, today=today)
    path, digest = write_pool_snapshot(pool_dir, rnd, pool)
    assert rnd.seed is not None
    result = _draw(rnd, pool.strata, pool.weights, pool.forced, pool.excluded, rnd.seed)
    drawn_ids = pool.entity_ids[result.indices]
    if len(drawn_ids):
        session.execute(DrawnEntity.__table__.insert(), [
            {"round_id": rnd.id, "entity_id": int(e), "rank": i, "stratum": GRADES[int(s)] if s >= 0 else None,
             "inclusion_probability": float(p), "forced": bool(f)}
            for i, (e, s, p, f) in enumerate(zip(drawn_ids, pool.strata[result.indices],
                                                 result.inclusion_probability, result.forced, strict=True))])
    tasks, infeasible = _create_tasks(session, rnd, drawn_ids, today=today)
    rnd.state, rnd.pool_digest, rnd.pool_size, rnd.pool_path = "drawn", digest, int((~pool.excluded).sum()), str(path)
    rnd.drawn_at = utcnow()
    rnd.publish_due_on = calendar.add(today, publish_days)
    summary = {
        "round": rnd.id, "pool": rnd.pool_size, "drawn": int(len(drawn_ids)), "forced": int(result.forced.sum()),
        "tasks": tasks, "unassigned": len(infeasible), "infeasible": infeasible,
        "infeasible_reasons": dict(Counter(i["reason"] for i in infeasible)),
        "by_grade": {g: int((pool.strata[result.indices] == c).sum()) for g, c in GRADE_CODE.items()},
        "pool_digest": digest, "seed": rnd.seed, "seed_commitment": rnd.seed_commitment,
    }
    record(session, actor, "round.draw", "round", rnd.id, pool=rnd.pool_size, drawn=summary["drawn"],
           pool_digest=digest, seed=rnd.seed, unassigned=len(infeasible))
    session.commit()
    return summary


@dataclass(frozen=True)
class _Plan:
    """Who inspects one drawn entity: the departments taking part (the lead first), what
    each checks, and the task's items.
    """

    departments: tuple[str, ...]
    needs: tuple[frozenset[str], ...]  # per department: the domains its inspectors must hold
    form_code: str
    domains: tuple[str, ...]
    items: tuple[str, ...]
    reason: str | None = None  # why nobody can carry the task out


def _plan_tasks(session: Session, rnd: SamplingRound, drawn_ids: np.ndarray
                ) -> tuple[list[_Plan], dict[int, tuple[str, str, str]]]:
    """Each drawn entity's plan.

    A round that names check items is a joint inspection when its items belong to several
    departments: each item goes to the round department of the entity's jurisdiction whose
    domains hold it (the most local one), every such department takes part in the one
    visit, and its inspectors must be qualified for its own items. A round without items
    follows each business type's form: the department of the entity's jurisdiction that
    covers most of the form's domains leads it alone.
    """
    info = {r[0]: (r[1], r[2], r[3], r[4]) for r in session.execute(
        select(Entity.id, Entity.region_code, Entity.business_type, Entity.uscc, Entity.name)
        .where(Entity.id.in_(drawn_ids.tolist())))}
    forms = dict(session.execute(select(BusinessType.code, BusinessType.form_code)).all())
    templates = session.scalars(select(FormTemplate).where(FormTemplate.current.is_(True))).all()
    form_domains = {f.code: frozenset(i.get("domain") for i in f.items if i.get("domain")) for f in templates}
    form_items = {f.code: {str(i["id"]).upper() for i in f.items} for f in templates}
    depts = jurisdiction.departments(session, rnd.department_codes)
    order = {c: k for k, c in enumerate(rnd.department_codes)}
    item_domain = dict(session.execute(select(CheckItem.code, CheckItem.domain)
                                       .where(CheckItem.code.in_(rnd.check_item_codes))).all())
    plans: list[_Plan] = []
    cache: dict[tuple[str, str], _Plan] = {}
    for eid in drawn_ids.tolist():
        region, btype = info[eid][0], info[eid][1]
        form_code = forms.get(btype, "general")
        key = (region, form_code)
        if key not in cache:
            cover = jurisdiction.covering(depts, region)
            if rnd.check_item_codes:
                owner: dict[str, list[str]] = {}
                for code in rnd.check_item_codes:
                    d = next((d for d in cover if item_domain[code] in d.domains), None)
                    if d is not None:
                        owner.setdefault(d.code, []).append(code)
                chosen = sorted(owner, key=order.__getitem__)  # the round's first department leads
                needs = tuple(frozenset(item_domain[c] for c in owner[d]) for d in chosen)
                items = tuple(c for c in rnd.check_item_codes if any(c in owner[d] for d in chosen))
                plan = _Plan(tuple(chosen), needs, form_code, tuple(sorted({item_domain[c] for c in items})),
                             tuple(c for c in items if c not in form_items.get(form_code, set())),
                             None if chosen else "抽查事项均不属于该主体所在地实施部门的职责")
            else:
                covered = form_domains.get(form_code, frozenset())
                best = max(cover, key=lambda d: len(covered & d.domains), default=None)  # ties: most local
                plan = _Plan((best.code,), (covered & best.domains,), form_code, (), ()) if best else _Plan(
                    (), (), form_code, (), (), "该主体不在实施部门的管辖范围内")
            cache[key] = plan
        plans.append(cache[key])
    return plans, {e: (v[0], v[2], v[3]) for e, v in info.items()}


def _create_tasks(session: Session, rnd: SamplingRound, drawn_ids: np.ndarray, *, today: dt.date
                  ) -> tuple[int, list[dict[str, Any]]]:
    """One task per drawn entity (one visit, joint or not), with its inspectors drawn; a task
    nobody can carry out is stored as 无法实施 with the reason, and reported.
    """
    if not len(drawn_ids):
        return 0, []
    plans, info = _plan_tasks(session, rnd, drawn_ids)
    # Eligibility classes: tasks with the same departments and the same qualifications.
    class_of: dict[tuple[tuple[str, ...], tuple[frozenset[str], ...]], int] = {}
    groups = np.array([class_of.setdefault((p.departments, p.needs), len(class_of)) for p in plans], dtype=np.int64)
    classes = list(class_of)
    taking_part = sorted({d for p in plans for d in p.departments})
    dept_index = {d: k for k, d in enumerate(taking_part)}
    # Inspector pool (两库): active inspectors of the round's pool departments taking part.
    pool_depts = [d for d in rnd.inspector_pool.get("departments") or rnd.department_codes if d in dept_index]
    inspectors = session.execute(select(Inspector.id, Inspector.department_code, Inspector.domains)
                                 .where(Inspector.active.is_(True), Inspector.department_code.in_(pool_depts))
                                 .order_by(Inspector.id)).all()
    ins_ids = np.array([i[0] for i in inspectors], dtype=np.int64)
    ins_dept = np.array([dept_index[i[1]] for i in inspectors], dtype=np.int64)
    ins_domains = [frozenset(i[2] or []) for i in inspectors]
    eligibility = np.zeros((len(classes), len(ins_ids)), dtype=bool)
    required = np.zeros((len(classes), len(taking_part)), dtype=bool)
    for c, (members, needs) in enumerate(classes):
        for d, need in zip(members, needs, strict=True):
            required[c, dept_index[d]] = True
            eligibility[c] |= (ins_dept == dept_index[d]) & np.array([need <= have for have in ins_domains], dtype=bool)
    recusal: list[tuple[int, int]] = []
    ins_pos = {int(i): j for j, i in enumerate(ins_ids)}
    tasks_of_entity: dict[int, int] = {int(e): t for t, e in enumerate(drawn_ids)}
    rules = rnd.recusal or {}
    if rules.get("conflicts", True) and len(ins_ids):
        for ins, ent in session.execute(select(InspectorConflict.inspector_id, InspectorConflict.entity_id)
                                        .where(InspectorConflict.entity_id.in_(drawn_ids.tolist()))):
            if ins in ins_pos:
                recusal.append((tasks_of_entity[ent], ins_pos[ins]))
    if rules.get("previous_inspectors", True) and len(ins_ids):
        prev = session.execute(select(Task.entity_id, TaskAssignment.inspector_id).join(TaskAssignment)
                               .where(Task.entity_id.in_(drawn_ids.tolist()), Task.channel != "warning")).all()
        recusal += [(tasks_of_entity[e], ins_pos[i]) for e, i in prev if i in ins_pos]
    load = dict(session.execute(select(TaskAssignment.inspector_id, func.count()).join(Task)
                                .where(Task.state.in_(("assigned", "in_progress")))
                                .group_by(TaskAssignment.inspector_id)).all())
    workload = np.array([load.get(int(i), 0) for i in ins_ids], dtype=np.int64)
    assert rnd.seed is not None
    assignment = assign_inspectors(groups, eligibility, per_task=rnd.inspectors_per_task, workload=workload,
                                   cap=rnd.workload_cap, recusal=np.array(sorted(set(recusal)), dtype=np.int64)
                                   .reshape(-1, 2), departments=ins_dept, required=required,
                                   rng=rng_from_seed(rnd.seed, purpose=f"round:{rnd.id}:inspectors"))
    names = {d: i.name for d, i in jurisdiction.departments(session, taking_part).items()}
    reasons: dict[int, str] = {}
    for t, code in assignment.infeasible:
        text = REASONS.get(code, code)
        if code == "department_unstaffed":
            members, _needs = classes[int(groups[t])]
            lacking = [d for d in members if not (eligibility[groups[t]] & (ins_dept == dept_index[d])).any()]
            text = f"{'、'.join(names.get(d, d) for d in lacking)}没有具备所查事项执法资格的人员"
        reasons.setdefault(int(t), text)
    rows, crews, infeasible = [], [], []
    for t, eid in enumerate(drawn_ids.tolist()):
        plan = plans[t]
        chosen = [int(ins_ids[j]) for j in assignment.inspectors[t] if j >= 0]
        reason = plan.reason or reasons.get(t)
        if reason is None and len(chosen) < rnd.inspectors_per_task:
            reason = REASONS["not_enough_qualified"]
        row = {"entity_id": eid, "channel": rnd.channel, "round_id": rnd.id,
               "department_code": plan.departments[0] if plan.departments else rnd.department_codes[0],
               "state": "assigned", "form_code": plan.form_code, "due_on": rnd.period_end,
               "domains": list(plan.domains), "check_items": list(plan.items), "state_reason": None}
        if reason is not None:
            # 无法实施: stored with its reason (published so), never left pending for ever
            row.update(state="infeasible", state_reason=reason[:200])
            region, uscc, name = info[eid]
            infeasible.append({"entity_id": eid, "uscc": uscc, "name": name, "region_code": region,
                               "reason": reason})
            chosen = []
        rows.append(row)
        crews.append(chosen)
    # bulk: one INSERT … RETURNING for the tasks (in order), one for their inspectors
    for start in range(0, len(rows), 5_000):
        batch = rows[start:start + 5_000]
        ids = session.scalars(insert(Task).returning(Task.id, sort_by_parameter_order=True), batch).all()
        links = [{"task_id": task_id, "inspector_id": ins, "lead": k == 0}
                 for task_id, chosen in zip(ids, crews[start:start + 5_000], strict=True)
                 for k, ins in enumerate(chosen)]
        if links:
            session.execute(insert(TaskAssignment), links)
    return len(rows) - len(infeasible), infeasible


def publish(session: Session, rnd: SamplingRound, *, actor: str) -> SamplingRound:
    """Publish the draw: the seed, the drawn entities with their results as they come, the
    anonymised pool file. Results filed later appear on the public page at once; each is
    due there within 20 working days of its inspection's completion
    (:func:`server.publication.services.deadlines`).
    """
    if rnd.state != "drawn":
        raise Conflict(f"只有已抽取的计划可以公示 (round is {rnd.state})")
    rnd.state, rnd.published_at = "published", utcnow()
    record(session, actor, "round.publish", "round", rnd.id)
    session.commit()
    return rnd


# ---------------------------------------------------------------------------- pool file and replay
#: Columns of the public pool file, in order; ``key`` is the unit's salted hash, never its USCC.
POOL_FILE_COLUMNS = ("key", "stratum", "weight", "forced", "excluded")


def write_pool_snapshot(pool_dir: str | Path, rnd: SamplingRound, pool: Pool) -> tuple[Path, str]:
    """Store the pool the draw runs on; return its path and the digest fixed at the draw.

    Each unit gets a fresh random salt and a key ``sha256(salt:uscc)``
    (:func:`sampling.seed.unit_keys`). The digest covers the keys and the design columns
    (stratum, weight, forced, excluded) — exactly the public pool file — so anyone can
    check the file against the digest and replay the draw on it, while no row of an
    entity that was not drawn can be tied to that entity (its salt stays here).
    """
    path = _pool_file(pool_dir, rnd)
    salts = new_salts(len(pool.uscc))
    keys = unit_keys(pool.uscc, salts)
    np.savez_compressed(path, uscc=pool.uscc, entity_ids=pool.entity_ids, salts=salts, keys=keys,
                        strata=pool.strata, weights=pool.weights, forced=pool.forced, excluded=pool.excluded)
    return path, pool_digest(keys, pool.strata, pool.weights, pool.forced, pool.excluded)


def _load_pool(rnd: SamplingRound) -> dict[str, np.ndarray]:
    if not rnd.pool_path:
        raise Conflict("该计划尚未抽取 (round not drawn yet)")
    try:
        with np.load(rnd.pool_path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except OSError:
        raise NotFound("名录库快照不可用，无法复核 (pool snapshot unavailable)") from None


def replay(session: Session, rnd: SamplingRound) -> dict[str, Any]:
    """Re-run the draw as an outside verifier would, from what is published.

    1. the revealed seed matches the commitment published before the draw;
    2. the pool file (keys and design columns) matches the digest fixed at the draw;
    3. the draw re-run on that file with that seed picks exactly the rows whose keys are
       ``sha256(salt:uscc)`` of the published drawn entities (their salts are published with them).

    Pools stored before keys existed (no ``keys`` column) were digested over the USCC
    itself; they replay the same way with the USCC as key, on the server only (their
    file carries credit grades and is not published).
    """
    if rnd.state not in ("drawn", "published") or not rnd.pool_path or not rnd.seed:
        raise Conflict("该计划尚未抽取，无法复核 (round not drawn yet)")
    z = _load_pool(rnd)
    keyed = "keys" in z
    keys = z["keys"] if keyed else z["uscc"]
    strata, weights, forced, excluded = z["strata"], z["weights"], z["forced"], z["excluded"]
    digest = pool_digest(keys, strata, weights, forced, excluded)
    result = _draw(rnd, strata, weights, forced, excluded, rnd.seed)
    drawn = session.execute(select(DrawnEntity.entity_id, Entity.uscc).join(Entity, Entity.id == DrawnEntity.entity_id)
                            .where(DrawnEntity.round_id == rnd.id)).all()
    if keyed:
        salt_of = dict(zip(z["entity_ids"].tolist(), z["salts"].tolist(), strict=True))
        expected = set(unit_keys([u for _, u in drawn], [salt_of.get(e, "") for e, _ in drawn]).tolist())
    else:
        expected = {u for _, u in drawn}
    again = set(np.asarray(keys)[result.indices].tolist())
    return {
        "round": rnd.id, "seed": rnd.seed, "seed_commitment": rnd.seed_commitment,
        "seed_matches_commitment": verify(rnd.seed, rnd.seed_commitment or ""),
        "pool_digest": digest, "pool_digest_matches": digest == rnd.pool_digest,
        "drawn": len(drawn), "replayed": len(again), "draw_matches": again == expected,
        "method": DESIGNS[rnd.design], "pool_file_public": keyed,
    }


def pool_csv(rnd: SamplingRound) -> str:
    """The public pool file: one line per unit in draw order — key, stratum, weight, forced, excluded.

    ``key`` is the unit's salted hash (no USCC, no name); ``stratum`` is the design's stratum
    code (0–3 for A–D in credit-stratified rounds); weights are written exactly (``repr``),
    so :func:`sampling.seed.pool_digest` of the parsed file equals the published digest.
    A pool stored before keys existed is not published (it names every entity with its grade).
    """
    z = _load_pool(rnd)
    if "keys" not in z:
        raise Gone("该计划的名录库快照含主体信用等级，不予公开；请使用公示页面的“复核抽取” "
                   "(pool file predates anonymised keys; replay on the public page)")
    lines = [",".join(POOL_FILE_COLUMNS)]
    lines += [f"{k},{int(s)},{float(w)!r},{int(f)},{int(e)}"
              for k, s, w, f, e in zip(z["keys"].tolist(), z["strata"].tolist(), z["weights"].tolist(),
                                       z["forced"].tolist(), z["excluded"].tolist(), strict=True)]
    return "\n".join(lines) + "\n"


def round_progress(session: Session, rnd: SamplingRound) -> dict[str, Any]:
    """Tasks by state and results per grade."""
    states = dict(session.execute(select(Task.state, func.count()).where(Task.round_id == rnd.id)
                                  .group_by(Task.state)).all())
    rows = session.execute(
        select(DrawnEntity.stratum, func.count(DrawnEntity.id), func.count(InspectionResult.id),
               func.sum(case((InspectionResult.problem_found.is_(True), 1), else_=0)))
        .outerjoin(InspectionResult, and_(InspectionResult.entity_id == DrawnEntity.entity_id,
                                          InspectionResult.round_id == rnd.id))
        .where(DrawnEntity.round_id == rnd.id).group_by(DrawnEntity.stratum)).all()
    by_grade = {s or "-": {"drawn": int(n), "inspected": int(k), "problems": int(p or 0)} for s, n, k, p in rows}
    return {"round": rnd.id, "state": rnd.state, "tasks": states, "by_grade": by_grade,
            "drawn": sum(v["drawn"] for v in by_grade.values()),
            "inspected": sum(v["inspected"] for v in by_grade.values()),
            "problems": sum(v["problems"] for v in by_grade.values())}


def round_dict(rnd: SamplingRound, *, reveal: bool = True) -> dict[str, Any]:
    return {
        "id": rnd.id, "name": rnd.name, "channel": rnd.channel, "design": rnd.design,
        "design_label": DESIGNS[rnd.design], "state": rnd.state, "department_codes": rnd.department_codes,
        "check_item_codes": rnd.check_item_codes, "scope": rnd.scope, "ratios": rnd.ratios,
        "period_start": rnd.period_start.isoformat(), "period_end": rnd.period_end.isoformat(),
        "force_warning_levels": rnd.force_warning_levels, "exclusions": rnd.exclusions,
        "inspector_pool": rnd.inspector_pool, "inspectors_per_task": rnd.inspectors_per_task,
        "workload_cap": rnd.workload_cap, "recusal": rnd.recusal, "seed_commitment": rnd.seed_commitment,
        "seed": rnd.seed if reveal and rnd.state in ("drawn", "published") else None,
        "pool_digest": rnd.pool_digest, "pool_size": rnd.pool_size,
        "drawn_at": rnd.drawn_at.isoformat() if rnd.drawn_at else None,
        "publish_due_on": rnd.publish_due_on.isoformat() if rnd.publish_due_on else None,
        "published_at": rnd.published_at.isoformat() if rnd.published_at else None,
    }
