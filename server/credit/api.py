"""``/api/v1/credit``: the scorecard table and the grade distribution."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Response, request
from flask.views import MethodView
from sqlalchemy import func, select

from server.auth.decorators import roles_required
from server.credit.services import active_model, scorecard_rows
from server.entities.models import Entity
from server.extensions import db
from server.schemas import Blueprint, ObjectSchema

blp = Blueprint("credit", __name__, url_prefix="/api/v1/credit", description="公共信用评分")


@blp.route("/scorecard")
class Scorecard(MethodView):
    @roles_required("supervisor", "analyst", "admin")
    @blp.response(200, ObjectSchema)
    def get(self) -> Any:
        """The scorecard in use: indicator, bin, points (``?format=csv`` for a CSV file)."""
        model, version = active_model(db.session)
        rows = scorecard_rows(model)
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
