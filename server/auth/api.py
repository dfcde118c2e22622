"""``/api/v1/auth`` and ``/api/v1/me``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView

from server.auth import services, throttle
from server.auth.decorators import STAFF, current_user, public, roles_required
from server.auth.models import User
from server.auth.schemas import (
    MeSchema,
    ThrottleClearedSchema,
    ThrottleClearSchema,
    ThrottleSchema,
    TokenRequestSchema,
    TokenSchema,
)
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
        user = services.authenticate(db.session, body["username"], body["password"], remote_addr=request.remote_addr)
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


@blp.route("/auth/logout-all")
class LogoutEverywhere(MethodView):
    @roles_required(*STAFF)
    @blp.response(204)
    def post(self) -> None:
        """Log out everywhere: revoke every token and end every console session of this user
        (a lost handheld).
        """
        user = current_user()
        assert user is not None
        row = db.session.get(User, user.id)
        assert row is not None
        services.logout_everywhere(db.session, row, actor=user.username)


@blp.route("/admin/throttles")
class Throttles(MethodView):
    @roles_required("admin")
    @blp.response(200, ThrottleSchema(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Login throttles: failures in the window per address and per account, and the
        delay each now imposes.
        """
        return throttle.list_throttles(db.session)

    @roles_required("admin")
    @blp.arguments(ThrottleClearSchema, location="query")
    @blp.response(200, ThrottleClearedSchema)
    def delete(self, args: dict[str, Any]) -> dict[str, int]:
        """Clear throttles: the failures of ``username`` and/or from ``address`` (neither: all)."""
        user = current_user()
        assert user is not None
        return {"cleared": throttle.clear_throttles(db.session, actor=user.username,
                                                    username=args.get("username"), address=args.get("address"))}


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
