"""Public pages (一公开), no login: rounds from their seed commitment on, each draw with its results, replay."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from server.auth.decorators import public
from server.console.exports import export
from server.console.views import bp
from server.errors import DomainError, NotFound
from server.extensions import db
from server.inspections.results import PROBLEM_CATEGORIES
from server.publication import services as publication
from server.reference.models import CheckItem
from server.rounds import services as rounds

#: The published file of a round's drawn entities: who was drawn and what was found — never
#: a grade, weight or inclusion probability (docs/publication.md).
ENTITY_COLUMNS = [
    "rank",
    "name",
    "uscc",
    "region",
    "status_label",
    "inspected_on",
    "result",
    "follow_up_label",
    "reason",
    "replay_salt",
]


@bp.get("/public")
@public
def public_rounds() -> Any:
    names = publication.Names(db.session)
    return render_template(
        "public/rounds.html",
        rounds=[publication.public_round_summary(r, names) for r in publication.public_rounds(db.session)],
    )


@bp.get("/public/rounds/<int:round_id>")
@public
def public_round(round_id: int) -> Any:
    rnd = publication.visible(db.session, round_id)
    data = publication.public_round(db.session, rnd)
    items = db.session.scalars(
        select(CheckItem)
        .where(CheckItem.code.in_(rnd.check_item_codes or []))
        .order_by(CheckItem.code)
    ).all()
    entities = data["entities"]
    figures = {
        "drawn": len(entities),
        "inspected": sum(1 for e in entities if e["status"] == "inspected"),
        "problems": sum(1 for e in entities if e["result_category"] in PROBLEM_CATEGORIES),
        "infeasible": sum(1 for e in entities if e["status"] == "infeasible"),
    }
    return render_template("public/round.html", r=data, check_items=items, figures=figures)


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
