"""Analyst page: backtest risk targeting on an uploaded inspection history (evaluate-history)."""

from __future__ import annotations

import base64
from typing import Any

from flask import render_template, request

from server.auth.decorators import OFFICE, roles_required
from server.console.views import bp

MAX_UPLOAD = 50 * 1024 * 1024


def _csv_list(value: str | None) -> list[str] | None:
    names = [v.strip() for v in (value or "").split(",") if v.strip()]
    return names or None


@bp.route("/analytics/history", methods=["GET", "POST"])
@roles_required(*OFFICE)
def history_backtest() -> Any:
    """Upload a CSV of past inspections; show the same report as ``shuangsui evaluate-history``."""
    from risk_models.history import HistoryInputError, run_report

    form = {"entity_col": "entity_id", "date_col": "inspected_on", "outcome_col": "violation",
            "feature_cols": "", "exclude_cols": "", "test_from": "", "top": "0.1"}
    report, chart, error = None, None, None
    if request.method == "POST":
        form.update({k: request.form.get(k, v).strip() for k, v in form.items()})
        upload = request.files.get("file")
        raw = upload.read(MAX_UPLOAD + 1) if upload else b""
        try:
            if not raw:
                raise HistoryInputError("请选择 CSV 文件 (choose a CSV file)")
            if len(raw) > MAX_UPLOAD:
                raise HistoryInputError("文件超过 50 MB (file larger than 50 MB)")
            try:
                top = float(form["top"])
            except ValueError:
                raise HistoryInputError("前百分比应为 0 到 1 之间的数 (top must be a number)") from None
            report, png = run_report(
                raw, entity_col=form["entity_col"], date_col=form["date_col"], outcome_col=form["outcome_col"],
                feature_cols=_csv_list(form["feature_cols"]), exclude_cols=_csv_list(form["exclude_cols"]) or (),
                test_from=form["test_from"] or None, top=top)
            chart = base64.b64encode(png).decode("ascii")
        except (HistoryInputError, ValueError) as exc:
            error = str(exc)
    status = 422 if error else 200
    return render_template("console/history.html", form=form, report=report, chart=chart, error=error), status
