"""Access control, in one module: every route declares the roles it admits.

``@roles_required("inspector", "supervisor")`` admits users holding any of the roles;
``@public`` marks a route open to anonymous visitors. The API authenticates with a
bearer token; console pages (and the console's own JSON calls) with the session
cookie, and then unsafe methods need the CSRF token.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms.validators import ValidationError

from server.auth.models import User
from server.auth.services import user_for_token
from server.errors import DomainError, Forbidden
from server.extensions import db

F = TypeVar("F", bound=Callable[..., Any])


class Unauthorized(DomainError):
    status, code = 401, "unauthorized"


def load_user() -> User | None:
    """Resolve the request's user once (bearer token first, then session)."""
    if "user" in g:
        return g.user  # type: ignore[no-any-return]
    user: User | None = None
    g.auth_via = None
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        user = user_for_token(db.session, header[7:].strip())
        g.auth_via = "token" if user else "bad_token"
    elif session.get("user_id"):
        candidate = db.session.get(User, session["user_id"])
        if candidate is not None and candidate.active and session.get("sv") == candidate.session_version:
            user = candidate
            g.auth_via = "session"
    g.user = user
    return user


def current_user() -> User | None:
    return load_user()


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _check_session_csrf() -> None:
    if g.get("auth_via") != "session" or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    token = request.headers.get("X-CSRFToken") or request.form.get("csrf_token")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


def roles_required(*roles: str) -> Callable[[F], F]:
    if not roles:
        raise ValueError("roles_required needs at least one role")

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = load_user()
            if user is None:
                if _is_api():
                    message = (
                        "令牌无效、已过期或已撤销 (invalid, expired or revoked token)"
                        if g.get("auth_via") == "bad_token"
                        else "需要登录 (authentication required)"
                    )
                    raise Unauthorized(message)
                return redirect(url_for("console.login", next=request.full_path))
            if not user.has_role(*roles):
                raise Forbidden(
                    f"当前用户无权访问 (role required: {' / '.join(roles)}; you have: {user.roles})"
                )
            _check_session_csrf()
            return view(*args, **kwargs)

        wrapper._roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Open to anonymous visitors; the OpenAPI document says so (``security: []``)."""
    view._roles = frozenset({"public"})  # type: ignore[attr-defined]
    apidoc = dict(getattr(view, "_apidoc", {}))
    apidoc["manual_doc"] = {**apidoc.get("manual_doc", {}), "security": []}
    view._apidoc = apidoc  # type: ignore[attr-defined]
    return view


STAFF = ("inspector", "supervisor", "analyst", "admin")
OFFICE = ("supervisor", "analyst", "admin")
