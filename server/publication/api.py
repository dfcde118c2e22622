"""``/api/v1/public``."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("publication", __name__, url_prefix="/api/v1/public", description="抽查结果公示")
