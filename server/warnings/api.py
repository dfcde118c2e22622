"""``/api/v1/warnings``: the warning board and its transitions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from server.auth.decorators import current_user, roles_required
from server.entities.models import Entity
from server.entities.profile import warning_summary
from server.errors import NotFound
from server.extensions import db
from server.schemas import Blueprint, ObjectSchema
from server.warnings import services
from server.warnings.models import Warning
from server.workdays import calendar_from_config

blp = Blueprint("warnings", __name__, url_prefix="/api/v1/warnings", description="风险预警")


class BoardQuerySchema(Schema):
    model = fields.String(load_default=None)
    level = fields.String(load_default=None)
    state = fields.String(load_default=None)
    region = fields.String(load_default=None, validate=validate.Regexp(r"^\d{2,6}$"))
    department = fields.String(load_default=None)
    overdue = fields.Boolean(load_default=None, allow_none=True)
    handed_over = fields.Boolean(
        load_default=None, allow_none=True,
        metadata={"description": "true: only the warnings your department dispatched to another one (已移交, "
                                 "read-only); false: none of them; absent: every warning visible to you"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class BoardSchema(Schema):
    items = fields.List(fields.Dict())
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


def _choices(what: str, labels: dict[str, str]) -> str:
    return f"{what}应为：" + "、".join(f"{v}（{k}）" for k, v in labels.items())


class TransitionSchema(Schema):
    to = fields.String(required=True, validate=validate.OneOf(
        list(services.STATES), error=_choices("预警状态", services.STATES)))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    outcome = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        list(services.OUTCOMES), error=_choices("处置结果", services.OUTCOMES)))
    handling = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(
        list(services.HANDLING), error=_choices("处置方式", services.HANDLING)))


class DispatchSchema(Schema):
    ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)), required=True,
                      validate=validate.Length(min=1, max=5000))


def _detail(w: Warning, user: Any = None, *, today: dt.date | None = None,
            index: dict[tuple[str, str], str] | None = None, names: dict[str, str] | None = None) -> dict[str, Any]:
    """A warning as JSON: codes with their Chinese labels next to them, the SLA, and the
    transitions the requesting user may apply now (``allowed``, from the service).
    """
    entity = db.session.get(Entity, w.entity_id)
    today = today or dt.date.today()
    names = names if names is not None else services.department_names(db.session)
    allowed = services.allowed_transitions(db.session, w, user, index=index)
    out = warning_summary(w)
    out.update({
        "state_label": services.STATES[w.state],
        "department_code": w.department_code,
        "department_name": names.get(w.department_code or "", w.department_code),
        "dispatched_from": w.dispatched_from,
        "dispatched_from_name": names.get(w.dispatched_from or "", w.dispatched_from),
        "handed_over": services.handed_over(w, user),
        "region_code": w.region_code,
        "model_version": w.model_version,
        "overdue": w.overdue,
        "escalated": w.escalated,
        "handling": w.handling,
        "handling_label": services.HANDLING.get(w.handling or "") if w.handling else None,
        "outcome": w.outcome,
        "outcome_label": services.OUTCOMES.get(w.outcome or "") if w.outcome else None,
        "handled_on": w.handled_on.isoformat() if w.handled_on else None,
        "sla": services.sla_status(w, today=today, calendar=calendar_from_config(current_app.config)),
        "entity": {"uscc": entity.uscc, "name": entity.name, "credit_grade": entity.credit_grade} if entity else None,
        "allowed": allowed,
        "allowed_labels": [services.STATES[t] for t in allowed],
    })
    return out


@blp.route("")
class WarningBoard(MethodView):
    @roles_required("supervisor", "analyst", "admin", "inspector")
    @blp.arguments(BoardQuerySchema, location="query")
    @blp.response(200, BoardSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Warnings filterable by model, level, state, region, department and overdue."""
        from sqlalchemy import func, select

        user = current_user()
        assert user is not None
        q = services.handed_over_filter(user, services.visible_to(user, services.board_query(
            model=args["model"], level=args["level"], state=args["state"], region=args["region"],
            overdue=args["overdue"], department=args["department"])), args["handed_over"])
        total = db.session.scalar(select(func.count()).select_from(q.order_by(None).subquery())) or 0
        rows = db.session.scalars(q.limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])).all()
        index = services.department_index(db.session)
        names = services.department_names(db.session)
        return {"items": [_detail(w, user, index=index, names=names) for w in rows], "total": total,
                "page": args["page"], "per_page": args["per_page"]}


@blp.route("/<int:warning_id>")
class WarningDetail(MethodView):
    @roles_required("supervisor", "analyst", "admin", "inspector")
    @blp.response(200, ObjectSchema)
    def get(self, warning_id: int) -> dict[str, Any]:
        """One warning with its transitions."""
        from sqlalchemy import select

        user = current_user()
        assert user is not None
        w = db.session.scalar(services.visible_to(user, select(Warning).where(Warning.id == warning_id)))
        if w is None:
            raise NotFound(f"预警不存在或无权查看 (no warning {warning_id} visible to you)")
        out = _detail(w, user)
        out["transitions"] = [
            {"from": t.from_state, "from_label": services.STATES.get(t.from_state, t.from_state),
             "to": t.to_state, "to_label": services.STATES.get(t.to_state, t.to_state),
             "actor": t.actor, "at": t.at.isoformat(), "note": t.note}
            for t in w.transitions
        ]
        return out


@blp.route("/<int:warning_id>/transitions")
class WarningTransitions(MethodView):
    @roles_required("supervisor", "admin")
    @blp.arguments(TransitionSchema)
    @blp.response(200, ObjectSchema)
    def post(self, body: dict[str, Any], warning_id: int) -> dict[str, Any]:
        """Move a warning along its lifecycle (illegal moves are refused with the reason)."""
        user = current_user()
        assert user is not None
        w = services.apply_transition(
            db.session, warning_id, body["to"], user=user, actor=user.username, note=body["note"],
            outcome=body["outcome"], handling=body["handling"], today=dt.date.today(),
        )
        return _detail(w, user)


@blp.route("/dispatch")
class WarningDispatch(MethodView):
    @roles_required("supervisor", "admin")
    @blp.arguments(DispatchSchema)
    @blp.response(200, ObjectSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Bulk dispatch issued warnings to the departments handling them."""
        user = current_user()
        assert user is not None
        return services.dispatch(db.session, body["ids"], user=user, actor=user.username)
