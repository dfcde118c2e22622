"""Errors: domain exceptions raised by services, and how they reach the user.

The API answers ``{"error": "<short code>", "message": "<what is wrong and where>"}``
(plus ``items`` for item-level validation messages); console pages render an HTML
error page. Which one is chosen by the path (``/api/``) or the Accept header.
"""

from __future__ import annotations

import csv
from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from server.extensions import db

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "server_error",
}


#: Chinese messages for werkzeug's own refusals (its English descriptions are defaults,
#: recognised by being the class's ``description``)
_MESSAGES = {
    400: "请求格式不正确 (bad request)",
    401: "需要登录 (authentication required)",
    403: "无权访问 (forbidden)",
    404: "未找到 (not found)",
    405: "不支持该请求方法 (method not allowed)",
    406: "无法提供所请求的格式 (not acceptable)",
    409: "与当前状态冲突 (conflict)",
    413: "请求内容过大 (request too large)",
    414: "请求地址过长 (URI too long)",
    415: "不支持的内容类型 (unsupported media type)",
    422: "请求内容不合法 (unprocessable)",
    429: "请求过于频繁，请稍后再试 (too many requests)",
    431: "请求头过大 (request headers too large)",
}


class DomainError(Exception):
    """A refusal a service raises; ``status`` is the HTTP status it maps to."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    status, code = 404, "not_found"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Invalid(DomainError):
    status, code = 422, "invalid"


def error_response(status: int, message: str, error: str | None = None, **extra: Any) -> Response:
    body = {"error": error or _CODES.get(status, "error"), "message": message, **extra}
    response = jsonify(body)
    response.status_code = status
    return response


def wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json" and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]


def _flatten(errors: Any, prefix: str = "") -> dict[str, str]:
    """Flatten webargs/marshmallow messages into {"field.path": "message"}."""
    out: dict[str, str] = {}
    if isinstance(errors, dict):
        for key, value in errors.items():
            if key in ("json", "query", "form", "files", "path") and not prefix:
                out.update(_flatten(value, ""))
            else:
                out.update(_flatten(value, f"{prefix}{key}."))
    elif isinstance(errors, list) and all(isinstance(e, str) for e in errors):
        out[prefix.rstrip(".") or "_"] = "; ".join(errors)
    elif isinstance(errors, list):
        for i, value in enumerate(errors):
            out.update(_flatten(value, f"{prefix}{i}."))
    else:
        out[prefix.rstrip(".") or "_"] = str(errors)
    return out


def _render(status: int, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        db.session.rollback()
        if wants_json():
            response = error_response(exc.status, exc.message, exc.code, **exc.extra)
        else:
            response = make_response(_render(exc.status, exc.message))
        response.headers.update(getattr(exc, "headers", None) or {})
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        message = exc.description or ""
        if message == type(exc).description and status in _MESSAGES:
            message = _MESSAGES[status]
        data = getattr(exc, "data", None) or {}
        if status >= 500:
            db.session.rollback()
        if wants_json():
            extra: dict[str, Any] = {}
            messages = data.get("messages") or (data.get("errors") or {}).get("json")
            if messages:
                extra["items"] = _flatten(messages)
                message = "请求内容不合法: " + "; ".join(f"{k}: {v}" for k, v in extra["items"].items())
            elif data.get("message"):
                message = str(data["message"])
            return error_response(status, message, **extra)
        return _render(status, message)

    @app.errorhandler(RecursionError)
    def too_deep(exc: RecursionError) -> Any:
        # A structure nested past what the parsers can walk (server/limits.py bounds JSON
        # bodies; this is the net under anything else). One line, no traceback: a hostile
        # client must not be able to fill the log.
        app.logger.warning("refused %s %s: nesting too deep (RecursionError)", request.method, request.path)
        db.session.rollback()
        message = "请求内容嵌套层数过深 (input nested too deeply)"
        return error_response(400, message) if wants_json() else _render(400, message)

    @app.errorhandler(csv.Error)
    def bad_csv(exc: csv.Error) -> Any:
        db.session.rollback()
        message = f"CSV 格式错误 (malformed CSV): {exc}"
        return error_response(422, message, "invalid") if wants_json() else _render(422, message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if isinstance(exc, HTTPException):  # pragma: no cover - handled above
            return http_error(exc)
        app.logger.exception("unhandled error")
        db.session.rollback()
        if wants_json():
            return error_response(500, "服务器内部错误 (internal server error)")
        return _render(500, "服务器内部错误")
