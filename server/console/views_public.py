"""Public pages (一公开), no login: published rounds, each draw with its results, replay."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from server.auth.decorators import public
from server.console.exports import export
from server.console.views import bp
from server.errors import DomainError, NotFound
from server.extensions import db
from server.publication import services as publication
from server.reference.models import CheckItem
from server.rounds import services as rounds
from server.rounds.models import SamplingRound

ENTITY_COLUMNS = [
    "rank",
    "uscc",
    "name",
    "region",
    "grade",
    "inclusion_probability",
    "forced",
    "inspected_on",
    "result",
    "summary",
]


@bp.get("/public")
@public
def public_rounds() -> Any:
    items = db.session.scalars(
        select(SamplingRound)
        .where(SamplingRound.state == "published")
        .order_by(SamplingRound.published_at.desc(), SamplingRound.id.desc())
    ).all()
    return render_template(
        "public/rounds.html", rounds=[publication.public_round_summary(r) for r in items]
    )


@bp.get("/public/rounds/<int:round_id>")
@public
def public_round(round_id: int) -> Any:
    rnd = publication.published(db.session, round_id)
    data = publication.public_round(db.session, rnd)
    items = db.session.scalars(
        select(CheckItem)
        .where(CheckItem.code.in_(rnd.check_item_codes or []))
        .order_by(CheckItem.code)
    ).all()
    inspected = [e for e in data["entities"] if e["result"]]
    problems = sum(1 for e in inspected if e["result"] == "发现问题")
    return render_template(
        "public/round.html", r=data, check_items=items, inspected=len(inspected), problems=problems
    )


@bp.get("/public/rounds/<int:round_id>.<fmt>")
@public
def public_round_export(round_id: int, fmt: str) -> Any:
    if fmt not in ("csv", "json"):
        raise NotFound(f"未知格式 {fmt}")
    data = publication.public_round(db.session, publication.published(db.session, round_id))
    return export(data["entities"], ENTITY_COLUMNS, f"round-{round_id}-entities", fmt)


@bp.get("/public/rounds/<int:round_id>/replay")
@public
def public_replay(round_id: int) -> Any:
    rnd = publication.published(db.session, round_id)
    try:
        result = rounds.replay(db.session, rnd)
        error = None
    except (DomainError, OSError) as exc:
        result, error = (
            None,
            getattr(exc, "message", None)
            or "名录库快照不可用，无法复核 (pool snapshot unavailable)",
        )
    return render_template(
        "public/replay.html", r=publication.public_round_summary(rnd), result=result, error=error
    )
