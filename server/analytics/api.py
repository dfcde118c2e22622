"""``/api/v1/analytics``: hit rates and the warning loop's figures."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from server.analytics.services import DIMENSIONS, hit_rates
from server.auth.decorators import roles_required
from server.extensions import db
from server.schemas import Blueprint, ObjectSchema
from server.warnings.services import loop_figures

blp = Blueprint("analytics", __name__, url_prefix="/api/v1/analytics", description="命中率分析")


class PeriodQuerySchema(Schema):
    start = fields.Date(load_default=None)
    end = fields.Date(load_default=None)
    region = fields.String(load_default=None, validate=validate.Regexp(r"^\d{2,6}$"))


@blp.route("/warning-loop")
class WarningLoop(MethodView):
    @roles_required("analyst", "supervisor", "admin")
    @blp.arguments(PeriodQuerySchema, location="query")
    @blp.response(200, ObjectSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Warnings issued, handled (rate), entities, problem entities, hit rate vs random."""
        figures = loop_figures(db.session, start=args["start"], end=args["end"], region=args["region"])
        return {**figures.as_dict(), "start": args["start"], "end": args["end"], "region": args["region"]}


class HitRateQuerySchema(PeriodQuerySchema):
    by = fields.String(load_default="channel", validate=validate.OneOf(list(DIMENSIONS)))
    channel = fields.String(load_default=None)
    period = fields.String(load_default="quarter", validate=validate.OneOf(["month", "quarter", "year"]))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


def csv_response(rows: list[dict[str, Any]], columns: list[str], filename: str) -> Response:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return Response("\ufeff" + buf.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f"attachment; filename={filename}"})


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return ";".join(f"{v:.4f}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6f}"
    return "" if value is None else value


@blp.route("/hit-rates")
class HitRates(MethodView):
    @roles_required("analyst", "supervisor", "admin")
    @blp.arguments(HitRateQuerySchema, location="query")
    @blp.response(200, ObjectSchema)
    @blp.doc(responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}})  # format=csv
    def get(self, args: dict[str, Any]) -> Any:
        """Hit rate by channel, model, grade, region, industry or period, with 95 % Wilson intervals
        (and, by channel, the p-value of the difference from random inspection). ``format=csv`` for CSV.
        """
        result = hit_rates(db.session, args["by"], start=args["start"], end=args["end"], region=args["region"],
                           channel=args["channel"], period=args["period"])
        if args["format"] == "csv":
            rows = [{**r, "ci95_low": r["ci95"][0], "ci95_high": r["ci95"][1]} for r in result["rows"]]
            cols = ["key", "label", "inspections", "problems", "hit_rate", "ci95_low", "ci95_high"]
            if args["by"] == "channel":
                cols += ["lift", "p_value_vs_random"]
            return csv_response(rows, cols, f"hit-rates-by-{args['by']}.csv")
        return result
