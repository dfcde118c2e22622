"""Read-only figures the console needs and no feature service provides yet.

Each helper takes a ``Session`` and returns plain dicts/lists (rates as fractions);
nothing here writes. Bulk work is done with Core selects and numpy.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from risk_models.registry import MODEL_NAMES
from sampling.estimators import horvitz_thompson
from server.analytics.services import wilson
from server.entities.models import Entity
from server.inspections.models import InspectionResult
from server.risk.models import risk_scores
from server.risk.services import model_precision
from server.rounds.models import DrawnEntity, SamplingRound
from server.warnings.labels import model_label
from server.warnings.models import Warning

GRADES = ("A", "B", "C", "D")


def grade_distribution(session: Session) -> list[dict[str, Any]]:
    """Entities per credit grade (with the share of the graded population)."""
    counts: dict[str, int] = {}
    for grade, n in session.execute(
        select(Entity.credit_grade, func.count()).group_by(Entity.credit_grade)
    ):
        counts[grade or "?"] = counts.get(grade or "?", 0) + int(n)
    total = sum(counts.values())
    keys = [*GRADES, *(["?"] if counts.get("?") else [])]
    return [
        {
            "grade": g,
            "label": "未评级" if g == "?" else f"{g} 类",
            "entities": int(counts.get(g, 0)),
            "share": (counts.get(g, 0) / total) if total else None,
        }
        for g in keys
    ]


def precision_by_version(session: Session) -> list[dict[str, Any]]:
    """Precision of each model version, with its Wilson interval and first warning date.

    Wraps :func:`server.risk.services.model_precision`; the date a version first raised a
    warning is its place on the time axis.
    """
    first = {
        (m, v): d
        for m, v, d in session.execute(
            select(Warning.model, Warning.model_version, func.min(Warning.issued_on))
            .where(Warning.state != "merged")
            .group_by(Warning.model, Warning.model_version)
        ).all()
    }
    out = []
    for row in model_precision(session, by_version=True):
        lo, hi = wilson(row["problems"], row["inspected"])
        since = first.get((row["model"], row["model_version"]))
        out.append(
            {
                **row,
                "model_label": model_label(row["model"]),
                "first_issued_on": since,
                "ci95": [lo, hi],
            }
        )
    out.sort(key=lambda r: (r["model"], r["first_issued_on"] or dt.date.min, r["model_version"]))
    return out


def scored_outcomes(
    session: Session, models: Sequence[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Pair recorded outcomes with the scores the models had given before them.

    Per model: the inspections that checked its domain, each with the entity's latest
    stored score of that model on or before the inspection day.

    Returns ``{model: (scores, y)}``; ``y`` is 1 where the inspection found a problem in
    the model's domain. Results and scores are read once for all models.
    """
    unknown = [m for m in models if m not in MODEL_NAMES]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}")
    empty = (np.zeros(0), np.zeros(0))
    out = {m: empty for m in models}
    results = session.execute(
        select(
            InspectionResult.entity_id,
            InspectionResult.inspected_on,
            InspectionResult.problem_domains,
            InspectionResult.checked_domains,
        )
    ).all()
    if not results or not models:
        return out
    cols = [risk_scores.c[f"s_{m}"] for m in models]
    inspected_ids = select(InspectionResult.entity_id).distinct().scalar_subquery()
    scores = session.execute(
        select(risk_scores.c.entity_id, risk_scores.c.as_of, *cols).where(
            risk_scores.c.entity_id.in_(inspected_ids)
        )
    ).all()
    if not scores:
        return out
    epoch = dt.date(2000, 1, 1)
    s_ids = np.array([r[0] for r in scores], dtype=np.int64)
    s_keys = s_ids * 100_000 + np.array([(r[1] - epoch).days for r in scores], dtype=np.int64)
    s_val = np.array(
        [[np.nan if v is None else v for v in r[2:]] for r in scores], dtype=np.float64
    )
    order = np.argsort(s_keys, kind="stable")
    s_keys, s_ids, s_val = s_keys[order], s_ids[order], s_val[order]
    r_ids = np.array([r[0] for r in results], dtype=np.int64)
    r_keys = r_ids * 100_000 + np.array([(r[1] - epoch).days for r in results], dtype=np.int64)
    pos = np.searchsorted(s_keys, r_keys, side="right") - 1  # latest score on or before the day
    matched = (pos >= 0) & (s_ids[np.clip(pos, 0, None)] == r_ids)
    for j, m in enumerate(models):
        checked = np.array([m in (r[3] or []) for r in results], dtype=bool)
        y = np.array([m in (r[2] or []) for r in results], dtype=np.float64)
        val = np.where(matched, s_val[np.clip(pos, 0, None), j], np.nan)
        ok = checked & ~np.isnan(val)
        out[m] = (val[ok], y[ok])
    return out


