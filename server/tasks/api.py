"""``/api/v1/tasks``: an inspector sees only their own tasks."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app, jsonify, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from server.auth.decorators import current_user, roles_required
from server.auth.models import User
from server.db import utcnow
from server.extensions import db
from server.schemas import Blueprint, ObjectSchema
from server.tasks import feed, services
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
    @blp.alt_response(304, description="an inspector's list unchanged since the ETag sent in "
                      "If-None-Match (no body)")
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the tasks the user may see (inspectors: theirs), optionally changed since a time.

        An inspector's whole list carries a weak ``ETag``; sent back in ``If-None-Match``,
        it is answered ``304 Not Modified`` while nothing in the list has changed.
        """
        user = current_user()
        assert user is not None
        if args["since"] is None and services.own_list_only(user):
            return _own_list(user, args["state"], args["limit"])
        # already plain JSON types: serialised as is (the schema above documents it)
        return jsonify(_build(user, args))


def _build(user: User, args: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    rows = services.list_task_rows(db.session, user, state=args["state"], since=args["since"],
                                   limit=args["limit"])
    items, unseen = services.task_row_dicts(db.session, rows, inspector_id=user.inspector_id)
    services.mark_seen_ids(db.session, user, unseen)
    return {"items": items, "server_time": now.isoformat()}


def _own_list(user: User, state: str | None, limit: int) -> Response:
    """Answer an inspector's poll for their whole list.

    ``304`` when the handheld holds the current version, else this process's cached copy
    of that version, else the list built (and cached) now.
    """
    inspector_id = user.inspector_id
    version = feed.list_version(db.session, inspector_id)  # read before the list: see feed
    tag = feed.etag(inspector_id, version, state or "all", limit)
    if request.if_none_match.contains_weak(tag):
        response = current_app.response_class(status=304)
    else:
        key = (inspector_id, state, limit)
        body = feed.cache.get(key, version)
        if body is None:
            body = orjson.dumps(_build(user, {"state": state, "since": None, "limit": limit}))
            feed.cache.put(key, version, body)
        response = current_app.response_class(body, mimetype="application/json")
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


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
