"""The audit chain's public anchor: the latest signed checkpoint and the public key.

Anyone can copy the checkpoints shown here; a later chain that no longer matches one
(``shuangsui audit verify``) has been rewritten or cut (server/audit/anchor.py).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template

from server.audit import anchor
from server.auth.decorators import public

bp = Blueprint("audit_public", __name__)


def _state() -> dict[str, Any]:
    checkpoint, problem = anchor.latest_checkpoint()
    return {"checkpoint": checkpoint, "public_key": anchor.public_key_pem(), "problem": problem,
            "algorithm": "Ed25519 over the JSON of events, head_id, head_hash, at (sorted keys, no spaces)"}


@bp.get("/public/audit")
@public
def audit_page() -> Any:
    return render_template("public/audit.html", **_state())


@bp.get("/public/audit.json")
@public
def audit_json() -> Any:
    return jsonify(_state())
