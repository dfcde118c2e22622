"""``/api/v1/submissions``: idempotent by the client's ``instance_id``."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from server.auth.decorators import current_user, roles_required
from server.errors import Forbidden, Invalid, NotFound
from server.extensions import db
from server.inspections import services
from server.inspections.results import FOLLOW_UPS, RESULT_CATEGORIES
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
    result_category = fields.String(
        load_default=None, allow_none=True,
        validate=validate.OneOf(list(RESULT_CATEGORIES), error="未知的检查结论类别 (unknown result category)"),
        metadata={"description": (
            "检查结论：公示结果类别（" + "；".join(f"{k} {v}" for k, v in RESULT_CATEGORIES.items()) + "）。"
            "须与检查记录一致：有判定为不符合的检查项时只能选发现问题的类别；无法联系、拒绝检查、停业须与“现场情况”一致；"
            "否则 422，items.result_category 说明原因。缺省（旧版终端）时由答案推定：无法联系→unreachable；"
            "仅年报项不符合→annual_report_not_published；其他不符合→problem_corrected（后续处置 rectification_ordered，"
            "行政处罚法第二十八条责令改正）；否则 no_problem。")})
    follow_up = fields.String(
        load_default=None, allow_none=True,
        validate=validate.OneOf(list(FOLLOW_UPS), error="未知的后续处置 (unknown follow-up)"),
        metadata={"description": (
            "后续处置（" + "；".join(f"{k} {v}" for k, v in FOLLOW_UPS.items()) + "）。须与检查结论一致；"
            "缺省时按结论推定（如 problem_corrected → rectification_ordered，no_problem → none）。")})
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
    result_category = fields.String(allow_none=True, metadata={"description": "检查结论（公示结果类别），已存"})
    follow_up = fields.String(allow_none=True, metadata={"description": "后续处置，已存"})
    form_version = fields.String(metadata={"description": "结果所依据的检查表版本"})
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
    @blp.alt_response(409, description="different content under the same instance_id, the task already has a result, "
                                       "or `form_outdated`: the form version is no longer accepted (refresh the form; "
                                       "`current_version` names the one to use)")
    @blp.alt_response(422, description="invalid form or a conclusion that contradicts it: item-level messages in `items`")
    def post(self, body: dict[str, Any]) -> Any:
        """Submit a finished inspection form (idempotent by instance_id)."""
        user = current_user()
        assert user is not None
        raw = request.get_json()
        outcome = services.receive_submission(db.session, user, raw if isinstance(raw, dict) else body)
        return outcome.receipt, outcome.http_status


class FilledItemSchema(Schema):
    id = fields.String()
    label = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    check_item = fields.String(allow_none=True)
    answer = fields.Raw(allow_none=True)
    answer_label = fields.String(allow_none=True, metadata={"description": "符合 / 不符合 / 不适用（合理缺项）或选项文字"})


class FilledFormSchema(Schema):
    form_code = fields.String()
    form_version = fields.String(metadata={"description": "填写时的检查表版本（结果始终按该版本显示）"})
    title = fields.String()
    items = fields.List(fields.Nested(FilledItemSchema))
    result_category = fields.String(allow_none=True)
    result_category_label = fields.String(allow_none=True)
    follow_up = fields.String(allow_none=True)
    follow_up_label = fields.String(allow_none=True)


@blp.route("/<int:submission_id>")
class SubmissionDetail(MethodView):
    @roles_required("inspector", "supervisor", "admin")
    @blp.response(200, FilledFormSchema)
    def get(self, submission_id: int) -> Any:
        """A stored submission shown on the form version it was filled in on."""
        from server.inspections.models import Submission

        user = current_user()
        assert user is not None
        submission = db.session.get(Submission, submission_id)
        if submission is None:
            raise NotFound(f"提交不存在 (no submission {submission_id})")
        if not (user.has_role("supervisor") or user.has_role("admin")) and submission.user_id != user.id:
            raise Forbidden("只能查看自己的提交 (not your submission)")
        return services.filled_form(db.session, submission)


@blp.route("/<int:submission_id>/attachments")
class AttachmentUpload(MethodView):
    #: the answer when the whole upload is over MAX_CONTENT_LENGTH (given by server.limits,
    #: before the form, so not even the checksum can be read)
    too_large_message = ("附件超过服务器接收上限，服务器未接收。请在上传队列中点“重新拍照”或“压缩后重新发送”。"
                         "检查结果已保存，任务暂不办结；补传该附件后自动办结。")
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
        upload = request.files.get("file")  # over MAX_CONTENT_LENGTH: refused by server.limits
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
