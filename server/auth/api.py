"""``/api/v1/auth`` and ``/api/v1/me``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView

from server.auth import services
from server.auth.decorators import STAFF, current_user, public, roles_required
from server.auth.models import User
from server.auth.schemas import MeSchema, TokenRequestSchema, TokenSchema
from server.extensions import db
from server.schemas import Blueprint

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="登录与令牌 (tokens)")


def user_dict(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "roles": sorted(user.role_set),
        "department_code": user.department_code,
        "inspector_id": user.inspector_id,
    }


@blp.route("/auth/token")
class TokenResource(MethodView):
    @public
    @blp.arguments(TokenRequestSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, description="bad credentials")
    @blp.alt_response(429, description="too many failed logins")
    def post(self, body: dict[str, str]) -> dict[str, Any]:
        """Exchange username and password for a bearer token."""
        cfg = current_app.config
        user = services.authenticate(
            db.session,
            body["username"],
            body["password"],
            remote_addr=request.remote_addr,
            max_failures=cfg["LOGIN_MAX_FAILURES"],
            window_seconds=cfg["LOGIN_WINDOW_SECONDS"],
        )
        token, expires = services.issue_token(db.session, user, ttl_hours=cfg["TOKEN_TTL_HOURS"])
        return {"token": token, "expires_at": expires, "user": user_dict(user)}

    @roles_required(*STAFF)
    @blp.response(204)
    def delete(self) -> None:
        """Revoke the token used for this request (log out the device)."""
        header = request.headers.get("Authorization", "")
        user = current_user()
        assert user is not None
        if header.lower().startswith("bearer "):
            services.revoke_token(db.session, header[7:].strip(), actor=user.username)


@blp.route("/me")
class MeResource(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, MeSchema)
    def get(self) -> dict[str, Any]:
        """The logged-in user, with the count of tasks not yet opened (the handheld's badge)."""
        from server.tasks.services import unread_task_count

        user = current_user()
        assert user is not None
        return {**user_dict(user), "unread_tasks": unread_task_count(db.session, user)}
