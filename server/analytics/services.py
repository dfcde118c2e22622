"""Hit rates (命中率 = inspections that found a problem ÷ inspections completed).

Every figure comes from recorded inspection results only, with counts, a 95 % Wilson
interval and, for channel comparisons, a two-proportion test against plain random
inspection. Grouping is done in SQL; intervals and tests with scipy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from scipy import stats
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from server.entities.models import Entity
from server.inspections.models import InspectionResult
from server.reference.models import Industry, Region
from server.tasks.models import CHANNELS
from server.warnings.models import Warning

DIMENSIONS = ("channel", "model", "grade", "region", "industry", "period")
DIMENSION_LABELS = {
    "channel": "检查渠道",
    "model": "预警模型",
    "grade": "信用等级",
    "region": "地区",
    "industry": "行业门类",
    "period": "期间",
}


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson score interval of k successes in n trials ((0, 1) when n = 0)."""
    if n == 0:
        return (0.0, 1.0)
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value that two hit rates differ (Fisher's exact test for small counts,
    else the chi-square test of the 2×2 table without continuity correction).
    """
    if min(n1, n2) == 0:
        return None
    table = [[k1, n1 - k1], [k2, n2 - k2]]
    if min(k1, k2, n1 - k1, n2 - k2) < 5:
        return float(stats.fisher_exact(table).pvalue)
    return float(stats.chi2_contingency(table, correction=False).pvalue)


def rate_row(key: Any, label: str, n: int, k: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"key": key, "label": label, "inspections": int(n), "problems": int(k),
            "hit_rate": (k / n) if n else None, "ci95": [lo, hi]}


def _month_expr(session: Session) -> Any:
    col = InspectionResult.inspected_on
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(col, "YYYY-MM")
    return func.strftime("%Y-%m", col)


def _period_of(month: str, granularity: str) -> str:
    year, mon = month.split("-")
    if granularity == "month":
        return month
    if granularity == "year":
        return year
    return f"{year}-Q{(int(mon) + 2) // 3}"


def hit_rates(
    session: Session,
    by: str,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    region: str | None = None,
    channel: str | None = None,
    period: str = "quarter",
) -> dict[str, Any]:
    """Hit rates grouped by one dimension, each with its Wilson interval; channel rows add
    the p-value of the difference from random inspection.
    """
    if by not in DIMENSIONS:
        raise ValueError(f"by must be one of {', '.join(DIMENSIONS)}")
    problem = func.sum(case((InspectionResult.problem_found.is_(True), 1), else_=0))
    q = select(func.count(InspectionResult.id), problem).select_from(InspectionResult)
    needs_entity = by in ("grade", "region", "industry") or region
    if needs_entity:
        q = q.join(Entity, Entity.id == InspectionResult.entity_id)
    if by == "channel":
        key = InspectionResult.channel
    elif by == "model":
        q = q.join(Warning, Warning.id == InspectionResult.warning_id)
        key = Warning.model
    elif by == "grade":
        key = func.coalesce(Entity.credit_grade, "?")
    elif by == "region":
        key = func.substr(Entity.region_code, 1, 4) + "00"
    elif by == "industry":
        key = func.substr(Entity.industry_code, 1, 1)
    else:
        key = _month_expr(session)
    q = q.add_columns(key.label("key")).group_by(key).order_by(key)
    if start:
        q = q.where(InspectionResult.inspected_on >= start)
    if end:
        q = q.where(InspectionResult.inspected_on <= end)
    if region:
        q = q.where(Entity.region_code.like(f"{region.rstrip('0')}%"))
    if channel:
        q = q.where(InspectionResult.channel == channel)
    rows = session.execute(q).all()
    if by == "period":
        merged: dict[str, list[int]] = {}
        for n, k, month in rows:
            acc = merged.setdefault(_period_of(month, period), [0, 0])
            acc[0] += int(n)
            acc[1] += int(k or 0)
        rows = [(n, k, key) for key, (n, k) in sorted(merged.items())]
    labels = _labels(session, by, [r[2] for r in rows])
    out = [rate_row(r[2], labels.get(r[2], str(r[2])), int(r[0]), int(r[1] or 0)) for r in rows]
    if by == "channel":
        base = next((r for r in out if r["key"] == "random"), None)
        for r in out:
            if base and r is not base:
                r["p_value_vs_random"] = two_proportion_p(r["problems"], r["inspections"],
                                                          base["problems"], base["inspections"])
                r["lift"] = (r["hit_rate"] / base["hit_rate"]) if base["hit_rate"] else None
    return {"by": by, "label": DIMENSION_LABELS[by], "rows": out,
            "total": rate_row("all", "合计", sum(r["inspections"] for r in out), sum(r["problems"] for r in out))}


def _labels(session: Session, by: str, keys: list[Any]) -> dict[Any, str]:
    if by == "channel":
        return dict(CHANNELS)
    if by == "model":
        from server.warnings.labels import model_label

        return {k: model_label(k) for k in keys}
    if by == "grade":
        return {g: f"{g} 类" for g in ("A", "B", "C", "D")} | {"?": "未评级"}
    if by == "region":
        return dict(session.execute(select(Region.code, Region.name).where(Region.code.in_(keys))).all())
    if by == "industry":
        return dict(session.execute(select(Industry.code, Industry.name).where(Industry.code.in_(keys))).all())
    return {}
