"""``shuangsui credit train|score``: the public-credit scorecard."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group("credit")
def credit_group() -> None:
    """Public credit scores and grades A/B/C/D."""


@credit_group.command("train")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Use outcomes before this date.")
@with_appcontext
def train_cmd(until: dt.datetime | None) -> None:
    """Fit the scorecard on recorded inspection outcomes."""
    from server.credit.services import MIN_OUTCOMES, train_credit
    from server.extensions import db

    model = train_credit(db.session, until=(until.date() if until else dt.date.today()),
                         model_dir=current_app.config["MODEL_DIR"], actor="cli")
    if model is None:
        raise click.ClickException(f"需要至少 {MIN_OUTCOMES} 条检查结果，且既有发现问题的、也有未发现问题的，"
                                   "才能训练评分卡；在此之前沿用公布的扣分表")
    click.echo("credit scorecard trained", err=True)


@credit_group.command("score")
@click.option("--as-of", type=click.DateTime(["%Y-%m-%d"]), default=None)
@with_appcontext
def score_cmd(as_of: dt.datetime | None) -> None:
    """Score and grade every entity (features from recorded data, bulk)."""
    from server.credit.services import score_credit
    from server.extensions import db
    from server.risk.features import build_features, save_snapshot

    day = as_of.date() if as_of else dt.date.today()
    with click.progressbar(length=3, label="credit", file=None) as bar:
        frame = build_features(db.session, day)
        bar.update(1)
        save_snapshot(db.session, frame, current_app.config["MODEL_DIR"])
        bar.update(1)
        counts = score_credit(db.session, frame, actor="cli")
        bar.update(1)
    click.echo(" ".join(f"{g}:{n}" for g, n in counts.items()))
