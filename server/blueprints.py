"""Every blueprint of the app, registered in one place."""

from __future__ import annotations

from flask import Flask, jsonify
from sqlalchemy import text

from server.auth.decorators import public
from server.extensions import api, csrf, db


def register(app: Flask) -> None:
    from server.analytics.api import blp as analytics_api
    from server.auth.api import blp as auth_api
    from server.console.views import bp as console_bp
    from server.credit.api import blp as credit_api
    from server.entities.api import blp as entities_api
    from server.inspections.api import blp as submissions_api
    from server.publication.api import blp as public_api
    from server.reference.api import blp as reference_api
    from server.rounds.api import blp as rounds_api
    from server.tasks.api import blp as tasks_api
    from server.warnings.api import blp as warnings_api

    for blp in (auth_api, reference_api, entities_api, tasks_api, submissions_api, warnings_api,
                rounds_api, analytics_api, public_api, credit_api):
        csrf.exempt(blp)
        api.register_blueprint(blp)
    app.register_blueprint(console_bp)

    @app.get("/healthz")
    @public
    def healthz() -> object:
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok", database=db.engine.dialect.name)
