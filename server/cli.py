"""The ``shuangsui`` command line (click, through Flask's app-aware group).

Commands that measure (``simulate``, ``evaluate-history``, ``bench``) print exactly one
JSON object on stdout with ``--json``; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from server import create_app


def _create_app() -> Any:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=True, add_version_option=False)
def main() -> None:
    """双随 Shuangsui: risk-based double-random inspection system."""


def fail(message: str) -> None:
    raise click.ClickException(message)


@main.command("load-reference")
@click.option("--data-dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Directory with reference files (default: the project's data/).")
@with_appcontext
def load_reference_cmd(data_dir: str | None) -> None:
    """Load regions, industries, departments, check items, laws and forms (idempotent)."""
    from server.extensions import db
    from server.reference.files import ReferenceDataError
    from server.reference.services import load_reference_into_db

    try:
        counts = load_reference_into_db(db.session, data_dir or current_app.config["DATA_DIR"])
    except ReferenceDataError as exc:  # nothing is written: the load is one transaction
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    for key, value in counts.items():
        click.echo(f"{key}: {value}", err=True)


@main.command("create-user")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, help="inspector / supervisor / analyst / admin")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", "display_name", default=None)
@click.option("--department", "department_code", default=None)
@click.option("--inspector-id", type=int, default=None)
@with_appcontext
def create_user_cmd(username: str, roles: tuple[str, ...], password: str, display_name: str | None,
                    department_code: str | None, inspector_id: int | None) -> None:
    """Create a user with one or more roles."""
    from server.auth.services import create_user
    from server.errors import DomainError
    from server.extensions import db

    try:
        user = create_user(db.session, username=username, password=password, roles=list(roles),
                           display_name=display_name, department_code=department_code,
                           inspector_id=inspector_id, actor="cli")
    except DomainError as exc:
        fail(exc.message)
    click.echo(f"created user {user.username} ({user.roles})")


@main.group("audit")
def audit_group() -> None:
    """Audit log."""


@audit_group.command("verify")
@with_appcontext
def audit_verify_cmd() -> None:
    """Check the hash chain; report the first broken link or OK."""
    from server.audit.services import verify
    from server.extensions import db

    report = verify(db.session)
    if report.ok:
        click.echo(f"OK: {report.events} events, chain intact")
    else:
        click.echo(f"BROKEN at event id {report.broken_at}: {report.reason}")
        sys.exit(1)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Worker processes (default: one per core on SQLite, two per core on PostgreSQL).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="Threads per worker: 1 = gunicorn's sync workers (behind nginx); more = gthread.")
def serve_cmd(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the console and API with gunicorn (production WSGI server)."""
    from server.wsgi_server import serve

    serve(host=host, port=port, workers=workers, threads=threads)


def _echo_json(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, sort_keys=False))


def _register_optional() -> None:
    """Commands written in their own modules."""
    import importlib

    for module, name in (
        ("server.commands.history", "evaluate_history"),
        ("server.commands.demo", "demo"),
        ("server.commands.demo", "demo_info"),
        ("server.commands.rounds", "draw_group"),
        ("server.commands.simulate", "simulate"),
        ("server.commands.bench", "bench"),
        ("server.commands.models", "models_group"),
        ("server.commands.credit", "credit_group"),
        ("server.commands.rounds", "draw_group"),
        ("server.commands.backup", "backup"),
        ("server.commands.backup", "restore"),
        ("server.commands.score", "score"),
    ):
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        main.add_command(getattr(mod, name))


_register_optional()


def register_commands(app: Any) -> None:
    """Expose the product's commands on ``app.cli`` too (``flask --app server``, test runners)."""
    for name, command in main.commands.items():
        if name not in app.cli.commands:
            app.cli.add_command(command, name)
