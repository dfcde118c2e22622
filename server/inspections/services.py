"""Receiving submissions from the handheld: idempotent, validated, never lost.

Semantics (after OpenRosa's submission API and ODK's instance ids):

* The client generates ``instance_id`` once per finished form and keeps it across
  retries. A submission and the attachments it declares are **one unit**: the result
  counts (the task closes, the warning gets its feedback, the result enters hit rates)
  only when every declared attachment is stored. Every attachment a submission declares
  answers an item of the form and is cited by the result, so each one is required.
* The first POST stores the submission. With no attachments (or their bytes given to
  the service in the same call) it is ``complete`` at once. Otherwise it is
  ``pending``: stored, the task open (in progress), no result, and the receipt names the
  missing attachments; the device uploads them later under the same submission, each
  idempotent by its SHA-256, and the upload that brings the last one records the result
  in the same transaction.
* The identical body again (a retry after a lost answer) writes nothing and answers with
  the stored record as it is now: 200 when complete, 202 while still pending. A
  different body under the same ``instance_id`` is 409.
* An attachment refused (too large, not an image, damaged on the way) leaves the
  submission pending; the refusal is kept on the attachment with a Chinese message
  saying what to do. A photo that cannot be sent as it is (re-taken) goes in a new
  submission naming the pending one as ``deprecated_id`` (OpenRosa's
  ``meta/deprecatedID``): the pending one is superseded, the attachments already stored
  carry over by checksum.
* A second submission for a task that already has a result (another device, another
  inspector) is 409 and says who submitted it and when; so is one for a task whose
  pending submission belongs to a colleague. There is one live submission per task.
* Inspection times are checked before anything is stored: started ≤ completed, neither
  later than the server's clock plus :data:`CLOCK_SKEW`, nor earlier than the task was
  created (minus the same allowance).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping
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
from server.inspections.forms import (
    COMPLIANCE,
    Conclusion,
    FormCheck,
    check_answers,
    check_item_questions,
    conclude,
    inspectable_rule,
)
from server.inspections.models import Attachment, InspectionResult, Submission
from server.inspections.results import FOLLOW_UPS, RESULT_CATEGORIES
from server.reference.models import FormTemplate
from server.tasks.models import Task, TaskAssignment

OPEN_TASK_STATES = ("assigned", "in_progress")
VOLATILE_KEYS = ()  # every field of the body counts for "identical"
#: How far a device's clock may run ahead of the server's (or a task's creation stamp)
#: before its times are refused: phones set their clocks from the network, and ten
#: minutes covers a phone that lost its network time for a day or two.
CLOCK_SKEW = dt.timedelta(minutes=10)
BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")
#: what each kind of attachment may be, told from the file's first bytes
ACCEPTED_TYPES = {"photo": ("jpeg", "png", "webp", "heic"), "signature": ("png", "jpeg")}
TYPE_NAMES = {"photo": "JPEG/PNG/WebP/HEIC 图片", "signature": "PNG/JPEG 图片"}
_STILL_PENDING = "检查结果已保存，任务暂不办结；补传该附件后自动办结。"


class TooLarge(DomainError):
    status, code = 413, "too_large"


class UnsupportedType(DomainError):
    status, code = 415, "unsupported_type"


class ChecksumMismatch(DomainError):
    status, code = 422, "checksum_mismatch"


@dataclass
class Outcome:
    submission: Submission
    created: bool
    result: InspectionResult | None
    #: the answer to the handheld (``SubmissionResultSchema``), taken before the commit
    receipt: dict[str, Any]

    @property
    def http_status(self) -> int:
        """201 stored now; a replay 200 when complete, 202 while attachments are missing."""
        if self.created:
            return 201
        return 202 if self.receipt["state"] == "pending" else 200


def _pending_message(missing: list[Attachment]) -> str:
    what = "、".join(f"{a.filename}" for a in missing[:5]) + (" 等" if len(missing) > 5 else "")
    refused = [a for a in missing if a.refusal]
    text = f"检查结果已保存，尚缺 {len(missing)} 个附件（{what}），补传后任务办结。"
    if refused:
        text += f"其中 {len(refused)} 个被服务器退回，请在上传队列中处理。"
    return text


def _receipt(submission: Submission, *, created: bool, task_state: str | None, result: InspectionResult | None,
             missing: list[Attachment]) -> dict[str, Any]:
    """A stored submission as the API reports it."""
    state = submission.state
    message = {"complete": "检查结果及附件已全部接收，任务已办结。",
               "superseded": "该提交已被同一任务的新提交取代。"}.get(state) or _pending_message(missing)
    return {
        "id": submission.id,
        "instance_id": submission.instance_id,
        "status": "accepted" if created else "duplicate",
        "state": state,
        "task_id": submission.task_id,
        "task_state": task_state,
        "problem_found": result.problem_found if result is not None and state == "complete" else None,
        "result_category": result.result_category if result is not None else None,
        "follow_up": result.follow_up if result is not None else None,
        "form_version": submission.form_version,
        "missing_attachments": [a.checksum for a in missing],
        "refused_attachments": {a.checksum: a.refusal for a in missing if a.refusal},
        "message": message,
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
_LIVE = select(Submission).where(Submission.task_id == bindparam("task_id"), Submission.state == "pending")


def receipt_for(session: Session, submission: Submission, *, created: bool = False) -> dict[str, Any]:
    """The receipt of a stored submission as it stands now."""
    result = session.scalar(select(InspectionResult).where(InspectionResult.submission_id == submission.id))
    task = session.get(Task, submission.task_id)
    return _receipt(submission, created=created, task_state=task.state if task else None,
                    result=result, missing=_missing(session, submission))


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
    return Outcome(found, False, result, receipt_for(session, found))


def _as_utc(value: dt.datetime) -> dt.datetime:
    """A stored stamp as aware UTC (SQLite hands timezone-aware columns back naive)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _beijing(value: dt.datetime) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def check_times(body: Mapping[str, Any], task: Task | None, *, now: dt.datetime) -> dict[str, dt.datetime]:
    """Parse and check ``started_at`` / ``completed_at``; raise 422 with field messages.

    A time without a zone is Beijing time (what a handheld in China shows). ``now`` is
    the server's clock (the simulator passes its own); the task's creation stamp is only
    a bound when it lies on that clock's past (a simulated clock may run behind it).
    """
    errors: dict[str, str] = {}
    times: dict[str, dt.datetime] = {}
    upper = now + CLOCK_SKEW
    created = _as_utc(task.created_at) if task is not None and task.created_at is not None else None
    lower = created - CLOCK_SKEW if created is not None and created <= now else None
    for key, label in (("started_at", "开始检查时间"), ("completed_at", "完成检查时间")):
        value = body.get(key)
        if value in (None, ""):
            continue
        try:
            parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            errors[key] = f"{label}格式不正确，应为 ISO 8601，例如 2026-11-20T09:00:00+08:00（收到 {str(value)[:40]}）"
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=BEIJING)
        if parsed > upper:
            errors[key] = (f"{label} {_beijing(parsed)} 晚于服务器当前时间 {_beijing(now)}"
                           f"（允许误差 {CLOCK_SKEW.seconds // 60} 分钟）：请核对手机的日期和时间设置后重新提交")
        elif lower is not None and parsed < lower:
            errors[key] = (f"{label} {_beijing(parsed)} 早于任务下达时间 {_beijing(created)}"  # type: ignore[arg-type]
                           "：请核对手机的日期和时间设置后重新提交")
        else:
            times[key] = parsed
    if "started_at" in times and "completed_at" in times and times["started_at"] > times["completed_at"]:
        errors["started_at"] = (f"开始检查时间 {_beijing(times['started_at'])} 晚于完成检查时间 "
                                f"{_beijing(times['completed_at'])}")
    if errors:
        raise Invalid("检查时间不合理 (impossible inspection times)", items=errors)
    return times


