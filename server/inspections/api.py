"""``/api/v1/submissions``: idempotent by the client's ``instance_id``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge

from server.auth.decorators import current_user, roles_required
from server.errors import Invalid
from server.extensions import db
from server.inspections import services
from server.schemas import Blueprint

blp = Blueprint("submissions", __name__, url_prefix="/api/v1/submissions", description="检查结果提交 (handheld sync)")


class LocationSchema(Schema):
    lat = fields.Float(required=True, validate=validate.Range(-90, 90))
    lon = fields.Float(required=True, validate=validate.Range(-180, 180))
    accuracy = fields.Float(load_default=None, allow_none=True)


class AttachmentDeclSchema(Schema):
    item_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = fields.String(required=True, validate=validate.OneOf(["photo", "signature"]))
    filename = fields.String(load_default="file", validate=validate.Length(max=200))
    checksum = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))
    size = fields.Integer(load_default=0, validate=validate.Range(min=0))
    original_checksum = fields.String(load_default=None, allow_none=True,
                                      validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"),
                                      metadata={"description": "SHA-256 of the camera's original, before downscaling"})
    original_size = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0))


class SubmissionSchema(Schema):
    instance_id = fields.String(required=True, validate=validate.Length(min=8, max=64))
    task_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    form_code = fields.String(required=True, validate=validate.Length(max=32))
    form_version = fields.String(required=True, validate=validate.Length(max=16))
    answers = fields.Dict(keys=fields.String(), required=True)
    started_at = fields.String(load_default=None, allow_none=True)
    completed_at = fields.String(load_default=None, allow_none=True)
    location = fields.Nested(LocationSchema, load_default=None, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentDeclSchema), load_default=list)
    device_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64))
    deprecated_id = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=64), metadata={
        "description": "instance_id of the pending submission this one replaces (OpenRosa meta/deprecatedID)"})


class SubmissionResultSchema(Schema):
    id = fields.Integer()
    instance_id = fields.String()
    status = fields.String(metadata={"description": "accepted (stored now) or duplicate (a replay)"})
    state = fields.String(metadata={"description": "pending (attachments missing: task open, no result yet), "
                                                   "complete (result recorded) or superseded"})
    task_id = fields.Integer()
    task_state = fields.String()
    problem_found = fields.Boolean(allow_none=True)
    missing_attachments = fields.List(fields.String())
    refused_attachments = fields.Dict(keys=fields.String(), values=fields.String(),
                                      metadata={"description": "checksum → why its last upload was refused"})
    message = fields.String()


class AttachmentResultSchema(Schema):
    id = fields.Integer()
    checksum = fields.String()
    size = fields.Integer()
    stored = fields.Boolean()
    submission = fields.Nested(SubmissionResultSchema, metadata={"description": "the submission after this upload"})


@blp.route("")
class SubmissionCollection(MethodView):
    @roles_required("inspector")
    @blp.arguments(SubmissionSchema)
    @blp.response(201, SubmissionResultSchema)
    @blp.alt_response(200, schema=SubmissionResultSchema, description="identical submission already stored, complete")
    @blp.alt_response(202, schema=SubmissionResultSchema,
                      description="identical submission already stored, still waiting for attachments")
    @blp.alt_response(409, description="different content under the same instance_id, or the task already has a result")
    @blp.alt_response(422, description="invalid form: item-level messages in `items`")
    def post(self, body: dict[str, Any]) -> Any:
        """Submit a finished inspection form (idempotent by instance_id)."""
        user = current_user()
        assert user is not None
        raw = request.get_json()
        outcome = services.receive_submission(db.session, user, raw if isinstance(raw, dict) else body)
        return outcome.receipt, outcome.http_status


@blp.route("/<int:submission_id>/attachments")
class AttachmentUpload(MethodView):
    @roles_required("inspector")
    @blp.response(201, AttachmentResultSchema)
    @blp.alt_response(200, schema=AttachmentResultSchema, description="already stored")
    @blp.alt_response(413, description="too large: the submission stays pending")
    @blp.alt_response(415, description="not an image of the accepted kinds: the submission stays pending")
    @blp.alt_response(422, description="checksum mismatch, or not declared")
    def post(self, submission_id: int) -> Any:
        """Upload a photo or signature declared in the submission (multipart ``file`` + ``checksum``)."""
        user = current_user()
        assert user is not None
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            # the whole request is over MAX_CONTENT_LENGTH: not even the checksum can be read
            raise services.TooLarge(
                f"附件超过 {current_app.config['MAX_ATTACHMENT_BYTES'] / (1024 * 1024):.0f} MB 上限，服务器未接收。"
                "请在上传队列中点“重新拍照”或“压缩后重新发送”。检查结果已保存，任务暂不办结；补传该附件后自动办结。"
            ) from None
        if upload is None:
            raise Invalid("缺少文件字段 file (multipart field 'file' is required)")
        checksum = request.form.get("checksum", "")
        outcome = services.store_attachment(
            db.session, user, submission_id, stream=upload.stream, checksum=checksum,
            directory=current_app.config["ATTACHMENT_DIR"], max_bytes=current_app.config["MAX_ATTACHMENT_BYTES"],
        )
        att = outcome.attachment
        return ({"id": att.id, "checksum": att.checksum, "size": att.size, "stored": True,
                 "submission": outcome.receipt}, 201 if outcome.created else 200)