def auc(scores: np.ndarray, y: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann–Whitney U over ranks; ties count half)."""
    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return None
    ranks = stats.rankdata(scores)
    return float((ranks[y == 1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def lift_curve(scores: np.ndarray, y: np.ndarray, points: int = 10) -> list[dict[str, Any]]:
    """Cumulative lift: hit rate among the top x % by score ÷ the overall hit rate."""
    n = len(y)
    if n == 0:
        return []
    base = float(y.mean())
    order = np.argsort(-scores, kind="stable")
    cum = np.cumsum(y[order])
    out = []
    for i in range(1, points + 1):
        k = max(1, math.ceil(n * i / points))
        hits = float(cum[k - 1])
        rate = hits / k
        out.append(
            {
                "share": i / points,
                "inspections": k,
                "problems": int(hits),
                "hit_rate": rate,
                "lift": (rate / base) if base else None,
                "captured": (hits / float(cum[-1])) if cum[-1] else None,
            }
        )
    return out


def calibration(scores: np.ndarray, y: np.ndarray, bins: int = 10) -> list[dict[str, Any]]:
    """Observed hit rate per score band of width 1/bins (non-empty bands only)."""
    if len(y) == 0:
        return []
    band = np.minimum((scores * bins).astype(np.int64), bins - 1)
    out = []
    for b in np.unique(band):
        sel = band == b
        n, k = int(sel.sum()), int(y[sel].sum())
        lo, hi = wilson(k, n)
        out.append(
            {
                "band": f"{b / bins:.1f}–{(b + 1) / bins:.1f}",
                "mean_score": float(scores[sel].mean()),
                "inspections": n,
                "problems": k,
                "hit_rate": k / n,
                "ci95": [lo, hi],
            }
        )
    return out


def model_evaluations(session: Session, models: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Evaluate each model's stored scores against the recorded outcomes.

    Hit rate, AUC, Brier score, lift curve and calibration per model.
    """
    out = {}
    for model, (scores, y) in scored_outcomes(session, models).items():
        out[model] = {
            "model": model,
            "model_label": model_label(model),
            "inspections": len(y),
            "problems": int(y.sum()),
            "hit_rate": float(y.mean()) if len(y) else None,
            "auc": auc(scores, y),
            "brier": float(np.mean((scores - y) ** 2)) if len(y) else None,
            "lift": lift_curve(scores, y),
            "calibration": calibration(scores, y),
        }
        top = out[model]["lift"]
        out[model]["top_decile_lift"] = top[0]["lift"] if top else None
    return out


def models_with_outcomes(session: Session) -> list[str]:
    """Models whose domain some recorded inspection checked (catalogue order)."""
    seen: set[str] = set()
    for (domains,) in session.execute(select(InspectionResult.checked_domains)):
        seen.update(domains or [])
    return [m for m in MODEL_NAMES if m in seen]


GRADE_INDEX = {g: i for i, g in enumerate(GRADES)}  # the pool snapshot's stratum codes


def _pool_sizes(path: str | None) -> tuple[float | None, dict[int, float] | None]:
    """Return the size and per-stratum sizes of a draw's frame (pool minus exclusions)."""
    if not path:
        return None, None
    try:
        with np.load(path, allow_pickle=False) as z:
            frame = ~z["excluded"]
            strata = z["strata"][frame]
    except (OSError, KeyError, ValueError):
        return None, None
    return float(frame.sum()), {int(h): float((strata == h).sum()) for h in np.unique(strata)}