def _inspected_on(times: Mapping[str, dt.datetime], now: dt.datetime) -> dt.date:
    """The inspection's date in Beijing: when it was completed, else started, else now."""
    when = times.get("completed_at") or times.get("started_at") or now
    return when.astimezone(BEIJING).date()


def form_items_for_task(session: Session, task: Task, form: FormTemplate) -> list[dict[str, Any]]:
    """The business type's form followed by the judged items of the task's check items
    (asked only when the premises could be inspected, as the form's own judged items).
    """
    from server.reference.api import check_item_dict
    from server.reference.models import CheckItem

    if not task.check_items:
        return list(form.items)
    items = {c.code: c for c in session.scalars(select(CheckItem).where(CheckItem.code.in_(task.check_items)))}
    return list(form.items) + check_item_questions([check_item_dict(items[c]) for c in task.check_items if c in items],
                                                   inspectable_rule(form.items))


def _form_check(session: Session, task: Task, body: Mapping[str, Any]) -> tuple[FormTemplate, FormCheck, Conclusion]:
    """The form a body was filled in on, its answers checked, and its conclusion (检查结论)
    checked against them (derived when the body states none).
    """
    form = session.scalar(_FORM, {"code": body["form_code"], "version": str(body["form_version"])})
    if form is None:
        raise Invalid(f"未知检查表或版本 (unknown form {body['form_code']} version {body['form_version']})")
    if form.code != task.form_code:
        raise Invalid(f"该任务应使用检查表 {task.form_code} (task uses form {task.form_code}, got {form.code})")
    items = form_items_for_task(session, task, form)
    answers = body.get("answers") or {}
    check = check_answers(items, answers, body.get("attachments") or [])
    return form, check, conclude(items, answers, body.get("result_category"), body.get("follow_up"))


