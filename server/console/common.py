"""What the console's pages share: navigation, filters, number formats, the export route."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from flask import abort, current_app, request

from server.auth.decorators import OFFICE, public, roles_required
from server.console.exports import FORMATS, export
from server.console.views import bp
from server.errors import Invalid

WRITE_ROUNDS = ("supervisor", "admin")
DISPATCH = ("supervisor", "admin")

#: (endpoint, label, roles) for the top bar of base.html (shown when the route exists).
NAV = [
    ("console.rounds", "抽查计划", OFFICE),
    ("console.warning_board", "预警看板", OFFICE),
    ("console.inspectors", "执法人员", OFFICE),
    ("console.analytics", "命中率分析", OFFICE),
    ("console.model_evaluation", "模型评估", OFFICE),
    ("console.estimates", "总体估计", OFFICE),
    ("console.public_rounds", "结果公示", ("inspector", *OFFICE)),
]


@bp.app_context_processor
def navigation() -> dict[str, Any]:
    return {"nav_items": [n for n in NAV if n[0] in current_app.view_functions]}


@bp.app_template_filter("pct")
def pct(value: float | None, digits: int = 1) -> str:
    # NaN: a rate over nothing (an empty bin), shown like a missing value
    return "—" if value is None or value != value else f"{100.0 * value:.{digits}f}%"


@bp.app_template_filter("pvalue")
def pvalue(value: float | None) -> str:
    if value is None:
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


@bp.app_template_filter("num")
def num(value: float | int | None, digits: int = 0) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:,.{digits}f}"


_BIN = re.compile(r"^([\[(])\s*([^,]+),\s*([^)\]]+)[)\]]$")


@bp.app_template_filter("bin_range")
def bin_range(label: str) -> str:
    """A scorecard bin as people read it: ``[3.58658, 11.8877)`` → ``3.587 ≤ x < 11.89``,
    ``(-inf, 1)`` → ``< 1``, ``[1, inf)`` → ``≥ 1``, ``Missing`` → ``缺失``.
    """
    if label.strip().lower() == "missing":
        return "缺失"
    m = _BIN.match(label.strip())
    if not m:
        return label

    def short(x: str) -> str:
        v = float(x)
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:,.0f}"

    lo, hi = m.group(2).strip(), m.group(3).strip()
    low_open, high_open = lo in ("-inf", "-Infinity"), hi in ("inf", "Infinity")
    if low_open and high_open:
        return "全部"
    if low_open:
        return f"< {short(hi)}"
    if high_open:
        return f"≥ {short(lo)}"
    return f"{short(lo)} ≤ x < {short(hi)}"


def _date(name: str) -> dt.date | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError as exc:
        raise Invalid(f"日期格式应为 YYYY-MM-DD ({name}={raw!r})", field=name) from exc


def period_filters() -> dict[str, Any]:
    """``start``, ``end``, ``region`` (2–6 digits) and ``period`` from the query string."""
    region = request.args.get("region", "").strip() or None
    if region and not re.fullmatch(r"\d{2,6}", region):
        raise Invalid(f"地区代码应为 2–6 位数字 (region={region!r})", field="region")
    period = request.args.get("period", "quarter")
    if period not in ("month", "quarter", "year"):
        period = "quarter"
    start, end = _date("start"), _date("end")
    if start and end and start > end:
        raise Invalid("开始日期晚于结束日期 (start after end)", field="start")
    return {"start": start, "end": end, "region": region, "period": period}


def query_args(filters: Mapping[str, Any], **extra: Any) -> dict[str, str]:
    """Return the filters (non-empty) as strings for ``url_for`` links (exports, API)."""
    out = {
        k: (v.isoformat() if isinstance(v, dt.date) else str(v))
        for k, v in {**filters, **extra}.items()
        if v not in (None, "")
    }
    return out


#: name → (roles, producer(args) -> (rows, columns))
TABLES: dict[
    str, tuple[Sequence[str], Callable[[Mapping[str, str]], tuple[list[dict[str, Any]], list[str]]]]
] = {}


def table(name: str, roles: Sequence[str] = OFFICE) -> Callable[[Any], Any]:
    """Register a console table for ``/export/<name>.<csv|json>``."""

    def decorator(fn: Any) -> Any:
        TABLES[name] = (roles, fn)
        return fn

    return decorator


@bp.get("/export/<name>.<fmt>")
@roles_required(*OFFICE)
def export_table(name: str, fmt: str) -> Any:
    if name not in TABLES or fmt not in FORMATS:
        abort(404)
    roles, producer = TABLES[name]
    from server.auth.decorators import current_user
    from server.errors import Forbidden

    user = current_user()
    if user is None or not user.has_role(*roles):
        raise Forbidden(f"当前用户无权导出 {name}")
    rows, columns = producer(request.args)
    suffix = "-".join(
        v for k, v in sorted(request.args.items()) if k in ("by", "model", "round") and v
    )
    return export(rows, columns, f"{name}-{suffix}" if suffix else name, fmt)


@bp.get("/favicon.ico")
@public
def favicon() -> Any:
    return current_app.send_static_file("img/favicon.svg")