def ht_summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean of the per-round estimates by channel, its interval from their standard errors.

    The same pooling as ``shuangsui simulate`` reports for its credit-weighted rounds.
    """
    out = []
    for channel in ("credit_weighted", "random"):
        est = [r for r in rows if r["channel"] == channel and r["ht_rate"] is not None]
        if not est:
            continue
        mean = float(np.mean([r["ht_rate"] for r in est]))
        half = float(np.sqrt(sum(((r["ci95"][1] - r["ci95"][0]) / 2) ** 2 for r in est)) / len(est))
        out.append(
            {
                "channel": channel,
                "rounds": len(est),
                "ht_rate": mean,
                "ci95": [mean - half, mean + half],
                "inspected": sum(r["inspected"] for r in est),
                "problems": sum(r["problems"] for r in est),
            }
        )
    return out


def ht_estimates(session: Session) -> list[dict[str, Any]]:
    """Horvitz–Thompson estimate of the population violation rate from each drawn round.

    Units are the drawn entities whose inspection result is recorded, weighted by the
    inclusion probability stored with the draw. With the round's pool snapshot, N and the
    stratum sizes come from it (as in ``shuangsui simulate``): a stratified round gets the
    exact stratified variance over its credit-grade strata, a uniform round one stratum,
    a πps round the with-replacement approximation. Without the snapshot N is estimated
    by Σ 1/π (Hájek). Drawn units not yet inspected are left out.
    """
    rounds = session.scalars(
        select(SamplingRound)
        .where(SamplingRound.state.in_(("drawn", "published")))
        .order_by(SamplingRound.period_start, SamplingRound.id)
    ).all()
    if not rounds:
        return []
    drawn_counts = dict(
        session.execute(
            select(DrawnEntity.round_id, func.count()).group_by(DrawnEntity.round_id)
        ).all()
    )
    rows = session.execute(
        select(
            DrawnEntity.round_id,
            DrawnEntity.inclusion_probability,
            DrawnEntity.stratum,
            InspectionResult.problem_found,
        ).join(
            InspectionResult,
            and_(
                InspectionResult.round_id == DrawnEntity.round_id,
                InspectionResult.entity_id == DrawnEntity.entity_id,
            ),
        )
    ).all()
    by_round: dict[int, list[tuple[float, str | None, bool]]] = {}
    for rid, pi, stratum, problem in rows:
        by_round.setdefault(rid, []).append((float(pi), stratum, bool(problem)))
    out = []
    for rnd in rounds:
        units = by_round.get(rnd.id, [])
        row: dict[str, Any] = {
            "round_id": rnd.id,
            "round": rnd.name,
            "channel": rnd.channel,
            "design": rnd.design,
            "period_start": rnd.period_start,
            "pool_size": rnd.pool_size,
            "drawn": int(drawn_counts.get(rnd.id, 0)),
            "inspected": len(units),
            "problems": sum(1 for u in units if u[2]),
            "naive_rate": None,
            "ht_rate": None,
            "se": None,
            "ci95": None,
            "population": None,
        }
        if units:
            pi = np.array([u[0] for u in units])
            y = np.array([u[2] for u in units], dtype=np.float64)
            size, sizes = _pool_sizes(rnd.pool_path)
            strata = None
            if rnd.design == "stratified":
                strata = np.array([GRADE_INDEX.get(str(u[1]), 1) for u in units], dtype=np.int64)
            elif rnd.design == "uniform":
                strata = np.zeros(len(units), dtype=np.int64)
                sizes = {0: size} if size is not None else None
            est = horvitz_thompson(y, pi, N=size, strata=strata, stratum_sizes=sizes)
            row.update(
                naive_rate=float(y.mean()),
                ht_rate=est.mean,
                se=est.se,
                ci95=[float(c) for c in est.ci95],
                population=est.N,
            )
        out.append(row)
    return out


def round_results(session: Session, round_id: int) -> list[dict[str, Any]]:
    """Return the drawn entities of a round with their inspection outcome (if recorded)."""
    from server.tasks.models import Inspector, Task, TaskAssignment

    rows = session.execute(
        select(
            DrawnEntity.rank,
            DrawnEntity.stratum,
            DrawnEntity.inclusion_probability,
            DrawnEntity.forced,
            Entity.id,
            Entity.uscc,
            Entity.name,
            Entity.region_code,
            Entity.credit_grade,
            Entity.address,
        )
        .join(Entity, Entity.id == DrawnEntity.entity_id)
        .where(DrawnEntity.round_id == round_id)
        .order_by(DrawnEntity.rank)
    ).all()
    tasks = {
        e: (tid, state)
        for tid, e, state in session.execute(
            select(Task.id, Task.entity_id, Task.state).where(Task.round_id == round_id)
        ).all()
    }
    departments: dict[int, set[str]] = {}
    for tid, dept in session.execute(
        select(TaskAssignment.task_id, Inspector.department_code)
        .join(Inspector)
        .join(Task, Task.id == TaskAssignment.task_id)
        .where(Task.round_id == round_id)
    ).all():
        departments.setdefault(tid, set()).add(dept)
    results = {
        e: (d, p, s)
        for e, d, p, s in session.execute(
            select(
                InspectionResult.entity_id,
                InspectionResult.inspected_on,
                InspectionResult.problem_found,
                InspectionResult.summary,
            ).where(InspectionResult.round_id == round_id)
        ).all()
    }
    out = []
    for rank, stratum, pi, forced, eid, uscc, name, region, grade, address in rows:
        task = tasks.get(eid)
        res = results.get(eid)
        out.append(
            {
                "rank": rank,
                "uscc": uscc,
                "name": name,
                "address": address,
                "region_code": region,
                "credit_grade": grade,
                "stratum": stratum,
                "inclusion_probability": pi,
                "forced": bool(forced),
                "task_id": task[0] if task else None,
                "task_state": task[1] if task else None,
                "inspector_departments": sorted(departments.get(task[0], ())) if task else [],
                "inspected_on": res[0] if res else None,
                "problem_found": res[1] if res else None,
                "summary": res[2] if res else None,
            }
        )
    return out


def channel_periods(
    session: Session, hit_rates_fn: Any, **filters: Any
) -> dict[str, list[dict[str, Any]]]:
    """Hit rate per period for each channel (for the 'over periods' chart)."""
    from server.tasks.models import CHANNELS

    return {c: hit_rates_fn(session, "period", channel=c, **filters)["rows"] for c in CHANNELS}


__all__ = [
    "auc",
    "calibration",
    "channel_periods",
    "grade_distribution",
    "ht_estimates",
    "ht_summary",
    "lift_curve",
    "model_evaluations",
    "models_with_outcomes",
    "precision_by_version",
    "round_results",
    "scored_outcomes",
]
