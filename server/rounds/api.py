"""``/api/v1/rounds``."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("rounds", __name__, url_prefix="/api/v1/rounds", description="双随机抽查计划")
