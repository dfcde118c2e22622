"""The ``shuangsui`` command line (click, through Flask's app-aware group).

Commands that measure (``simulate``, ``evaluate-history``, ``bench``) print exactly one
JSON object on stdout with ``--json``; progress goes to stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
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
    """Check the hash chain, every event's MAC, and the chain against the latest signed
    checkpoint; report the first broken link or OK.
    """
    from server.audit.services import verify
    from server.extensions import db

    report = verify(db.session)
    if report.ok:
        click.echo(f"OK: {report.events} events, chain intact")
        cp = report.checkpoint
        if cp:
            click.echo(f"checkpoint {cp['at']}: {cp['events']} events up to id {cp['head_id']} match; "
                       f"{report.unanchored} newer events not yet checkpointed")
        else:
            click.echo("no signed checkpoint yet: a cut tail could not be detected "
                       "(run `shuangsui audit checkpoint`)")
        for note in report.notes:
            click.echo(f"warning: {note}")
    else:
        click.echo(f"BROKEN at event id {report.broken_at}: {report.reason}")
        sys.exit(1)


@audit_group.command("checkpoint")
@with_appcontext
def audit_checkpoint_cmd() -> None:
    """Sign the chain's head now (count, head hash, time) into the instance's checkpoint file."""
    from server.audit.anchor import write_checkpoint
    from server.extensions import db

    body = write_checkpoint(db.session)
    db.session.rollback()
    click.echo(f"checkpoint {body['at']}: {body['events']} events, head {body['head_id']} {body['head_hash'][:16]}…")


@main.group("throttle")
def throttle_group() -> None:
    """Login throttles (growing delays per address and per account)."""


@throttle_group.command("list")
@with_appcontext
def throttle_list_cmd() -> None:
    """Addresses and accounts with failed logins in the window, and the delay due."""
    from server.auth.throttle import list_throttles
    from server.extensions import db

    rows = list_throttles(db.session)
    if not rows:
        click.echo("no failed logins in the window")
    for row in rows:
        until = row["throttled_until"].isoformat(timespec="seconds") if row["throttled_until"] else "-"
        click.echo(f"{row['kind']:8} {row['key'] or '-':30} failures={row['failures']:<4} "
                   f"delay={row['delay_seconds']}s until={until}")


@throttle_group.command("clear")
@click.option("--user", "username", default=None, help="Clear the failures of this username.")
@click.option("--address", default=None, help="Clear the failures from this address.")
@click.option("--all", "everything", is_flag=True, help="Clear every throttle.")
@with_appcontext
def throttle_clear_cmd(username: str | None, address: str | None, everything: bool) -> None:
    """Clear throttles (forget the failed logins they come from)."""
    from server.auth.throttle import clear_throttles
    from server.extensions import db

    if not (username or address or everything):
        fail("give --user, --address or --all")
    cleared = clear_throttles(db.session, actor="cli", username=username, address=address)
    click.echo(f"cleared {cleared} failed logins")


@main.group("user")
def user_group() -> None:
    """User administration: password, disable/enable, log out everywhere."""


def _user_action(username: str, action: Any) -> None:
    from server.auth.services import user_by_name
    from server.errors import DomainError
    from server.extensions import db

    try:
        action(db.session, user_by_name(db.session, username))
    except DomainError as exc:
        fail(exc.message)


@user_group.command("password")
@click.argument("username")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@with_appcontext
def user_password_cmd(username: str, password: str) -> None:
    """Set a new password (ends the user's sessions and tokens everywhere)."""
    from server.auth.services import change_password

    _user_action(username, lambda s, u: change_password(s, u, password, actor="cli"))
    click.echo(f"password of {username} changed; its sessions and tokens are ended")


@user_group.command("disable")
@click.argument("username")
@with_appcontext
def user_disable_cmd(username: str) -> None:
    """Disable a user (ends their sessions and tokens)."""
    from server.auth.services import set_active

    _user_action(username, lambda s, u: set_active(s, u, False, actor="cli"))
    click.echo(f"{username} disabled")


@user_group.command("enable")
@click.argument("username")
@with_appcontext
def user_enable_cmd(username: str) -> None:
    """Enable a disabled user."""
    from server.auth.services import set_active

    _user_action(username, lambda s, u: set_active(s, u, True, actor="cli"))
    click.echo(f"{username} enabled")


@user_group.command("logout-all")
@click.argument("username")
@with_appcontext
def user_logout_all_cmd(username: str) -> None:
    """End every session and token of a user (a lost handheld)."""
    from server.auth.services import logout_everywhere

    _user_action(username, lambda s, u: logout_everywhere(s, u, actor="cli"))
    click.echo(f"{username}: every session and token ended")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=click.IntRange(min=1),
              help="Worker processes (default: one per core on SQLite, two per core on PostgreSQL).")
@click.option("--threads", default=1, show_default=True, type=click.IntRange(min=1),
              help="Threads per worker: 1 = gunicorn's sync workers (behind nginx); more = gthread.")
@click.option("--demo", is_flag=True,
              help="Demo/development: not production (a key made once and kept in the instance folder).")
def serve_cmd(host: str, port: int, workers: int | None, threads: int, demo: bool) -> None:
    """Serve the console and API with gunicorn (production WSGI server).

    Production (the default) refuses to start without a strong SHUANGSUI_SECRET_KEY.
    """
    import os

    from server.config import ConfigError, from_environment, resolve_secret_key
    from server.wsgi_server import serve

    os.environ["SHUANGSUI_ENV"] = "development" if demo else "production"
    settings = {"SECRET_KEY": None, **from_environment()}
    try:
        instance = os.environ.get("SHUANGSUI_INSTANCE") or str(Path(__file__).resolve().parent.parent / "instance")
        resolve_secret_key(settings, instance)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
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