def _replaces(session: Session, body: Mapping[str, Any], task: Task, user: User) -> Submission | None:
    """The pending submission this one supersedes: the one its ``deprecated_id`` names, or
    the inspector's own pending submission for the task (redone on another device).
    """
    old_id = body.get("deprecated_id")
    old = None
    if old_id:
        old = session.scalar(select(Submission).where(Submission.instance_id == str(old_id)))
        if old is not None and old.task_id != task.id:
            raise Invalid("deprecated_id 指向其他任务的提交 (deprecated_id names a submission of another task)",
                          items={"deprecated_id": "要取代的提交属于其他任务"})
    live = session.scalar(_LIVE, {"task_id": task.id})
    if live is None:
        return None
    if live.user_id != user.id:
        by = session.get(User, live.user_id) if live.user_id else None
        raise Conflict(
            f"任务 {task.id} 已有 {by.display_name if by else '其他设备'} 于 {_beijing(_as_utc(live.received_at))} "
            "提交的检查结果，正在等待补传附件：请由提交人在其设备的上传队列中补传 "
            "(the task has a colleague's submission waiting for its attachments)",
            code="task_pending")
    return live


def receive_submission(
    session: Session,
    user: User,
    body: dict[str, Any],
    *,
    now: dt.datetime | None = None,
    files: Mapping[str, bytes] | None = None,
    directory: str | None = None,
    max_bytes: int | None = None,
) -> Outcome:
    """Store a submission (and, given ``files`` by checksum, its attachments' bytes in the
    same transaction), or return the stored one (idempotent).
    """
    now = now or utcnow()
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
    replaced = _replaces(session, body, task, user)

    form, check, conclusion = _form_check(session, task, body)
    if not form.accepts_submissions:
        raise _form_outdated(session, form)
    if check.errors:
        raise Invalid("检查表填写不完整或有误 (form has invalid items)", items=check.errors)
    if conclusion.errors:
        raise Invalid("检查结论与检查记录不符 (the conclusion contradicts the answers)", items=conclusion.errors)
    times = check_times(body, task, now=now)
    if files and not directory:
        raise ValueError("files need a directory to be stored in")

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
        state="pending",
    )
    # Nothing is written before this point: SQLite lets one transaction write at a time, so
    # everything above (reads, validation) stays outside that window. A concurrent copy of
    # this submission, or a colleague's for the same task, surfaces below as a unique
    # violation (instance id; one live submission per task; one result per task).
    declared = [Attachment(
        item_id=str(att["item_id"]), kind=str(att["kind"]), filename=_client_filename(att.get("filename")),
        checksum=str(att["checksum"]).lower(), size=int(att.get("size") or 0), path=None, received_at=None,
        original_checksum=(str(att["original_checksum"]).lower() if att.get("original_checksum") else None),
        original_size=(int(att["original_size"]) if att.get("original_size") is not None else None),
    ) for att in body.get("attachments") or []]
    submission.attachments = declared
    task_id = task.id
    try:
        if replaced is not None:
            # superseded first: the new row must not meet it in the one-live-submission index
            replaced.state = "superseded"
            record(session, user.username, "submission.superseded", "task", task.id,
                   submission=replaced.instance_id, by=instance_id)
            session.flush()
            carried = {a.checksum: a for a in replaced.attachments if a.path is not None}
            for att in declared:
                if att.checksum in carried:
                    old = carried[att.checksum]
                    att.path, att.size, att.received_at = old.path, old.size, old.received_at
        session.add(submission)
        session.flush()
        for att in declared:
            if att.path is None and files and att.checksum in files:
                _write_attachment(att, submission.id, io.BytesIO(files[att.checksum]),
                                  directory=str(directory), max_bytes=max_bytes or 2**62, now=now)
        missing = [a for a in declared if a.path is None]
        result = None
        if missing:
            if task.state == "assigned":
                task.state = "in_progress"
            record(session, user.username, "submission.pending", "task", task.id,
                   submission=instance_id, missing=[a.checksum for a in missing])
        else:
            # A concurrent result for the same task surfaces as a unique violation either at
            # record_result's flush (PostgreSQL waits for the other transaction, then refuses
            # the insert) or at the commit: both mean "someone else was first".
            result = _complete(session, submission, task, check, conclusion, _inspected_on(times, now),
                               actor=user.username, now=now)
        # taken before the commit (which expires every loaded row)
        receipt = _receipt(submission, created=True, task_state=task.state, result=result, missing=missing)
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


