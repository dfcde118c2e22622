"""Upload the outbox and refresh what the device keeps for offline work.

Each outbox entry goes through: ``pending`` → POST the stored body under its
``instance_id`` → on 201 (stored now) or 200/202 (stored before: our earlier attempt
committed but the answer was lost) the server's id is kept and the entry is
``uploading`` until every declared attachment the server still misses is uploaded →
``sent`` once the server says the submission is ``complete`` (the result counts only
with all its attachments). Every pass of an unfinished entry POSTs the same body again:
the idempotent replay is the server's current receipt (what it still misses). Nothing
leaves the outbox without the server's acknowledgement:

* no answer (offline, timeout, connection cut), 5xx, 408, 429 → stays, retried with
  exponential backoff (``base_delay * 2**(attempts-1)``, capped, with jitter);
* 401 → stays; the run stops and the inspector is asked to log in again;
* the body refused (409, 422 and other 4xx) → ``rejected``, keeping the server's message
  and item-level messages for the inspector; the entry can be reopened as a new draft;
* an attachment refused (too large, not a photo, damaged) or its file gone from the
  device → ``blocked``: the server keeps the result pending, the attachment keeps the
  server's message saying what to do, and the inspector re-sends it or re-takes the
  photo (a new submission that supersedes the pending one).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mobile.core.api import ApiClient, ApiError, Unauthorized
from mobile.core.store import OutboxEntry, Store, now_iso

__all__ = ["SyncEngine", "SyncReport"]


@dataclass
class SyncReport:
    sent: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)  # an attachment refused: inspector's turn
    pending: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # waiting for their backoff to expire
    auth_required: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        parts = [f"已上传 {len(self.sent)}"]
        if self.pending or self.skipped:
            parts.append(f"待重试 {len(self.pending) + len(self.skipped)}")
        if self.rejected:
            parts.append(f"被退回 {len(self.rejected)}")
        if self.blocked:
            parts.append(f"附件待处理 {len(self.blocked)}")
        if self.auth_required:
            parts.append("登录已失效，请重新登录")
        return "，".join(parts)


class SyncEngine:
    def __init__(
        self,
        store: Store,
        client: ApiClient,
        *,
        base_delay: float = 5.0,
        max_delay: float = 1800.0,
        jitter: float = 0.2,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.client = client
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.jitter = jitter
        self.clock = clock
        self.rng = rng or random.Random()

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th consecutive failure."""
        raw = min(self.max_delay, self.base_delay * 2 ** max(0, attempts - 1))
        return raw * (1 + self.jitter * (2 * self.rng.random() - 1))

    # -- upload -----------------------------------------------------------------------
    def upload(self, *, force: bool = False) -> SyncReport:
        """One pass over the outbox; ``force`` ignores backoff (the "sync now" button)."""
        report = SyncReport()
        now = self.clock()
        for entry in self.store.outbox("pending", "uploading"):
            if not force and entry.next_attempt_at > now:
                report.skipped.append(entry.instance_id)
                continue
            try:
                state = self._upload_one(entry)
            except Unauthorized as exc:
                self._retry_later(entry, exc)
                report.pending.append(entry.instance_id)
                report.auth_required = True
                break
            except ApiError as exc:
                if exc.permanent:
                    self._reject(entry, exc)
                    report.rejected.append(entry.instance_id)
                else:
                    self._retry_later(entry, exc)
                    report.pending.append(entry.instance_id)
                    report.errors.append(exc.message)
                continue
            {"sent": report.sent, "blocked": report.blocked}.get(state, report.pending).append(
                entry.instance_id
            )
        return report

    def _upload_one(self, entry: OutboxEntry) -> str:
        reply = self.client.submit(entry.body)
        receipt = reply.body
        submission_id = int(receipt["id"])
        if entry.state == "pending" or entry.submission_id is None:
            self.store.log(
                "submitted" if reply.status == 201 else "already_stored",
                f"HTTP {reply.status}，服务器编号 {submission_id}",
                entry.instance_id,
            )
        if receipt.get("state") == "superseded":
            raise ApiError(str(receipt.get("message") or "该提交已被新的提交取代"), status=409)
        self.store.update_outbox(
            entry.instance_id,
            state="uploading",
            submission_id=submission_id,
            last_error=None,
            error_items=None,
        )
        missing = {c.lower() for c in receipt.get("missing_attachments") or []}
        complete = receipt.get("state", "complete") == "complete"
        refused: list[str] = []
        for att in self.store.attachments(entry.instance_id):
            if att.checksum not in missing:
                if not att.uploaded:
                    self.store.mark_uploaded(entry.instance_id, att.checksum)  # the server has it
                continue
            if not Path(att.path).exists():
                message = f"附件文件已从本机丢失：{att.filename}。请点“重新拍照”补拍。"
                self.store.set_attachment_error(entry.instance_id, att.checksum, message)
                refused.append(message)
                continue
            try:
                up = self.client.upload_attachment(
                    submission_id, att.path, att.checksum, att.filename
                )
            except ApiError as exc:
                if not exc.permanent or isinstance(exc, Unauthorized):
                    raise
                if exc.code == "superseded":
                    raise
                self.store.set_attachment_error(entry.instance_id, att.checksum, exc.message)
                self.store.log("attachment_refused", f"{att.filename}：{exc.message}", entry.instance_id)
                refused.append(exc.message)
                continue
            self.store.mark_uploaded(entry.instance_id, att.checksum)
            self.store.log("attachment", f"{att.filename} HTTP {up.status}", entry.instance_id)
            after = up.body.get("submission") or {}
            complete = after.get("state", "complete") == "complete"
        if refused:
            self.store.update_outbox(
                entry.instance_id, state="blocked", attempts=entry.attempts + 1, last_error=refused[0]
            )
            return "blocked"
        if not complete:
            # every attachment went up but the server has not confirmed completion (the
            # last answer was lost): the next pass's replay finds out
            raise ApiError("附件已上传，等待服务器确认 (waiting for the server's receipt)")
        self.store.update_outbox(
            entry.instance_id, state="sent", sent_at=now_iso(), last_error=None
        )
        self.store.log("sent", f"任务 {entry.task_id} 已上传", entry.instance_id)
        return "sent"

    def resend(self, instance_id: str) -> None:
        """The inspector asks to try a blocked entry's refused attachments again."""
        for att in self.store.attachments(instance_id):
            if att.error:
                self.store.set_attachment_error(instance_id, att.checksum, None)
        self.store.update_outbox(instance_id, state="uploading", next_attempt_at=0, last_error=None)
        self.store.log("resend", "重新发送", instance_id)

    def _retry_later(self, entry: OutboxEntry, exc: ApiError) -> None:
        attempts = entry.attempts + 1
        self.store.update_outbox(
            entry.instance_id,
            attempts=attempts,
            next_attempt_at=self.clock() + self.delay(attempts),
            last_error=exc.message,
        )
        self.store.log("retry", f"第 {attempts} 次失败：{exc.message}", entry.instance_id)

    def _reject(self, entry: OutboxEntry, exc: ApiError) -> None:
        self.store.update_outbox(
            entry.instance_id,
            state="rejected",
            attempts=entry.attempts + 1,
            last_error=exc.message,
            error_items=exc.items,
        )
        self.store.log("rejected", f"HTTP {exc.status}：{exc.message}", entry.instance_id)

    # -- download ---------------------------------------------------------------------
    def refresh(self, *, laws: bool = True) -> dict[str, int]:
        """Download tasks, their forms and entity profiles, and the law library."""
        held = self.store.tasks()
        fresh, etag = self.client.task_list(self.store.setting("tasks_etag") if held else None)
        if fresh is None:  # 304: the list the device holds is still the server's
            tasks = held
        else:
            tasks = fresh
            self.store.save_tasks(tasks)
        self.store.set_setting("tasks_etag", etag)
        counts = {"tasks": len(tasks), "forms": 0, "entities": 0, "laws": 0}
        for code in sorted({t["form_code"] for t in tasks if t.get("form_code")}):
            self.store.save_form(self.client.form(code))
            counts["forms"] += 1
        for uscc in sorted({t["entity"]["uscc"] for t in tasks if t.get("entity")}):
            try:
                self.store.save_entity(self.client.entity(uscc))
                counts["entities"] += 1
            except ApiError as exc:
                if not exc.permanent:
                    raise
        if laws:
            counts["laws"] = self.refresh_laws()
        self.store.set_setting("last_refresh", now_iso())
        self.store.log("refresh", "，".join(f"{k} {v}" for k, v in counts.items()))
        return counts

    def refresh_laws(self) -> int:
        """Download every law whose version the device lacks (the texts rarely change)."""
        have = {law["id"]: law for law in self.store.laws()}
        n = 0
        for summary in self.client.laws():
            cached = have.get(summary["id"])
            if (
                cached
                and cached.get("version_date") == summary.get("version_date")
                and cached["articles"] == summary.get("articles")
            ):
                continue
            self.store.save_law(self.client.law(summary["id"]))
            n += 1
        return n

    def sync(self, *, force: bool = False) -> tuple[SyncReport, dict[str, Any] | None]:
        """Upload first (never lose a result), then refresh; refresh errors are reported."""
        report = self.upload(force=force)
        if report.auth_required:
            return report, None
        try:
            counts: dict[str, Any] | None = self.refresh()
        except ApiError as exc:
            report.errors.append(exc.message)
            report.auth_required = isinstance(exc, Unauthorized)
            counts = None
        return report, counts
