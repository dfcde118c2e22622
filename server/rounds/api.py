"""``/api/v1/rounds``: sampling rounds (双随机抽查计划) — define, preview, draw, publish."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import select

from server.auth.decorators import current_user, roles_required
from server.extensions import db
from server.rounds import services
from server.rounds.models import SamplingRound
from server.rounds.schemas import RoundSchema
from server.schemas import Blueprint, ObjectSchema
from server.workdays import calendar_from_config

blp = Blueprint("rounds", __name__, url_prefix="/api/v1/rounds", description="双随机抽查计划")


class RoundListSchema(Schema):
    items = fields.List(fields.Dict())


class TodaySchema(Schema):
    today = fields.Date(load_default=None, allow_none=True)


def pool_dir() -> Path:
    return Path(current_app.config.get("POOL_DIR") or Path(current_app.instance_path) / "pools")


@blp.route("")
class RoundCollection(MethodView):
    @roles_required("supervisor", "analyst", "admin")
    @blp.response(200, RoundListSchema)
    def get(self) -> dict[str, Any]:
        """All rounds, newest first."""
        rounds = db.session.scalars(select(SamplingRound).order_by(SamplingRound.id.desc())).all()
        return {"items": [services.round_dict(r) for r in rounds]}

    @roles_required("supervisor", "admin")
    @blp.arguments(RoundSchema)
    @blp.response(201, ObjectSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Define a round; its seed is committed at once (the commitment is public)."""
        user = current_user()
        rnd = services.create_round(db.session, data, actor=user.username if user else "api",
                                    user_id=user.id if user else None)
        return services.round_dict(rnd)


@blp.route("/<int:round_id>")
class RoundDetail(MethodView):
    @roles_required("supervisor", "analyst", "admin")
    @blp.response(200, ObjectSchema)
    def get(self, round_id: int) -> dict[str, Any]:
        """One round with its progress."""
        rnd = services.get_round(db.session, round_id)
        return {**services.round_dict(rnd), "progress": services.round_progress(db.session, rnd)}


@blp.route("/<int:round_id>/preview")
class RoundPreview(MethodView):
    @roles_required("supervisor", "analyst", "admin")
    @blp.arguments(TodaySchema, location="query")
    @blp.response(200, ObjectSchema)
    def get(self, args: dict[str, Any], round_id: int) -> dict[str, Any]:
        """Pool size and expected draw per credit grade."""
        rnd = services.get_round(db.session, round_id)
        return services.preview(db.session, rnd, today=args.get("today") or dt.date.today())


@blp.route("/<int:round_id>/draw")
class RoundDraw(MethodView):
    @roles_required("supervisor", "admin")
    @blp.response(200, ObjectSchema)
    def post(self, round_id: int) -> dict[str, Any]:
        """Draw entities and inspectors (once: a second draw is refused with 409)."""
        rnd = services.get_round(db.session, round_id)
        user = current_user()
        return services.run_draw(db.session, rnd, actor=user.username if user else "api", today=dt.date.today(),
                                 pool_dir=pool_dir(), calendar=calendar_from_config(current_app.config),
                                 publish_days=int(current_app.config.get("PUBLISH_WITHIN_WORKING_DAYS", 20)))


@blp.route("/<int:round_id>/publish")
class RoundPublish(MethodView):
    @roles_required("supervisor", "admin")
    @blp.response(200, ObjectSchema)
    def post(self, round_id: int) -> dict[str, Any]:
        """Publish the draw and its results (一公开)."""
        rnd = services.get_round(db.session, round_id)
        user = current_user()
        return services.round_dict(services.publish(db.session, rnd, actor=user.username if user else "api"))