def _complete(session: Session, submission: Submission, task: Task, check: FormCheck, conclusion: Conclusion,
              inspected_on: dt.date, *, actor: str, now: dt.datetime) -> InspectionResult:
    """Every attachment is there: the result counts, with its conclusion (the caller commits).

    ``problem_found`` is the conclusion's: a problem category or any non-compliant item,
    never a violation stored as compliant.
    """
    submission.state = "complete"
    submission.completed_at = now
    return record_result(
        session, task, inspected_on=inspected_on, problem_found=conclusion.problem_found,
        problem_domains=check.problem_domains, checked_domains=check.checked_domains or list(task.domains),
        failed_items=check.failed_items, summary=_summary(check.summary, conclusion.result_category),
        submission=submission, actor=actor,
        result_category=conclusion.result_category, follow_up=conclusion.follow_up,
    )


def _client_filename(raw: Any) -> str:
    """The client's file name, kept as a label only: its last component in either path
    convention, never empty, "." or ".." (it must stay harmless wherever it is shown or
    exported; the bytes are stored under the checksum).
    """
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


def _missing(session: Session, submission: Submission) -> list[Attachment]:
    return list(session.scalars(
        select(Attachment).where(Attachment.submission_id == submission.id, Attachment.path.is_(None))
        .order_by(Attachment.id)
    ))


def missing_attachments(session: Session, submission: Submission) -> list[str]:
    """Checksums of the attachments a submission declared whose bytes are not stored yet."""
    return [a.checksum for a in _missing(session, submission)]


