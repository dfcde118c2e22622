"""Running the loop on a synthetic province and measuring it (``shuangsui simulate``, ``demo``).

See :mod:`server.simulation.loop` for the per-period steps. Everything the report says
comes from what the system recorded (results, warnings, stored inclusion probabilities),
except the two figures only nature knows: ``oracle`` (the same number of inspections
given to the entities with the highest hidden propensity) and the true population rate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from risk_models.registry import MODEL_NAMES
from sampling.estimators import horvitz_thompson
from server.audit.services import record
from server.credit.services import score_credit, train_credit
from server.entities.models import Entity
from server.inspections.models import InspectionResult
from server.reference.models import CheckItem, Department
from server.risk.features import build_features, save_snapshot
from server.risk.services import (
    issue_from_scores,
    load_models,
    model_precision,
    score_models,
    train_model,
)
from server.rounds import services as rounds
from server.rounds.models import DrawnEntity
from server.simulation.loop import (
    InspectorUsers,
    SimulationConfig,
    channel_figures,
    inspect_tasks,
    stratified_ratios,
)
from server.simulation.province import SURNAMES, Province, ProvinceConfig, form_domains
from server.tasks.models import Inspector, InspectorConflict, Task
from server.warnings import services as warnings
from server.warnings.models import Warning
from server.workdays import WorkCalendar

SLA = {"red": 3, "orange": 7, "yellow": 15}
GIVEN2 = "建国志强海燕晓明丽华文杰小红国庆春梅伟东秀英"


@dataclass
class Context:
    config: SimulationConfig
    province: Province
    model_dir: Path
    pool_dir: Path
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    results: list[dict[str, Any]] = field(default_factory=list)
    oracle: list[tuple[int, int]] = field(default_factory=list)
    ht: list[tuple[float, float, float]] = field(default_factory=list)
    true_rates: list[float] = field(default_factory=list)


def _seed_hex(*parts: Any) -> str:
    return hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()


def create_inspectors(session: Session, entities: int, rng: np.random.Generator) -> int:
    """Staff every department (执法人员库): more inspectors where there are more entities.

    The market regulator's divisions carry the random rounds; the other agencies (卫生健康,
    生态环境, 应急管理, 税务, 消防 …) join joint inspections with a smaller staff each. Every
    inspector holds a certificate for the domains of their department.
    """
    per_dept = int(min(200, max(6, np.ceil(6 * entities / 20_000))))
    market = set(session.scalars(select(CheckItem.department_kind).distinct()
                                 .where(CheckItem.domain.in_(MODEL_NAMES))))
    rows = []
    for dept in session.scalars(select(Department).order_by(Department.code)):
        staff = per_dept if dept.kind in market else max(4, per_dept // 2)
        for k in range(staff):
            name = str(rng.choice(SURNAMES)) + GIVEN2[2 * int(rng.integers(0, len(GIVEN2) // 2)):][:2]
            rows.append({"name": name, "certificate_no": f"ZJ{dept.region_code}{dept.kind}{k:04d}",
                         "department_code": dept.code, "region_code": dept.region_code,
                         "domains": list(dept.domains), "active": True})
    session.execute(Inspector.__table__.insert(), rows)
    session.commit()
    return len(rows)


def declare_conflicts(session: Session, province: Province, rng: np.random.Generator, share: float = 0.002) -> int:
    """A few declared conflicts of interest (relatives running a business) for recusal."""
    ins = session.execute(select(Inspector.id, Inspector.region_code)).all()
    ids = province.entity_ids
    chosen = rng.choice(len(ids), size=max(1, int(share * len(ids))), replace=False)
    regions = dict(session.execute(select(Entity.id, Entity.region_code).where(Entity.id.in_(ids[chosen].tolist())))
                   .all())
    by_city: dict[str, list[int]] = {}
    for i, r in ins:
        by_city.setdefault(r[:4], []).append(i)
    rows = []
    for e in ids[chosen].tolist():
        pool = by_city.get(regions[e][:4])
        if pool:
            rows.append({"inspector_id": int(rng.choice(pool)), "entity_id": int(e), "reason": "近亲属经营"})
    if rows:
        session.execute(InspectorConflict.__table__.insert(), rows)
    session.commit()
    return len(rows)


def build_province(session: Session, config: SimulationConfig, *, data_dir: str | Path) -> Province:
    """Register the province, its staff and its history up to ``config.start``."""
    province = Province(ProvinceConfig(entities=config.entities, seed=config.seed, signal=config.signal,
                                       start=config.start), form_domains(Path(data_dir)))
    province.populate(session)
    rng = np.random.default_rng([config.seed, 2])
    create_inspectors(session, config.entities, rng)
    declare_conflicts(session, province, rng)
    # 15 months of feed history (the complaint baseline needs 450 days)
    province.advance(session, config.start - dt.timedelta(days=455), config.start)
    return province


def _warning_handling(session: Session, ctx: Context, period: int, today: dt.date, rng: np.random.Generator,
                      users: InspectorUsers) -> None:
    """Dispatch, accept and handle the warnings issued today (a few stay unhandled past SLA)."""
    cfg = ctx.config
    issued = session.scalars(select(Warning.id).where(Warning.state == "issued").order_by(Warning.id)).all()
    warnings.dispatch(session, issued, user=None, actor="system", today=today)
    dispatched = session.scalars(select(Warning).where(Warning.state == "dispatched").order_by(Warning.id)).all()
    tasks: list[Task] = []
    for w in dispatched:
        warnings.transition(session, w, "accepted", actor="system", today=today)
        u = rng.random()
        if u < cfg.unhandled_share:
            continue  # capacity: left accepted, will go overdue
        try:
            task = warnings.start_inspection(session, w, actor="system", today=today, rng=rng)
        except Exception:  # noqa: BLE001 - not enough qualified staff: stays accepted (overdue later)
            continue
        if u < cfg.unhandled_share + cfg.unreachable_share:
            task.state = "cancelled"
            warnings.close_unreachable(session, w, actor="system", today=today + dt.timedelta(days=2),
                                       note="经营场所人去楼空，无法联系")
            continue
        tasks.append(task)
    session.commit()
    on = today + dt.timedelta(days=3)
    ctx.results += [dict(r, period=period) for r in inspect_tasks(session, ctx.province, tasks, on=on, rng=rng,
                                                                   users=users)]


def _round(session: Session, ctx: Context, period: int, today: dt.date, *, channel: str,
           ratios: dict[str, float]) -> Any:
    departments = session.scalars(select(Department.code).order_by(Department.code)).all()
    end = today + dt.timedelta(days=ctx.config.period_days - 1)
    label = "信用分类" if channel == "credit_weighted" else "随机（对照）"
    rnd = rounds.create_round(session, {
        "name": f"{today.year}年第{period + 1}期{label}双随机抽查", "channel": channel,
        "design": "stratified" if channel == "credit_weighted" else "uniform",
        "department_codes": departments, "check_item_codes": [], "scope": {},
        "period_start": today, "period_end": end, "ratios": ratios, "force_warning_levels": [],
        "exclusions": {}, "inspectors_per_task": 2, "recusal": {"conflicts": True, "previous_inspectors": True},
    }, actor="supervisor", seed=_seed_hex(ctx.config.seed, period, channel))
    rounds.run_draw(session, rnd, actor="supervisor", today=today, pool_dir=ctx.pool_dir, calendar=ctx.calendar)
    return rnd


def score_province(session: Session, today: dt.date, *, model_dir: Path, calendar: WorkCalendar,
                   step: Any = None) -> None:
    """Today's scoring from recorded data only: features (kept as a snapshot) → credit grades (the
    scorecard retrained once enough outcomes are recorded) → the 15 models retrained on the outcomes
    so far → scores → warnings above thresholds.
    """
    def done(label: str) -> None:
        if step:
            step(label)

    frame = build_features(session, today)
    save_snapshot(session, frame, model_dir)
    done("features")
    train_credit(session, until=today, model_dir=model_dir)  # no-op while outcomes are too few
    score_credit(session, frame)
    done("credit")
    for name in MODEL_NAMES:
        train_model(session, name, until=today, model_dir=model_dir, population=frame)
    models = load_models(session)
    run = score_models(session, frame, models)
    issue_from_scores(session, frame, run, models, today=today, calendar=calendar, sla=SLA)
    done("models")


def run_period(session: Session, ctx: Context, period: int, *, progress: Any = None) -> None:
    cfg = ctx.config
    today = cfg.start + dt.timedelta(days=period * cfg.period_days)
    rng = np.random.default_rng([cfg.seed, 100 + period])
    users = InspectorUsers(session)

    def step(label: str) -> None:
        if progress:
            progress(f"period {period + 1}: {label}")

    score_province(session, today, model_dir=ctx.model_dir, calendar=ctx.calendar, step=step)
    _warning_handling(session, ctx, period, today, rng, users)
    n_warning = sum(1 for r in ctx.results if r["period"] == period and r["channel"] == "warning")
    ctx.oracle.append(ctx.province.oracle_rate(n_warning, np.random.default_rng([cfg.seed, 200 + period])))
    step("warnings")
    # the supervisor's credit-weighted round and the uniform control with the same budget
    grades = dict(session.execute(select(Entity.credit_grade, func.count()).group_by(Entity.credit_grade)).all())
    budget_n = cfg.budget * sum(grades.values())
    credit_round = _round(session, ctx, period, today, channel="credit_weighted",
                          ratios=stratified_ratios({g: grades.get(g, 0) for g in "ABCD"}, budget_n))
    control = _round(session, ctx, period, today, channel="random", ratios={"overall": cfg.budget})
    ctx.true_rates.append(float(ctx.province.propensity().mean()))
    step("draws")
    for rnd in (credit_round, control):
        tasks = session.scalars(select(Task).where(Task.round_id == rnd.id, Task.state == "assigned")
                                .order_by(Task.id)).all()
        on = today + dt.timedelta(days=int(rng.integers(10, 60)))
        ctx.results += [dict(r, period=period) for r in inspect_tasks(session, ctx.province, list(tasks), on=on,
                                                                       rng=rng, users=users)]
        rounds.publish(session, rnd, actor="supervisor")
    ctx.ht.append(_ht_estimate(session, credit_round))
    step("inspections")
    end = today + dt.timedelta(days=cfg.period_days)
    warnings.mark_overdue(session, today=end - dt.timedelta(days=1))
    ctx.province.advance(session, today, end)
    step("feeds")


def _ht_estimate(session: Session, rnd: Any) -> tuple[float, float, float]:
    """Population violation rate from one stratified draw: y/π over the inspected units."""
    rows = session.execute(
        select(DrawnEntity.stratum, DrawnEntity.inclusion_probability, InspectionResult.problem_found)
        .join(InspectionResult, (InspectionResult.entity_id == DrawnEntity.entity_id)
              & (InspectionResult.round_id == rnd.id))
        .where(DrawnEntity.round_id == rnd.id)).all()
    if not rows:
        return (float("nan"), float("nan"), float("nan"))
    codes = {g: i for i, g in enumerate("ABCD")}
    strata = np.array([codes.get(r[0], 1) for r in rows])
    pi = np.array([r[1] for r in rows], dtype=np.float64)
    y = np.array([1.0 if r[2] else 0.0 for r in rows])
    with np.load(rnd.pool_path, allow_pickle=False) as z:
        frame = ~z["excluded"]
        sizes = {int(h): float((z["strata"][frame] == h).sum()) for h in np.unique(z["strata"][frame])}
    est = horvitz_thompson(y, pi, N=float(frame.sum()), strata=strata, stratum_sizes=sizes)
    return est.mean, est.ci95[0], est.ci95[1]


def report(session: Session, ctx: Context) -> dict[str, Any]:
    cfg = ctx.config
    results = ctx.results
    channels = {
        "random": channel_figures(results, "random"),
        "credit_weighted": channel_figures(results, "credit_weighted"),
        "risk_warning": channel_figures(results, "warning"),
    }
    n_o = sum(n for n, _ in ctx.oracle)
    k_o = sum(k for _, k in ctx.oracle)
    from server.analytics.services import rate_row

    row = rate_row("oracle", "oracle", n_o, k_o)
    channels["oracle"] = {"inspections": n_o, "problems": k_o, "hit_rate": row["hit_rate"] or 0.0,
                          "ci95": row["ci95"]}
    base = channels["random"]["hit_rate"]
    lift = {k: (channels[k]["hit_rate"] / base if base else 0.0) for k in ("credit_weighted", "risk_warning")}
    lift_ci = {k: _ratio_ci(channels[k], channels["random"]) for k in lift}
    loop = warnings.loop_figures(session)
    ht = np.array(ctx.ht, dtype=np.float64)
    per_model = {r["model"]: r for r in model_precision(session)}
    models = {}
    for name in MODEL_NAMES:
        r = per_model.get(name, {})
        models[name] = {"warnings": int(r.get("warnings", 0) or 0), "inspected": int(r.get("inspected", 0) or 0),
                        "precision": r.get("precision")}
    # the mean of per-period estimates; its interval from the per-period standard errors
    if len(ht):
        mean = float(np.nanmean(ht[:, 0]))
        half = np.sqrt(np.nansum(((ht[:, 2] - ht[:, 1]) / 2) ** 2)) / len(ht)
        ci = [round(mean - half, 4), round(mean + half, 4)]
    else:
        mean, ci = float("nan"), [float("nan"), float("nan")]
    return {
        "entities": cfg.entities, "periods": cfg.periods, "seed": cfg.seed, "signal": cfg.signal,
        "channels": channels,
        "lift": {k: round(v, 3) for k, v in lift.items()},
        "lift_ci95": lift_ci,
        "warnings": {"issued": loop.issued, "handled": loop.handled, "entities": loop.entities,
                     "problem_entities": loop.problem_entities,
                     "handling_rate": round(loop.handling_rate, 4) if loop.handling_rate is not None else None,
                     "hit_rate": round(loop.hit_rate, 4) if loop.hit_rate is not None else None},
        "population_violation_rate": {"true": round(float(np.mean(ctx.true_rates)), 4) if ctx.true_rates else 0.0,
                                      "horvitz_thompson": round(mean, 4), "ci95": ci},
        "models": models,
        "grades": _grade_rates(session, results),
    }


def _ratio_ci(a: dict[str, Any], b: dict[str, Any]) -> list[float] | None:
    """95 % interval of the ratio of two hit rates (log-ratio normal approximation, Katz 1978)."""
    from scipy.stats import norm

    n1, k1, n2, k2 = a["inspections"], a["problems"], b["inspections"], b["problems"]
    if not (n1 and k1 and n2 and k2):
        return None
    p1, p2 = k1 / n1, k2 / n2
    se = float(np.sqrt((1 - p1) / k1 + (1 - p2) / k2))
    z = float(norm.ppf(0.975))
    r = p1 / p2
    return [round(r * float(np.exp(-z * se)), 3), round(r * float(np.exp(z * se)), 3)]


def _grade_rates(session: Session, results: list[dict[str, Any]]) -> dict[str, Any]:
    """Hit rate per credit grade among the control round's inspections (grade at draw time),
    with the entities holding each grade at the end of the run.
    """
    rows = session.execute(select(DrawnEntity.entity_id, DrawnEntity.stratum, DrawnEntity.round_id)).all()
    grade = {(r[2], r[0]): r[1] for r in rows}
    rid = dict(session.execute(select(Task.id, Task.round_id)).all())
    out: dict[str, list[int]] = {g: [0, 0] for g in "ABCD"}
    for r in results:
        if r["channel"] != "random":
            continue
        g = grade.get((rid.get(r["task_id"]), r["entity_id"]))
        if g in out:
            out[g][0] += 1
            out[g][1] += int(r["problem"])
    held = dict(session.execute(select(Entity.credit_grade, func.count()).group_by(Entity.credit_grade)).all())
    return {g: {"entities": int(held.get(g, 0)), "inspections": n, "problems": k,
                "hit_rate": round(k / n, 4) if n else None}
            for g, (n, k) in out.items()}


def run_simulation(session: Session, config: SimulationConfig, *, data_dir: str | Path, model_dir: str | Path,
                   pool_dir: str | Path, progress: Any = None) -> dict[str, Any]:
    province = build_province(session, config, data_dir=data_dir)
    if progress:
        progress("province")
    ctx = Context(config, province, Path(model_dir), Path(pool_dir))
    for period in range(config.periods):
        run_period(session, ctx, period, progress=progress)
    out = report(session, ctx)
    record(session, "simulator", "simulation.run", "simulation", None, entities=config.entities,
           periods=config.periods, seed=config.seed)
    session.commit()
    return out
