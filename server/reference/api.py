"""``/api/v1/laws``, ``/api/v1/forms``, ``/api/v1/check-items``: what the handheld downloads."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields
from sqlalchemy import func, select

from server.auth.decorators import OFFICE, STAFF, roles_required
from server.errors import NotFound
from server.extensions import db
from server.reference.models import CheckItem, FormTemplate, Law, LegalReference
from server.schemas import Blueprint

blp = Blueprint("reference", __name__, url_prefix="/api/v1", description="法律法规、检查表单、抽查事项")


class ArticleSchema(Schema):
    law = fields.String()
    number = fields.Integer()
    label = fields.String()
    chapter = fields.String(allow_none=True)
    text = fields.String()


class LawSummarySchema(Schema):
    id = fields.String()
    title = fields.String()
    version_date = fields.Date(allow_none=True)
    articles = fields.Integer()


class LawListSchema(Schema):
    items = fields.List(fields.Nested(LawSummarySchema))


class LawSchema(Schema):
    id = fields.String()
    title = fields.String()
    version_date = fields.Date(allow_none=True)
    articles = fields.List(fields.Nested(ArticleSchema))


class FormSummarySchema(Schema):
    code = fields.String()
    title = fields.String()
    version = fields.String()
    business_types = fields.List(fields.String())


class FormListSchema(Schema):
    items = fields.List(fields.Nested(FormSummarySchema))


class FormSchema(FormSummarySchema):
    items = fields.List(fields.Dict())


class CheckItemSchema(Schema):
    code = fields.String()
    department_kind = fields.String()
    domain = fields.String()
    category = fields.String()
    item = fields.String()
    object = fields.String()
    item_class = fields.String()
    method = fields.String()
    legal_basis = fields.String()
    basis_quote = fields.String(allow_none=True, metadata={"description": "所引条文中规定该要求的原句（“……”连接片段）"})
    law = fields.String(allow_none=True)
    article = fields.Integer(allow_none=True)


class CheckItemListSchema(Schema):
    items = fields.List(fields.Nested(CheckItemSchema))


def article_dict(ref: LegalReference) -> dict[str, Any]:
    return {"law": ref.law_id, "number": ref.article, "label": ref.label, "chapter": ref.chapter, "text": ref.text}


def check_item_dict(item: CheckItem) -> dict[str, Any]:
    ref = item.legal_reference
    return {
        "code": item.code,
        "department_kind": item.department_kind,
        "domain": item.domain,
        "category": item.category,
        "item": item.item,
        "object": item.object,
        "item_class": item.item_class,
        "method": item.method,
        "legal_basis": item.legal_basis,
        "basis_quote": item.basis_quote,
        "law": ref.law_id if ref else None,
        "article": ref.article if ref else None,
    }


@blp.route("/laws")
class LawList(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, LawListSchema)
    def get(self) -> dict[str, Any]:
        """Laws shipped with the product, with their article counts."""
        counts = dict(
            db.session.execute(
                select(LegalReference.law_id, func.count()).group_by(LegalReference.law_id)
            ).all()
        )
        laws = db.session.scalars(select(Law).order_by(Law.id)).all()
        return {
            "items": [
                {"id": law.id, "title": law.title, "version_date": law.version_date, "articles": counts.get(law.id, 0)}
                for law in laws
            ]
        }


@blp.route("/laws/<string:law_id>")
class LawDetail(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, LawSchema)
    def get(self, law_id: str) -> dict[str, Any]:
        """A whole law, every article (the handheld keeps it for offline reading)."""
        law = db.session.get(Law, law_id)
        if law is None:
            raise NotFound(f"没有这部法律 (no law {law_id!r})")
        return {
            "id": law.id,
            "title": law.title,
            "version_date": law.version_date,
            "articles": [article_dict(a) for a in law.articles],
        }


@blp.route("/laws/<string:law_id>/articles/<int:number>")
class ArticleDetail(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, ArticleSchema)
    def get(self, law_id: str, number: int) -> dict[str, Any]:
        """One article."""
        ref = db.session.scalar(
            select(LegalReference).where(LegalReference.law_id == law_id, LegalReference.article == number)
        )
        if ref is None:
            raise NotFound(f"{law_id} 没有第 {number} 条 (no such article)")
        return article_dict(ref)


@blp.route("/forms")
class FormList(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, FormListSchema)
    def get(self) -> dict[str, Any]:
        """Current inspection form templates."""
        forms = db.session.scalars(
            select(FormTemplate).where(FormTemplate.current.is_(True)).order_by(FormTemplate.code)
        ).all()
        return {"items": forms}


@blp.route("/forms/<string:code>")
class FormDetail(MethodView):
    @roles_required(*STAFF)
    @blp.response(200, FormSchema)
    def get(self, code: str) -> FormTemplate:
        """A form template by code (or business type), items with their legal references."""
        form = current_form(code)
        if form is None:
            raise NotFound(f"没有该检查表 (no form {code!r})")
        return form


def current_form(code: str) -> FormTemplate | None:
    form = db.session.scalar(
        select(FormTemplate).where(FormTemplate.code == code, FormTemplate.current.is_(True))
    )
    if form is None:
        from server.reference.models import BusinessType

        bt = db.session.get(BusinessType, code)
        if bt is not None:
            return current_form(bt.form_code) if bt.form_code != code else None
    return form


@blp.route("/check-items")
class CheckItemList(MethodView):
    @roles_required(*OFFICE)
    @blp.response(200, CheckItemListSchema)
    def get(self) -> dict[str, Any]:
        """The check-item catalogue (抽查事项清单)."""
        items = db.session.scalars(select(CheckItem).order_by(CheckItem.code)).all()
        return {"items": [check_item_dict(i) for i in items]}
