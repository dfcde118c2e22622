"""``/api/v1/entities``."""

from __future__ import annotations

from typing import Any

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import select

from server.auth.decorators import STAFF, current_user, roles_required
from server.entities import services
from server.entities.models import Entity
from server.entities.profile import entity_profile
from server.errors import Invalid, NotFound
from server.extensions import db
from server.schemas import Blueprint, ObjectSchema

blp = Blueprint("entities", __name__, url_prefix="/api/v1/entities", description="市场主体")


class EntityCreateSchema(Schema):
    uscc = fields.String(required=True)
    name = fields.String(required=True)
    region_code = fields.String(required=True)
    industry_code = fields.String(required=True)
    business_type = fields.String(required=True)
    entity_type = fields.String(required=True)
    registered_on = fields.String(required=True)
    address = fields.String(required=True)
    legal_representative = fields.String(required=True)
    phone = fields.String(load_default=None, allow_none=True)
    registered_capital = fields.Float(load_default=None, allow_none=True)


class ImportResultSchema(Schema):
    imported = fields.Integer()


@blp.route("")
class EntityCollection(MethodView):
    @roles_required("supervisor", "admin")
    @blp.arguments(EntityCreateSchema)
    @blp.response(201, ObjectSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register one entity (validated USCC, region, industry; duplicates refused)."""
        user = current_user()
        assert user is not None
        entity = services.create_entity(db.session, body, actor=user.username)
        return entity_profile(db.session, entity)


@blp.route("/import")
class EntityImport(MethodView):
    @roles_required("supervisor", "admin")
    @blp.response(201, ImportResultSchema)
    def post(self) -> dict[str, int]:
        """Import a CSV (UTF-8, header row) as multipart ``file`` or a text/csv body."""
        user = current_user()
        assert user is not None
        upload = request.files.get("file")
        raw = upload.read() if upload else request.get_data()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("CSV 必须是 UTF-8 编码 (CSV must be UTF-8)") from None
        return {"imported": services.import_entities_csv(db.session, text, actor=user.username)}


@blp.route("/<string:uscc>")
class EntityDetail(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, ObjectSchema)
    def get(self, uscc: str) -> dict[str, Any]:
        """Profile: licences, credit with reasons, open warnings, past inspections."""
        entity = db.session.scalar(select(Entity).where(Entity.uscc == uscc.strip().upper()))
        if entity is None:
            raise NotFound(f"未找到该市场主体 (no entity with USCC {uscc})")
        return entity_profile(db.session, entity)
