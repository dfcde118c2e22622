"""Receiving submissions from the handheld: idempotent, validated, never lost.

Semantics (after OpenRosa's submission API and ODK's instance ids):

* The client generates ``instance_id`` once per finished form and keeps it across
  retries. The first POST stores the submission, the task's inspection result and the
  feedback to the warning it answers, in one transaction, and answers 201 only after
  the commit.
* The identical body again (a retry after a lost response) answers 200 with the stored
  record and writes nothing. A different body under the same ``instance_id`` is 409.
* A second submission for a task that already has a result (another device, another
  inspector) is 409 and says who submitted it and when.
* Attachments are uploaded afterwards, each idempotent by its SHA-256 checksum, stored
  under a server-chosen path (client file names never reach the file system).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.audit.services import record
from server.auth.models import User
from server.db import utcnow
from server.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.inspections.forms import check_answers, check_item_questions, conclude, inspectable_rule
from server.inspections.models import Attachment, InspectionResult, Submission
from server.reference.models import FormTemplate
from server.tasks.models import Task, TaskAssignment

OPEN_TASK_STATES = ("assigned", "in_progress")
VOLATILE_KEYS = ()  # every field of the body counts for "identical"


class TooLarge(DomainError):
    status, code = 413, "too_large"


@dataclass
class Outcome:
    submission: Submission
    created: bool
    result: InspectionResult | None
    #: the answer to the handheld (``SubmissionResultSchema``), taken before the commit
    receipt: dict[str, Any]


def _receipt(submission: Submission, *, created: bool, task_state: str | None, result: InspectionResult | None,
             missing: list[str]) -> dict[str, Any]:
    """A stored submission as the API reports it."""
    return {
        "id": submission.id,
        "instance_id": submission.instance_id,
        "status": "accepted" if created else "duplicate",
        "task_id": submission.task_id,
        "task_state": task_state,
        "problem_found": result.problem_found if result else None,
        "result_category": result.result_category if result else None,
        "follow_up": result.follow_up if result else None,
        "form_version": submission.form_version,
        "missing_attachments": missing,
    }


def payload_hash(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# Built once: every handheld submission runs them (building a statement costs about as
# much as running it on SQLite).
_SUBMISSION_ID = select(Submission.id).where(Submission.instance_id == bindparam("instance_id"))
_ASSIGNED = select(TaskAssignment.id).where(
    TaskAssignment.task_id == bindparam("task_id"),
    TaskAssignment.inspector_id == bindparam("inspector_id")).limit(1)
_FORM = select(FormTemplate).where(FormTemplate.code == bindparam("code"),
                                   FormTemplate.version == bindparam("version"))


def _existing(session: Session, instance_id: str, digest: str) -> Outcome | None:
    # the usual answer is "not yet": asked with a plain row before loading anything
    row = session.connection().execute(_SUBMISSION_ID, {"instance_id": instance_id}).first()
    if row is None:
        return None
    found = session.get(Submission, row.id)
    if found is None:  # pragma: no cover - deleted in between (a restore)
        return None
    if found.payload_hash != digest:
        raise Conflict(
            f"instance_id {instance_id} 已用于另一份不同内容的提交 (a different submission was stored under this instance id)",
            code="instance_conflict",
        )
    result = session.scalar(select(InspectionResult).where(InspectionResult.submission_id == found.id))
    task = session.get(Task, found.task_id)
    return Outcome(found, False, result, _receipt(
        found, created=False, task_state=task.state if task else None,
        result=result, missing=missing_attachments(session, found)))


def _inspected_on(body: dict[str, Any]) -> dt.date:
    for key in ("completed_at", "started_at"):
        value = body.get(key)
        if value:
            try:
                return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
            except ValueError:
                raise Invalid(f"{key}: 时间格式应为 ISO 8601 (bad timestamp) {value!r}") from None
    return utcnow().date()


def form_items_for_task(session: Session, task: Task, form: FormTemplate) -> list[dict[str, Any]]:
    """The business type's form followed by the judged items of the task's check items
    (asked only when the premises could be inspected, as the form's own judged items)."""
    from server.reference.api import check_item_dict
    from server.reference.models import CheckItem

    if not task.check_items:
        return list(form.items)
    items = {c.code: c for c in session.scalars(select(CheckItem).where(CheckItem.code.in_(task.check_items)))}
    return list(form.items) + check_item_questions([check_item_dict(items[c]) for c in task.check_items if c in items],
                                                   inspectable_rule(form.items))


def receive_submission(session: Session, user: User, body: dict[str, Any], *, today: dt.date | None = None) -> Outcome:
    """Store a submission and its consequences, or return the stored one (idempotent)."""
    instance_id = str(body["instance_id"])
    digest = payload_hash(body)
    existing = _existing(session, instance_id, digest)
    if existing is not None:
        return existing

    task = session.get(Task, int(body["task_id"]))
    if task is None:
        raise NotFound(f"任务不存在 (no task {body['task_id']})")
    if user.inspector_id is None or session.connection().execute(
            _ASSIGNED, {"task_id": task.id, "inspector_id": user.inspector_id}).first() is None:
        raise Forbidden(f"任务 {task.id} 未分配给您 (task not assigned to you)")
    if task.state not in OPEN_TASK_STATES:
        # The same body may have been committed by a concurrent copy of this request since
        # the check above (a retry racing its late original): that is a replay, not a conflict.
        existing = _existing(session, instance_id, digest)
        if existing is not None:
            return existing
        raise _already_done(session, task)

    form = session.scalar(_FORM, {"code": body["form_code"], "version": str(body["form_version"])})
    if form is None:
        raise Invalid(f"未知检查表或版本 (unknown form {body['form_code']} version {body['form_version']})")
    if form.code != task.form_code:
        raise Invalid(f"该任务应使用检查表 {task.form_code} (task uses form {task.form_code}, got {form.code})")
    if not form.accepts_submissions:
        raise _form_outdated(session, form)
    items = form_items_for_task(session, task, form)
    answers = body.get("answers") or {}
    check = check_answers(items, answers, body.get("attachments") or [])
    if check.errors:
        raise Invalid("检查表填写不完整或有误 (form has invalid items)", items=check.errors)
    # 检查结论: the stated result category must agree with the answers (derived when absent)
    conclusion = conclude(items, answers, body.get("result_category"), body.get("follow_up"))
    if conclusion.errors:
        raise Invalid("检查结论与检查记录不符 (the conclusion contradicts the answers)", items=conclusion.errors)

    inspected_on = _inspected_on(body)
    submission = Submission(
        instance_id=instance_id,
        task_id=task.id,
        user_id=user.id,
        inspector_id=user.inspector_id,
        form_code=form.code,
        form_version=form.version,
        payload=body,
        payload_hash=digest,
        device_id=(str(body.get("device_id"))[:64] if body.get("device_id") else None),
    )
    # Nothing is written before record_result's flush: SQLite lets one transaction write at
    # a time, so everything above (reads, validation) stays outside that window. A
    # concurrent copy of this submission surfaces there as a unique violation (below).
    declared = [Attachment(
        item_id=str(att["item_id"]), kind=str(att["kind"]), filename=_client_filename(att.get("filename")),
        checksum=str(att["checksum"]).lower(), size=int(att.get("size") or 0), path=None, received_at=None,
    ) for att in body.get("attachments") or []]
    submission.attachments = declared
    session.add(submission)
    task_id = task.id
    try:
        # A concurrent result for the same task surfaces as a unique violation either at
        # record_result's flush (PostgreSQL waits for the other transaction, then refuses
        # the insert) or at the commit: both mean "someone else was first".
        result = record_result(
            session, task, inspected_on=inspected_on, problem_found=conclusion.problem_found,
            problem_domains=check.problem_domains, checked_domains=check.checked_domains or list(task.domains),
            failed_items=check.failed_items, summary=_summary(check.summary, conclusion.result_category),
            submission=submission, actor=user.username,
            result_category=conclusion.result_category, follow_up=conclusion.follow_up,
        )
        # taken before the commit (which expires every loaded row): every declared
        # attachment is still to be uploaded, so nothing needs reading back
        receipt = _receipt(submission, created=True, task_state=task.state, result=result,
                           missing=[a.checksum for a in declared])
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = _existing(session, instance_id, digest)
        if existing is not None:
            return existing
        done = session.get(Task, task_id)
        if done is not None and session.scalar(select(InspectionResult.id).where(InspectionResult.task_id == task_id)):
            raise _already_done(session, done) from None
        raise Conflict(f"任务 {task_id} 已由其他设备提交结果 (the task received another result at the same time)",
                       code="task_closed") from None
    return Outcome(submission, True, result, receipt)


def _summary(findings: str | None, category: str | None) -> str | None:
    """The result's one-line summary: the published category, then what was found."""
    from server.inspections.results import RESULT_CATEGORIES

    if category is None:
        return findings
    label = RESULT_CATEGORIES[category]
    if not findings or findings == label or findings == "未发现问题":
        return label
    return f"{label}。{findings}"[:500]


def _form_outdated(session: Session, form: FormTemplate) -> Conflict:
    """The 409 for a submission filled in on a form version that is no longer accepted."""
    current = session.scalar(select(FormTemplate).where(FormTemplate.code == form.code,
                                                        FormTemplate.current.is_(True)))
    newer = f"第 {current.version} 版" if current is not None else "新版"
    reason = f"（{form.retired_reason}）" if form.retired_reason else ""
    return Conflict(
        f"检查表“{form.title}”第 {form.version} 版已停用{reason}。请同步下载{newer}检查表，"
        f"按新版重新填写后提交 (form version {form.version} is no longer accepted; refresh the form)",
        code="form_outdated", form_code=form.code, form_version=form.version,
        current_version=current.version if current is not None else None,
    )


def filled_form(session: Session, submission: Submission) -> dict[str, Any]:
    """A stored submission as the form it was filled in on: its own version's items (never
    the current version's), each with the answer and the words the inspector chose.

    Form versions are immutable once loaded (``server.reference.services.load_form``), so
    an old result reads as it was recorded after the form has changed.
    """
    from server.inspections.forms import COMPLIANCE
    from server.inspections.results import FOLLOW_UPS, RESULT_CATEGORIES

    form = session.scalar(_FORM, {"code": submission.form_code, "version": submission.form_version})
    if form is None:  # pragma: no cover - versions are never deleted
        raise NotFound(f"检查表 {submission.form_code} 第 {submission.form_version} 版不存在")
    task = session.get(Task, submission.task_id)
    items = form_items_for_task(session, task, form) if task is not None else list(form.items)
    answers = submission.payload.get("answers") or {}
    rows = []
    for item in items:
        value = answers.get(item["id"])
        if item.get("type") == "compliance":
            shown = COMPLIANCE.get(value)
        elif item.get("type") == "yes_no":
            shown = {"yes": "是", "no": "否"}.get(value)
        elif item.get("choices"):
            shown = next((c.get("label") for c in item["choices"] if c["value"] == value), None)
        else:
            shown = None
        rows.append({"id": item["id"], "label": item.get("label"), "type": item.get("type"),
                     "check_item": item.get("check_item"), "answer": value, "answer_label": shown})
    result = session.scalar(select(InspectionResult).where(InspectionResult.submission_id == submission.id))
    category = result.result_category if result else None
    return {
        "form_code": form.code, "form_version": form.version, "title": form.title, "items": rows,
        "result_category": category, "result_category_label": RESULT_CATEGORIES.get(category or ""),
        "follow_up": result.follow_up if result else None,
        "follow_up_label": FOLLOW_UPS.get(result.follow_up or "") if result else None,
    }


def _client_filename(raw: Any) -> str:
    """The client's file name, kept as a label only: its last component in either path
    convention, never empty, "." or ".." (it must stay harmless wherever it is shown or
    exported; the bytes are stored under the checksum)."""
    name = re.split(r"[\\/]", str(raw or ""))[-1].replace("\x00", "")[:200]
    return name if name.strip(". ") else "file"


def _already_done(session: Session, task: Task) -> Conflict:
    """The 409 for a task that has its result: who submitted it, and when."""
    prior = session.scalar(select(Submission).where(Submission.task_id == task.id).order_by(Submission.id))
    who = ""
    if prior is not None:
        by = session.get(User, prior.user_id) if prior.user_id else None
        who = f"，已由 {by.display_name if by else '其他设备'} 于 {prior.received_at:%Y-%m-%d %H:%M} 提交"
    return Conflict(f"任务 {task.id} 已办结{who} (task already has a result; state {task.state})",
                    code="task_closed")


def record_result(
    session: Session,
    task: Task,
    *,
    inspected_on: dt.date,
    problem_found: bool,
    problem_domains: list[str],
    checked_domains: list[str],
    failed_items: list[str],
    summary: str | None,
    submission: Submission | None,
    actor: str,
    result_category: str | None = None,
    follow_up: str | None = None,
) -> InspectionResult:
    """The one place an inspection result is written; it updates the task and warning.

    Used by the handheld's submissions and by desk checks; the caller commits.
    ``result_category``/``follow_up`` are the published conclusion
    (:mod:`server.inspections.results`); a submission's are checked by ``forms.conclude``.
    """
    result = InspectionResult(
        task_id=task.id,
        submission=submission,
        entity_id=task.entity_id,
        channel=task.channel,
        round_id=task.round_id,
        warning_id=task.warning_id,
        inspected_on=inspected_on,
        problem_found=problem_found,
        problem_domains=problem_domains,
        checked_domains=checked_domains,
        failed_items=failed_items,
        summary=summary,
        result_category=result_category,
        follow_up=follow_up,
    )
    session.add(result)
    task.state = "submitted"
    task.problem_found = problem_found
    task.completed_at = utcnow()
    session.flush()
    record(session, actor, "inspection.result", "task", task.id, problem_found=problem_found,
           result_category=result_category, follow_up=follow_up,
           submission=submission.instance_id if submission else None)
    if task.warning_id:
        from server.warnings.services import feedback_from_result

        feedback_from_result(session, task.warning_id, result, actor=actor)
    return result


def missing_attachments(session: Session, submission: Submission) -> list[str]:
    return list(session.scalars(
        select(Attachment.checksum).where(Attachment.submission_id == submission.id, Attachment.path.is_(None))
        .order_by(Attachment.id)
    ))


def store_attachment(
    session: Session,
    user: User,
    submission_id: int,
    *,
    stream: IO[bytes],
    checksum: str,
    directory: str,
    max_bytes: int,
) -> tuple[Attachment, bool]:
    """Store an attachment's bytes once; return (attachment, created)."""
    submission = session.get(Submission, submission_id)
    if submission is None:
        raise NotFound(f"提交不存在 (no submission {submission_id})")
    if submission.user_id != user.id and not user.has_role("admin"):
        raise Forbidden("只能为自己的提交上传附件 (not your submission)")
    checksum = checksum.strip().lower()
    if len(checksum) != 64 or any(c not in "0123456789abcdef" for c in checksum):
        raise Invalid("checksum 应为 64 位十六进制 SHA-256 (checksum must be a sha256 hex digest)")
    att = session.scalar(
        select(Attachment).where(Attachment.submission_id == submission_id, Attachment.checksum == checksum)
    )
    if att is None:
        raise Invalid(f"该提交未声明此附件 (attachment {checksum[:12]}… was not declared in the submission)")
    if att.path is not None:
        return att, False
    target_dir = Path(directory) / f"{submission_id:08d}"
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(65536):
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(f"附件超过 {max_bytes // (1024 * 1024)} MB 上限 (attachment too large)")
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != checksum:
            raise Invalid("附件内容与 checksum 不符 (checksum mismatch: the upload was damaged)")
        final = target_dir / checksum
        os.replace(tmp_name, final)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    att.path = str(final)
    att.size = size
    att.received_at = utcnow()
    record(session, user.username, "attachment.store", "submission", submission_id, checksum=checksum, size=size)
    session.commit()
    return att, True
