"""The sync harness: a device's outbox, draining it, and the exactly-once check."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from faultproxy import FaultProxy
from reliability_helpers import body_for, count, photo_bytes
from sqlalchemy import func, select

from mobile.core.api import ApiClient
from mobile.core.store import Store
from mobile.core.sync import SyncEngine
from server.audit.models import AuditEvent
from server.audit.services import verify
from server.auth.services import issue_token
from server.extensions import db
from server.inspections.models import Attachment, InspectionResult, Submission
from server.tasks.models import Task

READ_TIMEOUT = 1.0  # the proxy's "late" requests wait longer than this


def fill_outbox(store: Store, task_ids: list[int], *, photo_every: int) -> dict[int, str]:
    """Finish one form per task on the device; every ``photo_every``-th carries a photo
    (taken through the handheld's store: decoded, digest of the original recorded)."""
    instance_of = {}
    for k, task_id in enumerate(task_ids):
        body = body_for(task_id)
        if k % photo_every == 0:
            att = store.add_attachment(
                body["instance_id"], "photo", "photo", photo_bytes(task_id), f"{task_id}.jpg"
            )
            body = body_for(task_id, photo_checksum=att.checksum, instance_id=body["instance_id"])
            body["attachments"][0].update(
                size=att.size,
                filename=att.filename,
                original_checksum=att.original_checksum,
                original_size=att.original_size,
            )
        store.finalize(task_id, body)
        instance_of[task_id] = body["instance_id"]
    return instance_of


def drain(engine: SyncEngine, store: Store, *, max_passes: int = 60) -> int:
    """Press "sync now" until the outbox is empty; nothing may be rejected on the way."""
    for passes in range(max_passes):
        if not store.outbox("pending", "uploading"):
            return passes
        report = engine.upload(force=True)
        assert not report.rejected, [
            (e.instance_id, e.last_error) for e in store.outbox("rejected")
        ]
        assert not report.blocked, [(e.instance_id, e.last_error) for e in store.outbox("blocked")]
        assert not report.auth_required, [e.last_error for e in store.outbox() if e.last_error][-3:]
    raise AssertionError(
        f"outbox not empty after {max_passes} passes: {len(store.outbox('pending', 'uploading'))}"
    )


def assert_exactly_once(store: Store, instance_of: dict[int, str], attachment_dir: str) -> None:
    task_ids = set(instance_of)
    n = len(task_ids)
    db.session.expire_all()
    assert count(Submission) == n
    assert count(InspectionResult) == n
    assert db.session.scalar(select(func.count(func.distinct(InspectionResult.task_id)))) == n
    assert set(db.session.scalars(select(InspectionResult.task_id))) == task_ids
    stored = dict(db.session.execute(select(Submission.task_id, Submission.instance_id)).all())
    assert (
        stored == instance_of
    )  # each task's result is the device's own submission, not a stray copy
    assert count(Task, Task.id.in_(task_ids), Task.state != "submitted") == 0
    # every result complete with its evidence; nothing left pending
    assert count(Submission, Submission.state != "complete") == 0
    # photos: every declared one stored exactly once, byte-exact, inside ATTACHMENT_DIR
    photos = db.session.scalars(select(Attachment)).all()
    assert len(photos) == sum(1 for e in store.outbox() if e.body["attachments"])
    root = Path(attachment_dir).resolve()
    for att in photos:
        assert att.path is not None, att.checksum
        data = Path(att.path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == att.checksum
        assert Path(att.path).resolve().is_relative_to(root)
        assert att.original_checksum is not None and att.refusal is None
    # the device: everything acknowledged, nothing pending, nothing rejected
    assert store.outbox("pending", "uploading", "rejected") == []
    assert len(store.outbox("sent")) == n
    assert all(a.uploaded for e in store.outbox() for a in store.attachments(e.instance_id))
    # one audited result per task, and the chain still verifies
    assert count(AuditEvent, AuditEvent.action == "inspection.result") == n
    assert verify(db.session).ok


def device(directory: Path, base_url: str, user: Any) -> tuple[Store, SyncEngine]:
    """A handheld logged in as ``user`` (its outbox lives in ``directory``)."""
    store = Store(directory)
    token, _ = issue_token(db.session, user)
    client = ApiClient(base_url, token, timeout=(2.0, READ_TIMEOUT))
    return store, SyncEngine(store, client, base_delay=0.0, jitter=0.0)


class Killer(threading.Thread):
    """Kill the server with SIGKILL after ``every`` forwarded requests, ``times`` times,
    and start it again on the same database (the proxy follows it to its new port)."""

    def __init__(self, proxy: FaultProxy, server: Any, *, every: int, times: int) -> None:
        super().__init__(daemon=True)
        self.proxy, self.server, self.every, self.times = proxy, server, every, times
        self.kills = 0
        self.done = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while self.kills < self.times and not self.done.wait(0.01):
                if self.proxy.forwarded >= self.every * (self.kills + 1):
                    self.server.kill()
                    self.kills += 1
                    self.done.wait(0.2)  # the device meets a dead server for a while
                    self.proxy.upstream = ("127.0.0.1", self.server.start())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
