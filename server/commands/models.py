"""``shuangsui models …``: train the 15 warning models on recorded outcomes, list versions, score."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("models")
def models_group() -> None:
    """The 15 risk-warning models."""


def _frame(as_of: dt.date):  # type: ignore[no-untyped-def]
    from server.extensions import db
    from server.risk.features import build_features, save_snapshot

    frame = build_features(db.session, as_of)
    save_snapshot(db.session, frame, current_app.config["MODEL_DIR"])
    return frame


@models_group.command("train")
@click.argument("names", nargs=-1)
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Learn from outcomes recorded before this date (default today).")
@with_appcontext
def train_cmd(names: tuple[str, ...], until: dt.datetime | None) -> None:
    """Retrain NAMES (default: all 15) on the inspection outcomes recorded so far."""
    from risk_models.registry import MODEL_NAMES
    from server.extensions import db
    from server.risk.services import train_model

    unknown = [n for n in names if n not in MODEL_NAMES]
    if unknown:
        raise click.ClickException(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(MODEL_NAMES)}")
    day = until.date() if until else dt.date.today()
    frame = _frame(day)
    with click.progressbar(list(names or MODEL_NAMES), label="train", file=None) as bar:
        for name in bar:
            v = train_model(db.session, name, until=day, model_dir=current_app.config["MODEL_DIR"],
                            population=frame, actor="cli")
            click.echo(f"\n{name}: version {v.version}, {v.n_samples} outcomes ({v.n_positive} problems)"
                       f"{' — cold start (rule/statistical score)' if v.metrics.get('cold_start') else ''}",
                       err=True)


@models_group.command("list")
@with_appcontext
def list_cmd() -> None:
    """Active versions with their training data and precision so far."""
    from sqlalchemy import select

    from server.extensions import db
    from server.risk.models import ModelVersion
    from server.risk.services import model_precision

    precision = {r["model"]: r for r in model_precision(db.session)}
    for v in db.session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True)).order_by(ModelVersion.name)):
        p = precision.get(v.name, {})
        prec = "—" if p.get("precision") is None else f"{100 * p['precision']:.1f}%"
        click.echo(f"{v.name:<22} v{v.version:<10} trained on {v.n_samples:>6} outcomes  "
                   f"warnings {p.get('warnings', 0):>5}  inspected {p.get('inspected', 0):>5}  precision {prec}")


@models_group.command("score")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--issue/--no-issue", default=True, show_default=True, help="Issue warnings above thresholds.")
@with_appcontext
def score_cmd(as_of: dt.datetime | None, issue: bool) -> None:
    """Score every entity with the active models (and issue warnings)."""
    from server.extensions import db
    from server.risk.services import issue_from_scores, load_models, score_models
    from server.workdays import calendar_from_config

    day = as_of.date() if as_of else dt.date.today()
    frame = _frame(day)
    models = load_models(db.session)
    if not models:
        raise click.ClickException("no trained model: run `shuangsui models train` first")
    run = score_models(db.session, frame, models)
    if issue:
        out = issue_from_scores(db.session, frame, run, models, today=day,
                                calendar=calendar_from_config(current_app.config),
                                sla=current_app.config.get("SLA_WORKING_DAYS") or {"red": 3, "orange": 7, "yellow": 15})
        for name, counts in out.items():
            click.echo(f"{name:<22} issued {counts['issued']:>5}  merged {counts['merged']:>5}")
