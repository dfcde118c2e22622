"""ECharts options built on the server, embedded in pages as JSON data blocks.

The page never runs inline script (CSP ``script-src 'self'``): ``static/js/charts.js``
reads each ``<script type="application/json">`` block and hands it to ECharts. Two
conventions the JS understands: a series of ``type: "errorbar"`` (``[x, low, high]``
points, drawn as whiskers) and ``"_percent": true`` (tooltip values shown with %).
Rates are given in percent so axis labels can use ECharts' string formatters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

PALETTE = ["#b42318", "#3182ce", "#2f855a", "#dd6b20", "#805ad5", "#d69e2e", "#319795", "#718096"]
GRADE_COLOURS = {"A": "#2f855a", "B": "#3182ce", "C": "#dd6b20", "D": "#c53030", "?": "#a0aec0"}
CHANNEL_COLOURS = {"random": "#718096", "credit_weighted": "#3182ce", "warning": "#b42318"}
FONT = "Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, sans-serif"


def pct(x: float | None) -> float | None:
    return None if x is None else round(100.0 * float(x), 2)


def _x_named(option: dict[str, Any]) -> dict[str, Any]:
    """Room under the plot for an x-axis name centred below the axis labels."""
    option["grid"] = {**option["grid"], "bottom": 40}
    return option


def _base(title: str, subtitle: str | None = None) -> dict[str, Any]:
    return {
        "_percent": True,
        "color": PALETTE,
        "textStyle": {"fontFamily": FONT},
        "title": {
            "text": title,
            "subtext": subtitle or "",
            "left": 8,
            "top": 4,
            "textStyle": {"fontSize": 15, "fontWeight": 600},
        },
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 24, "right": 24, "top": 92, "bottom": 16, "containLabel": True},
        "animation": False,
    }


def rate_bars(
    rows: Sequence[dict[str, Any]],
    title: str,
    *,
    subtitle: str | None = None,
    colours: dict[str, str] | None = None,
    baseline: float | None = None,
    baseline_label: str = "随机抽查",
) -> dict[str, Any]:
    """Hit rate per category as bars with their 95 % Wilson interval as whiskers.

    Up to six categories stand as columns; more lie as horizontal bars (long Chinese
    names stay readable), and the chart grows with them (``_height``).
    """
    horizontal = len(rows) > 6
    # The rate is written beside each category: a label on the bar would sit under the whisker.
    sep = "  " if horizontal else "\n"
    labels = [
        f"{r['label']}{sep}{pct(r['hit_rate']) if r['hit_rate'] is not None else '—'}%"
        for r in rows
    ]
    bars = []
    for r in rows:
        item: dict[str, Any] = {
            "value": pct(r["hit_rate"]),
            "n": r["inspections"],
            "k": r["problems"],
        }
        colour = (colours or {}).get(str(r["key"]))
        if colour:
            item["itemStyle"] = {"color": colour}
        bars.append(item)
    category = {"type": "category", "data": labels, "axisLabel": {"interval": 0, "lineHeight": 16}}
    value = {"type": "value", "name": "命中率 %", "axisLabel": {"formatter": "{value}%"}}
    option = _base(title, subtitle)
    option.update(
        {
            "legend": {"top": 8, "right": 12, "data": ["命中率", "95% 置信区间"]},
            "xAxis": value if horizontal else category,
            "yAxis": {**category, "inverse": True} if horizontal else value,
            "series": [
                {
                    "name": "命中率",
                    "type": "bar",
                    "data": bars,
                    "barMaxWidth": 48 if not horizontal else 18,
                },
                {
                    "name": "95% 置信区间",
                    "type": "errorbar",
                    "horizontal": horizontal,
                    "data": [[i, pct(r["ci95"][0]), pct(r["ci95"][1])] for i, r in enumerate(rows)],
                },
            ],
        }
    )
    if horizontal:
        option["_height"] = 150 + 30 * len(rows)
        option["tooltip"]["axisPointer"] = {"type": "shadow"}
        value.update(nameLocation="middle", nameGap=28)
        option["grid"]["bottom"] = 40
    if baseline is not None:
        option["series"][0]["markLine"] = {
            "symbol": "none",
            "lineStyle": {"type": "dashed", "color": "#4a5568"},
            "label": {
                "formatter": f"{baseline_label}\n{pct(baseline)}%",
                "position": "start" if horizontal else "end",
                "color": "#4a5568",
            },
            "data": [{"xAxis" if horizontal else "yAxis": pct(baseline)}],
        }
        if not horizontal:
            option["grid"]["right"] = 72
    return option


def rates_over_periods(
    series: dict[str, Sequence[dict[str, Any]]], names: dict[str, str], title: str
) -> dict[str, Any]:
    """One line per channel: hit rate per period."""
    periods = sorted({str(r["key"]) for rows in series.values() for r in rows})
    option = _base(title, "各期命中率，按检查渠道")
    option.update(
        {
            "legend": {"top": 8, "right": 12},
            "xAxis": {"type": "category", "data": periods, "boundaryGap": False},
            "yAxis": {"type": "value", "name": "命中率 %", "axisLabel": {"formatter": "{value}%"}},
            "series": [
                {
                    "name": names.get(c, c),
                    "type": "line",
                    "smooth": False,
                    "symbolSize": 8,
                    "connectNulls": True,
                    "lineStyle": {"width": 3},
                    "itemStyle": {"color": CHANNEL_COLOURS.get(c)},
                    "data": [pct(by_key[p]["hit_rate"]) if p in by_key else None for p in periods],
                }
                for c, rows in series.items()
                for by_key in [{str(r["key"]): r for r in rows}]
                if rows
            ],
        }
    )
    return option


def lift_chart(points: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    option = _base(title, "按分值从高到低检查前 x% 的主体，命中率是总体的多少倍")
    option["_percent"] = False
    option.update(
        {
            "legend": {"top": 8, "right": 12},
            "xAxis": {
                "type": "category",
                "nameLocation": "middle",
                "nameGap": 30,
                "name": "检查比例",
                "data": [f"{round(p['share'] * 100)}%" for p in points],
                "boundaryGap": False,
            },
            "yAxis": {"type": "value", "name": "提升度 (lift)", "min": 0},
            "series": [
                {
                    "name": "模型",
                    "type": "line",
                    "symbolSize": 8,
                    "lineStyle": {"width": 3},
                    "areaStyle": {"opacity": 0.08},
                    "data": [None if p["lift"] is None else round(p["lift"], 3) for p in points],
                },
                {
                    "name": "随机 (=1)",
                    "type": "line",
                    "symbol": "none",
                    "lineStyle": {"type": "dashed", "color": "#718096"},
                    "itemStyle": {"color": "#718096"},
                    "data": [1] * len(points),
                },
            ],
        }
    )
    return _x_named(option)


def calibration_chart(bins: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    option = _base(title, "各分值段的实际命中率（含 95% 区间），虚线为完美校准")
    option["tooltip"] = {"trigger": "item"}
    option.update(
        {
            "legend": {"top": 8, "right": 12},
            "xAxis": {
                "type": "value",
                "nameLocation": "middle",
                "nameGap": 30,
                "name": "平均分值 %",
                "min": 0,
                "max": 100,
                "axisLabel": {"formatter": "{value}%"},
            },
            "yAxis": {
                "type": "value",
                "name": "实际命中率 %",
                "min": 0,
                "max": 100,
                "axisLabel": {"formatter": "{value}%"},
            },
            "series": [
                {
                    "name": "完美校准",
                    "type": "line",
                    "symbol": "none",
                    "data": [[0, 0], [100, 100]],
                    "lineStyle": {"type": "dashed", "color": "#718096"},
                    "itemStyle": {"color": "#718096"},
                },
                {
                    "name": "95% 置信区间",
                    "type": "errorbar",
                    "itemStyle": {"color": "#b42318"},
                    "data": [
                        [pct(b["mean_score"]), pct(b["ci95"][0]), pct(b["ci95"][1])] for b in bins
                    ],
                },
                {
                    "name": "实际命中率",
                    "type": "scatter",
                    "itemStyle": {"color": "#b42318"},
                    "symbolSize": 12,
                    "data": [
                        [pct(b["mean_score"]), pct(b["hit_rate"]), b["inspections"]] for b in bins
                    ],
                },
            ],
        }
    )
    return _x_named(option)


def precision_over_versions(
    rows: Iterable[dict[str, Any]], title: str, *, shown: Sequence[str] = ()
) -> dict[str, Any]:
    """Precision of each model's versions placed at the date each version first warned.

    Only the models in ``shown`` (labels) start visible; the legend adds the others.
    """
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        if r["precision"] is not None and r["first_issued_on"] is not None:
            by_model.setdefault(r["model_label"], []).append(r)
    option = _base(
        title, "每个版本自首次发出预警起的精确率（发现问题 ÷ 已核查）；点击图例加入其他模型"
    )
    option["tooltip"] = {"trigger": "item"}
    option.update(
        {
            "legend": {
                "top": 8,
                "right": 12,
                "width": "55%",
                "type": "scroll",
                **({"selected": {m: m in shown for m in by_model}} if shown else {}),
            },
            "xAxis": {"type": "time", "nameLocation": "middle", "nameGap": 30, "name": "版本启用"},
            "yAxis": {
                "type": "value",
                "name": "精确率 %",
                "min": 0,
                "axisLabel": {"formatter": "{value}%"},
            },
            "series": [
                {
                    "name": label,
                    "type": "line",
                    "symbolSize": 9,
                    "label": {"show": True, "position": "top", "formatter": "v{@[2]}"},
                    "data": [
                        [r["first_issued_on"].isoformat(), pct(r["precision"]), r["model_version"]]
                        for r in items
                    ],
                }
                for label, items in by_model.items()
            ],
        }
    )
    return _x_named(option)


def grade_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    option = _base(title, "市场主体按信用风险分类")
    option["_percent"] = False
    option.update(
        {
            "xAxis": {"type": "category", "data": [r["label"] for r in rows]},
            "yAxis": {"type": "value", "name": "主体数"},
            "series": [
                {
                    "name": "主体数",
                    "type": "bar",
                    "barMaxWidth": 64,
                    "label": {"show": True, "position": "top"},
                    "data": [
                        {
                            "value": r["entities"],
                            "itemStyle": {"color": GRADE_COLOURS.get(r["grade"])},
                        }
                        for r in rows
                    ],
                }
            ],
        }
    )
    return option


def ht_chart(rows: Sequence[dict[str, Any]], title: str) -> dict[str, Any]:
    rows = [r for r in rows if r["ht_rate"] is not None]
    option = _base(title, "Horvitz–Thompson 估计（含 95% 区间）与样本命中率")
    option.update(
        {
            "legend": {"top": 8, "right": 12},
            "xAxis": {
                "type": "category",
                "data": [r["round"] for r in rows],
                "axisLabel": {"interval": 0, "rotate": 20 if len(rows) > 4 else 0},
            },
            "yAxis": {
                "type": "value",
                "name": "违法率 %",
                "min": 0,
                "axisLabel": {"formatter": "{value}%"},
            },
            "series": [
                {
                    "name": "HT 估计",
                    "type": "bar",
                    "barMaxWidth": 40,
                    "data": [pct(r["ht_rate"]) for r in rows],
                },
                {
                    "name": "95% 置信区间",
                    "type": "errorbar",
                    "data": [[i, pct(r["ci95"][0]), pct(r["ci95"][1])] for i, r in enumerate(rows)],
                },
                {
                    "name": "样本命中率（未加权）",
                    "type": "scatter",
                    "symbol": "diamond",
                    "symbolSize": 12,
                    "itemStyle": {"color": "#2d3748"},
                    "data": [pct(r["naive_rate"]) for r in rows],
                },
            ],
        }
    )
    return option


def workload_chart(
    rows: Sequence[dict[str, Any]], title: str, cap: int | None = None
) -> dict[str, Any]:
    option = _base(title, "每名执法人员的在办任务数")
    option["_percent"] = False
    option.update(
        {
            "grid": {"left": 16, "right": 24, "top": 72, "bottom": 40, "containLabel": True},
            "xAxis": {"type": "value", "nameLocation": "middle", "nameGap": 30, "name": "在办任务"},
            "yAxis": {"type": "category", "data": [r["name"] for r in rows], "inverse": True},
            "series": [
                {
                    "name": "在办任务",
                    "type": "bar",
                    "barMaxWidth": 18,
                    "data": [r["open_tasks"] for r in rows],
                    **(
                        {
                            "markLine": {
                                "symbol": "none",
                                "data": [{"xAxis": cap}],
                                "label": {"formatter": f"上限 {cap}"},
                            }
                        }
                        if cap
                        else {}
                    ),
                }
            ],
        }
    )
    return option


def progress_chart(counts: dict[str, int], labels: dict[str, str], title: str) -> dict[str, Any]:
    option = _base(title, None)
    option["_percent"] = False
    option["tooltip"] = {"trigger": "item"}
    option.update(
        {
            "series": [
                {
                    "name": "任务",
                    "type": "pie",
                    "radius": ["40%", "68%"],
                    "center": ["50%", "56%"],
                    "label": {"formatter": "{b}\n{c} 项"},
                    "data": [
                        {"name": labels.get(k, k), "value": v} for k, v in counts.items() if v
                    ],
                }
            ],
        }
    )
    return option
