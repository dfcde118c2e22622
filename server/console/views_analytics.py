"""Analyst pages: hit rates, the warning loop, model evaluation, population estimates."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import render_template, request

from server.analytics.services import DIMENSION_LABELS, DIMENSIONS, hit_rates
from server.auth.decorators import OFFICE, roles_required
from server.console import charts, queries
from server.console.common import period_filters, query_args, table
from server.console.views import bp
from server.extensions import db
from server.tasks.models import CHANNELS
from server.warnings.services import loop_figures

LOOP_ROWS = [
    ("issued", "发出风险预警（条）", "count"),
    ("handled", "已处置预警（条）", "count"),
    ("handling_rate", "处置率", "rate"),
    ("entities", "涉及市场主体（户）", "count"),
    ("problem_entities", "检查后确认存在问题的主体（户）", "count"),
    ("hit_rate", "预警核查命中率", "rate"),
    ("random_inspections", "同期随机抽查（次）", "count"),
    ("random_problems", "随机抽查发现问题（次）", "count"),
    ("random_hit_rate", "随机抽查命中率", "rate"),
    ("lift", "命中率提升倍数（预警 ÷ 随机）", "ratio"),
    ("overdue", "超期未办结预警（条）", "count"),
]
HIT_RATE_COLUMNS = ["key", "label", "inspections", "problems", "hit_rate", "ci95_low", "ci95_high"]


def _hit_rates(filters: Mapping[str, Any], by: str) -> dict[str, Any]:
    return hit_rates(
        db.session,
        by,
        start=filters["start"],
        end=filters["end"],
        region=filters["region"],
        period=filters["period"],
    )


def _loop_rows(filters: Mapping[str, Any]) -> list[dict[str, Any]]:
    figures = loop_figures(
        db.session, start=filters["start"], end=filters["end"], region=filters["region"]
    ).as_dict()
    return [
        {"figure": key, "label": label, "value": figures[key], "kind": kind}
        for key, label, kind in LOOP_ROWS
    ]


@bp.get("/analytics")
@roles_required(*OFFICE)
def analytics() -> Any:
    filters = period_filters()
    results = {by: _hit_rates(filters, by) for by in DIMENSIONS}
    random_rate = next(
        (r["hit_rate"] for r in results["channel"]["rows"] if r["key"] == "random"), None
    )
    loop = _loop_rows(filters)
    grades = queries.grade_distribution(db.session)
    over_periods = queries.channel_periods(db.session, hit_rates, **filters)
    figures = {
        "channel": charts.rate_bars(
            results["channel"]["rows"],
            "命中率：按检查渠道",
            subtitle="柱为命中率，须线为 95% Wilson 置信区间",
            colours=charts.CHANNEL_COLOURS,
        ),
        "periods": charts.rates_over_periods(over_periods, CHANNELS, "命中率：各期对比"),
        "model": charts.rate_bars(
            results["model"]["rows"], "命中率：按预警模型", baseline=random_rate
        ),
        "grade": charts.rate_bars(
            results["grade"]["rows"],
            "命中率：按信用等级",
            baseline=random_rate,
            colours=charts.GRADE_COLOURS,
        ),
        "region": charts.rate_bars(
            results["region"]["rows"], "命中率：按地区", baseline=random_rate
        ),
        "industry": charts.rate_bars(
            results["industry"]["rows"], "命中率：按行业门类", baseline=random_rate
        ),
        "grades": charts.grade_chart(grades, "信用等级分布"),
    }
    return render_template(
        "console/analytics.html",
        filters=filters,
        results=results,
        loop=loop,
        grades=grades,
        loop_values={r["figure"]: r["value"] for r in loop},
        figures=figures,
        labels=DIMENSION_LABELS,
        order=DIMENSIONS,
        args=query_args(filters),
    )


@bp.get("/analytics/models")
@roles_required(*OFFICE)
def model_evaluation() -> Any:
    available = queries.models_with_outcomes(db.session)
    evaluations = queries.model_evaluations(db.session, available)
    chosen = request.args.get("model") or (available[0] if available else None)
    if chosen not in evaluations:
        chosen = available[0] if available else None
    current = evaluations.get(chosen) if chosen else None
    precision = queries.precision_by_version(db.session)
    shown = [current["model_label"]] if current else []
    figures: dict[str, Any] = {
        "precision": charts.precision_over_versions(precision, "模型精确率：按版本", shown=shown)
    }
    if current:
        figures["lift"] = charts.lift_chart(
            current["lift"], f"提升度曲线 · {current['model_label']}"
        )
        figures["calibration"] = charts.calibration_chart(
            current["calibration"], f"校准图 · {current['model_label']}"
        )
    return render_template(
        "console/models.html",
        evaluations=evaluations,
        chosen=chosen,
        current=current,
        precision=precision,
        figures=figures,
    )


@bp.get("/analytics/estimates")
@roles_required(*OFFICE)
def estimates() -> Any:
    rows = queries.ht_estimates(db.session)
    summary = queries.ht_summary(rows)
    grades = queries.grade_distribution(db.session)
    figures = {
        "ht": charts.ht_chart(rows, "总体违法率估计：按抽查计划"),
        "grades": charts.grade_chart(grades, "信用等级分布"),
    }
    return render_template(
        "console/estimates.html",
        rows=rows,
        summary=summary,
        grades=grades,
        figures=figures,
        channels=CHANNELS,
    )


# ---- exports (CSV / JSON) of the tables above that have no API of their own --------------


@table("warning-loop")
def _export_loop(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return _loop_rows(period_filters()), ["figure", "label", "value"]


@table("hit-rates")
def _export_hit_rates(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    by = args.get("by", "channel")
    if by not in DIMENSIONS:
        by = "channel"
    rows = _hit_rates(period_filters(), by)["rows"]
    cols = HIT_RATE_COLUMNS + (["lift", "p_value_vs_random"] if by == "channel" else [])
    return rows, cols


@table("channel-periods")
def _export_channel_periods(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    series = queries.channel_periods(db.session, hit_rates, **period_filters())
    rows = [
        {"channel": c, "period": r["key"], **{k: v for k, v in r.items() if k != "key"}}
        for c, items in series.items()
        for r in items
    ]
    return rows, [
        "channel",
        "period",
        "inspections",
        "problems",
        "hit_rate",
        "ci95_low",
        "ci95_high",
    ]


@table("grades")
def _export_grades(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return queries.grade_distribution(db.session), ["grade", "label", "entities", "share"]


@table("model-precision")
def _export_precision(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return queries.precision_by_version(db.session), [
        "model",
        "model_label",
        "model_version",
        "first_issued_on",
        "warnings",
        "inspected",
        "problems",
        "precision",
        "ci95_low",
        "ci95_high",
    ]


@table("model-evaluation")
def _export_evaluation(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    evaluations = queries.model_evaluations(db.session, queries.models_with_outcomes(db.session))
    return list(evaluations.values()), [
        "model",
        "model_label",
        "inspections",
        "problems",
        "hit_rate",
        "auc",
        "brier",
        "top_decile_lift",
    ]


def _one_model(args: Mapping[str, str]) -> dict[str, Any]:
    from risk_models.registry import MODEL_NAMES

    model = args.get("model", "")
    if model not in MODEL_NAMES:
        from server.errors import Invalid

        raise Invalid(f"未知模型 (unknown model {model!r})", field="model")
    return queries.model_evaluations(db.session, [model])[model]


@table("lift")
def _export_lift(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return _one_model(args)["lift"], [
        "share",
        "inspections",
        "problems",
        "hit_rate",
        "lift",
        "captured",
    ]


@table("calibration")
def _export_calibration(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return _one_model(args)["calibration"], [
        "band",
        "mean_score",
        "inspections",
        "problems",
        "hit_rate",
        "ci95_low",
        "ci95_high",
    ]


@table("ht-estimates")
def _export_ht(args: Mapping[str, str]) -> tuple[list[dict[str, Any]], list[str]]:
    return queries.ht_estimates(db.session), [
        "round_id",
        "round",
        "channel",
        "design",
        "period_start",
        "pool_size",
        "drawn",
        "inspected",
        "problems",
        "naive_rate",
        "ht_rate",
        "se",
        "ci95_low",
        "ci95_high",
        "population",
    ]


@bp.get("/analytics/credit")
@roles_required(*OFFICE)
def credit_scorecard() -> Any:
    """The public credit scorecard in use: its points, segments, cut-offs and grades."""
    from server.credit.services import scorecard_summary

    card = scorecard_summary(db.session)
    rates = {r["key"]: r for r in hit_rates(db.session, "grade")["rows"]}
    grades = [{**g, "rate": rates.get(g["grade"])} for g in queries.grade_distribution(db.session)]
    segments: dict[str, list[dict[str, Any]]] = {}
    for row in card["rows"]:
        segments.setdefault(row.get("segment_label") or "全部", []).append(row)
    return render_template("console/credit.html", card=card, grades=grades, segments=segments)
