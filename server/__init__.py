"""Shuangsui server: Flask + SQLAlchemy, the only owner of the database."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Response
from werkzeug.routing import IntegerConverter

__all__ = ["CONTENT_SECURITY_POLICY", "create_app"]

#: No inline script or style anywhere (templates load server/static/ files only): an
#: injected ``<script>`` or ``style=""`` does nothing. ``data:`` images: charts exported
#: as PNG and the back-test chart. ``form-action``/``base-uri`` stop injected forms and
#: base tags from sending data elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    Defaults come from :class:`server.config.Config`, then the environment
    (``SHUANGSUI_*``), then ``config`` (tests pass their settings here).
    """
    from server import config as config_module
    from server.extensions import api, csrf, db, migrate

    instance_path = os.environ.get("SHUANGSUI_INSTANCE") or str(config_module.ROOT / "instance")
    app = Flask(__name__, instance_path=instance_path, instance_relative_config=True)
    from server.jsonio import OrjsonProvider

    app.json = OrjsonProvider(app)
    app.url_map.converters["int"] = _DatabaseInt
    app.config.from_object(config_module.Config)
    app.config.update(config_module.from_environment())
    if config:
        app.config.update(config)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = config_module.resolve_secret_key(app.config, app.instance_path)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'shuangsui.db'}"
    for key, sub in (("ATTACHMENT_DIR", "attachments"), ("MODEL_DIR", "models"), ("POOL_DIR", "pools")):
        if not app.config[key]:
            app.config[key] = str(Path(app.instance_path) / sub)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A pool of one in-memory database must be shared; files get a busy timeout.
        opts = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
        opts.setdefault("connect_args", {"timeout": 30})
        opts.pop("pool_pre_ping", None)  # a file cannot go away like a server: no ping per request
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = opts

    if app.config.get("TRUSTED_PROXIES"):
        # behind nginx: the client's address (throttling, rate limits) from X-Forwarded-For
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    import server.models  # noqa: F401  (complete metadata)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    from server.schemas import ErrorSchema

    api.ERROR_SCHEMA = ErrorSchema  # documented as what the server really sends
    api.init_app(app)
    from server.schemas import no_nul_strings

    api.ma_plugin.converter.add_attribute_function(no_nul_strings)
    _register_sqlite_pragmas(app)

    from server import blueprints
    from server.errors import register_error_handlers

    blueprints.register(app)
    from server.audit.views import bp as audit_public_bp

    app.register_blueprint(audit_public_bp)
    from server.cli import register_commands

    register_commands(app)
    register_error_handlers(app)
    from server import limits

    limits.init_app(app)
    from server.auth import throttle

    throttle.init_app(app)

    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL text cannot hold NUL: refuse it at the door with a 400 rather than let
        # the driver raise deep inside a query (a 500). Binary uploads (multipart) may carry it.
        from flask import request
        from werkzeug.exceptions import BadRequest

        suspect = request.path.encode() + request.query_string
        if request.mimetype in ("application/json", "text/csv", "text/plain"):
            suspect += request.get_data(cache=True)
        elif request.mimetype == "application/x-www-form-urlencoded":
            suspect += request.get_data(cache=True).replace(b"%00", b"\x00")
        if b"\x00" in suspect or b"%00" in request.query_string or b"\\u0000" in suspect:
            raise BadRequest("请求中含有 NUL 字符 (NUL characters are not accepted)")

    @app.before_request
    def forget_previous_user() -> None:
        # ``g`` lives on the app context, which tests (and CLI code) may share across
        # requests: the user must be resolved afresh for every request.
        from flask import g

        g.pop("user", None)
        g.pop("auth_via", None)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        return response

    return app


class _DatabaseInt(IntegerConverter):
    """``<int:...>`` limited to the database's integer ids: a larger number in a path is a
    404 like any unknown id, not an overflow error (500) in the database driver.
    """

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def _register_sqlite_pragmas(app: Flask) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from server import sqlite_gate
    from server.extensions import db

    with app.app_context():
        engine: Engine = db.engine
        if engine.dialect.name != "sqlite":
            return
        on_file = sqlite_gate.database_file(engine) is not None

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if on_file:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        sqlite_gate.install(engine)
