"""``/api/v1/credit``: the scorecard table and the grade distribution."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import func, select

from server.auth.decorators import roles_required
from server.credit.services import active_model
from server.entities.models import Entity
from server.extensions import db
from server.schemas import ObjectSchema

blp = Blueprint("credit", __name__, url_prefix="/api/v1/credit", description="公共信用评分")


@blp.route("/scorecard")
class Scorecard(MethodView):
    @roles_required("supervisor", "analyst", "admin")
    @blp.response(200, ObjectSchema)
    def get(self) -> Any:
        """The scorecard in use: indicator, bin, points (``?format=csv`` for a CSV file)."""
        model, version = active_model(db.session)
        if hasattr(model, "table"):
            rows = model.table()
        else:  # the published points table used before enough outcomes are recorded
            from risk_models.credit_prior import BASE_POINTS, LABELS, POINTS

            rows = [{"feature": k, "label": LABELS.get(k, k), "bin": "每次/每项", "points": -per,
                     "cap": -cap} for k, (per, cap) in POINTS.items()]
            rows.insert(0, {"feature": "base", "label": "基础分", "bin": "", "points": BASE_POINTS, "cap": None})
        if request.args.get("format") == "csv":
            out = io.StringIO()
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["feature"])
            writer.writeheader()
            writer.writerows(rows)
            return Response(out.getvalue(), mimetype="text/csv",
                            headers={"Content-Disposition": "attachment; filename=scorecard.csv"})
        return {"version": version, "rows": rows}


@blp.route("/grades")
class Grades(MethodView):
    @roles_required("supervisor", "analyst", "admin")
    @blp.response(200, ObjectSchema)
    def get(self) -> dict[str, Any]:
        """How many entities hold each grade now."""
        rows = db.session.execute(select(Entity.credit_grade, func.count()).group_by(Entity.credit_grade)).all()
        return {"grades": {g or "未评": n for g, n in rows}}
