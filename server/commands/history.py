"""``shuangsui evaluate-history``: backtest risk targeting on an agency's own records.

The work is done by :mod:`risk_models.history`; this module parses options, prints
the report (or one JSON object with ``--json``; progress goes to stderr) and saves
the lift chart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click

from risk_models.history import (
    HistoryInputError,
    backtest,
    format_report,
    lift_chart_png,
    load_history,
)

__all__ = ["evaluate_history"]

REPORT_NAME = "evaluate-history-report.txt"
CHART_NAME = "evaluate-history-lift.png"


@click.command("evaluate-history")
@click.argument("csv", type=click.Path(dir_okay=False))
@click.option("--entity-col", default="entity_id", show_default=True, help="Entity id column.")
@click.option("--date-col", default="inspected_on", show_default=True,
              help="Inspection date column.")
@click.option("--outcome-col", default="violation", show_default=True,
              help="Outcome column: 0/1 or true/false (problem found).")
@click.option("--feature-col", "feature_cols", multiple=True, metavar="NAME",
              help="Feature column (repeatable, or comma-separated). Default: all other columns.")
@click.option("--exclude-col", "exclude_cols", multiple=True, metavar="NAME",
              help="Column never used as a feature (repeatable, or comma-separated).")
@click.option("--test-from", default=None, metavar="DATE",
              help="Test one window from DATE to the end instead of rolling windows.")
@click.option("--windows", default=4, show_default=True, type=click.IntRange(min=1),
              help="Rolling-origin test windows (equal numbers of inspections).")
@click.option("--top", default=0.1, show_default=True,
              type=click.FloatRange(0, 1, min_open=True),
              help="Fraction of each window inspected from the top of the ranking.")
@click.option("--seed", default=0, show_default=True, type=int, help="LightGBM seed.")
@click.option("--out", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Directory for the report and lift chart (default: current directory; "
                   "with --json nothing is saved unless given).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def evaluate_history(
    csv: str, entity_col: str, date_col: str, outcome_col: str,
    feature_cols: tuple[str, ...], exclude_cols: tuple[str, ...], test_from: str | None,
    windows: int, top: float, seed: int, out_dir: str | None, as_json: bool,
) -> None:
    """Backtest risk targeting on past inspections in CSV (历史回测).

    Ranks each test window's inspections by a LightGBM model trained on earlier
    records, by the history-only baseline and at random, and compares hit rates of
    the top fraction.
    """
    started = time.perf_counter()

    def progress(line: str) -> None:
        click.echo(line, err=True)

    try:
        data = load_history(
            csv, entity_col=entity_col, date_col=date_col, outcome_col=outcome_col,
            feature_cols=feature_cols, exclude_cols=exclude_cols,
        )
        progress(f"{data.day.size} rows, {data.features.shape[1]} feature column(s) read")
        result = backtest(data, windows=windows, test_from=test_from, top=top, seed=seed,
                          progress=progress)
    except HistoryInputError as exc:
        raise click.ClickException(str(exc)) from exc

    chart = ""
    if out_dir is not None or not as_json:
        directory = Path(out_dir or ".")
        directory.mkdir(parents=True, exist_ok=True)
        chart_path = directory / CHART_NAME
        chart_path.write_bytes(lift_chart_png(result, title=f"Lift chart: {Path(csv).name}"))
        chart = str(chart_path)
        report = format_report(result.summary, source=Path(csv).name, chart=chart)
        (directory / REPORT_NAME).write_text(report + "\n", encoding="utf-8")
    progress(f"done in {time.perf_counter() - started:.1f} s")
    if as_json:
        click.echo(json.dumps(result.summary, ensure_ascii=False))
    else:
        click.echo(format_report(result.summary, source=Path(csv).name, chart=chart))
