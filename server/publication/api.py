"""``/api/v1/public``: what the public sees of each draw (一公开) — no login."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from server.auth.decorators import public
from server.extensions import db
from server.publication import services
from server.rounds import services as rounds
from server.schemas import Blueprint, ObjectSchema

blp = Blueprint("publication", __name__, url_prefix="/api/v1/public", description="抽查结果公示")


@blp.route("/rounds")
class PublicRounds(MethodView):
    @public
    @blp.response(200, ObjectSchema)
    def get(self) -> dict[str, Any]:
        """Rounds from the moment their seed is committed: definition, state and commitment
        (承诺值) before the draw; seed and pool digest once published.
        """
        names = services.Names(db.session)
        return {"items": [services.public_round_summary(r, names) for r in services.public_rounds(db.session)]}


@blp.route("/rounds/<int:round_id>")
class PublicRound(MethodView):
    @public
    @blp.response(200, ObjectSchema)
    def get(self, round_id: int) -> dict[str, Any]:
        """A round: its definition and commitment; once published, each drawn entity with its
        result category and follow-up (or 无法实施 and the reason) — no grades, weights or probabilities.
        """
        return services.public_round(db.session, services.visible(db.session, round_id))


@blp.route("/rounds/<int:round_id>/replay")
class PublicReplay(MethodView):
    @public
    @blp.response(200, ObjectSchema)
    def get(self, round_id: int) -> dict[str, Any]:
        """Re-run the draw from the revealed seed and the published pool; say whether it matches."""
        return rounds.replay(db.session, services.published(db.session, round_id))


@blp.route("/rounds/<int:round_id>/pool.csv")
class PublicPool(MethodView):
    @public
    @blp.response(200, content_type="text/csv")
    def get(self, round_id: int) -> Response:
        """The pool the draw ran on, anonymised (salted keys, strata, weights), for anyone to replay it."""
        rnd = services.published(db.session, round_id)
        return Response(rounds.pool_csv(rnd), mimetype="text/csv",
                        headers={"Content-Disposition": f"attachment; filename=round-{round_id}-pool.csv"})
