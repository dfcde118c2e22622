"""``/api/v1/tasks``: an inspector sees only their own tasks."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from server.auth.decorators import current_user, roles_required
from server.db import utcnow
from server.extensions import db
from server.schemas import ObjectSchema
from server.tasks import services
from server.tasks.models import TASK_STATES

blp = Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="检查任务")


class TaskQuerySchema(Schema):
    state = fields.String(
        load_default=None,
        validate=lambda s: all(x in TASK_STATES for x in s.split(",")),
        metadata={"description": "comma-separated: " + ",".join(TASK_STATES)},
    )
    since = fields.AwareDateTime(load_default=None, default_timezone=__import__("datetime").UTC)
    limit = fields.Integer(load_default=500, validate=validate.Range(min=1, max=2000))


class TaskListSchema(ObjectSchema):
    """``{"items": [task, …], "server_time": ISO time}`` — built by ``task_dicts`` (dumped as is)."""

    items = fields.List(fields.Dict())
    server_time = fields.String()


@blp.route("")
class TaskList(MethodView):
    @roles_required("inspector", "supervisor", "admin", "analyst")
    @blp.arguments(TaskQuerySchema, location="query")
    @blp.response(200, TaskListSchema)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Tasks visible to the user (inspectors: assigned to them), optionally changed since a time."""
        user = current_user()
        assert user is not None
        now = utcnow()
        rows = services.list_task_rows(db.session, user, state=args["state"], since=args["since"],
                                       limit=args["limit"])
        items, unseen = services.task_row_dicts(db.session, rows, inspector_id=user.inspector_id)
        services.mark_seen_ids(db.session, user, unseen)
        # already plain JSON types: serialised as is (the schema above documents it)
        return jsonify(items=items, server_time=now.isoformat())


@blp.route("/<int:task_id>")
class TaskDetail(MethodView):
    @roles_required("inspector", "supervisor", "admin", "analyst")
    @blp.response(200, ObjectSchema)
    def get(self, task_id: int) -> dict[str, Any]:
        """One task (assigned inspector, or a supervisor of its department)."""
        user = current_user()
        assert user is not None
        task = services.get_task(db.session, user, task_id)
        return services.task_dicts(db.session, [task])[0]