def sniff_type(head: bytes) -> str | None:
    """The image format a file's first bytes announce (JPEG, PNG, WebP, HEIC), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"mif1", b"msf1", b"heif"):
        return "heic"
    return None


def _write_attachment(att: Attachment, submission_id: int, stream: IO[bytes], *, directory: str,
                      max_bytes: int, now: dt.datetime) -> None:
    """Stream the bytes to ``<directory>/<submission>/<checksum>`` and mark ``att`` stored;
    raise :class:`TooLarge`, :class:`UnsupportedType` or :class:`ChecksumMismatch` (nothing kept).
    """
    target_dir = Path(directory) / f"{submission_id:08d}"
    target_dir.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(65536):
                if len(head) < 16:
                    head += chunk[:16]
                size += len(chunk)
                if size > max_bytes:
                    raise TooLarge(
                        f"附件“{att.filename}”超过 {max_bytes / (1024 * 1024):.0f} MB 上限，服务器未接收。"
                        "请在上传队列中点“压缩后重新发送”或“重新拍照”更换这张照片。" + _STILL_PENDING)
                digest.update(chunk)
                out.write(chunk)
        kind = sniff_type(head)
        if kind not in ACCEPTED_TYPES.get(att.kind, ()):
            raise UnsupportedType(
                f"附件“{att.filename}”不是{TYPE_NAMES.get(att.kind, '图片')}，服务器未接收。"
                "请在上传队列中点“重新拍照”重新拍摄或选择照片。" + _STILL_PENDING)
        if digest.hexdigest() != att.checksum:
            raise ChecksumMismatch(
                f"附件“{att.filename}”在传输中损坏（校验值不符），服务器未接收。"
                "请在上传队列中点“重新发送”；多次失败请点“重新拍照”。" + _STILL_PENDING)
        final = target_dir / att.checksum
        os.replace(tmp_name, final)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    att.path = str(final)
    att.size = size
    att.received_at = now
    att.refusal = None


@dataclass
class AttachmentOutcome:
    attachment: Attachment
    created: bool
    #: the submission's receipt after this upload (``state`` says whether it completed it)
    receipt: dict[str, Any]


def store_attachment(
    session: Session,
    user: User,
    submission_id: int,
    *,
    stream: IO[bytes],
    checksum: str,
    directory: str,
    max_bytes: int,
    now: dt.datetime | None = None,
) -> AttachmentOutcome:
    """Store an attachment's bytes once; the last missing one completes the submission.

    A refused upload (too large, not an image, damaged) is recorded on the attachment with
    its message, the submission stays pending, and the refusal is raised.
    """
    now = now or utcnow()
    # locked: two uploads of a submission's last attachments must not both see the other
    # one still missing (PostgreSQL; SQLite's writers queue at the first write anyway)
    submission = session.get(Submission, submission_id, with_for_update=True)
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
        receipt = receipt_for(session, submission)
        session.commit()
        return AttachmentOutcome(att, False, receipt)
    if submission.state == "superseded":
        raise Conflict("该提交已被同一任务的新提交取代，无需再上传此附件 (submission superseded)",
                       code="superseded")
    try:
        _write_attachment(att, submission_id, stream, directory=directory, max_bytes=max_bytes, now=now)
    except (TooLarge, UnsupportedType, ChecksumMismatch) as refused:
        att.refusal = refused.message[:300]
        record(session, user.username, "attachment.refused", "submission", submission_id, checksum=checksum,
               reason=refused.code)
        session.commit()
        raise
    record(session, user.username, "attachment.store", "submission", submission_id, checksum=checksum,
           size=att.size)
    session.flush()
    result = None
    if submission.state == "pending" and not _missing(session, submission):
        task = session.get(Task, submission.task_id, with_for_update=True)
        assert task is not None
        # the answers and conclusion were accepted on receipt: checked again only to record them
        _, check, conclusion = _form_check(session, task, submission.payload)
        times = {k: v for k, v in ((key, _parse_time(submission.payload.get(key)))
                                   for key in ("started_at", "completed_at")) if v is not None}
        result = _complete(session, submission, task, check, conclusion, _inspected_on(times, now),
                           actor=user.username, now=now)
    receipt = receipt_for(session, submission)
    if result is not None:
        receipt["problem_found"] = result.problem_found
    session.commit()
    return AttachmentOutcome(att, True, receipt)


def _parse_time(value: Any) -> dt.datetime | None:
    """A time already checked by :func:`check_times` (on receipt), parsed again."""
    if value in (None, ""):
        return None
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=BEIJING)
