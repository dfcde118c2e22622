"""Sync against the real server over HTTP: lossless, never duplicated, rejections kept."""

from __future__ import annotations

import random

import pytest
import requests
from factories import task
from mobile_helpers import camera_photo, fill_valid, small_photo
from sqlalchemy import func, select

from mobile.core.api import ApiClient
from mobile.core.controller import Handheld
from mobile.core.store import Store
from mobile.core.sync import SyncEngine
from server.extensions import db
from server.inspections.models import Attachment, InspectionResult, Submission
from server.tasks.models import Inspector


class FlakySession(requests.Session):
    """Forwards requests to the server, then "loses the connection" after chosen ones.

    ``die_after`` holds (method, path fragment) pairs: the server receives the request
    and commits, but the device sees a ConnectionError instead of the answer.
    """

    def __init__(self, die_after=(), status_override=None):
        super().__init__()
        self.die_after = list(die_after)
        self.status_override = status_override
        self.calls = []

    def request(self, method, url, *args, **kwargs):
        if self.status_override and self.status_override[0] in url:
            response = requests.Response()
            response.status_code = self.status_override[1]
            response._content = b'{"error": "server_error", "message": "\\u670d\\u52a1\\u5668\\u5185\\u90e8\\u9519\\u8bef"}'
            self.calls.append((method, url, response.status_code))
            return response
        response = super().request(method, url, *args, **kwargs)
        self.calls.append((method, url, response.status_code))
        for i, (m, fragment) in enumerate(self.die_after):
            if m == method and fragment in url:
                del self.die_after[i]
                raise requests.ConnectionError("connection reset by peer (simulated)")
        return response


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def my_task(users):
    both = [
        db.session.get(Inspector, users["inspector"].inspector_id),
        db.session.get(Inspector, users["inspector2"].inspector_id),
    ]
    return task(both)


def device(live_server, path, session=None, user="inspector"):
    h = Handheld(path, live_server, http_session=session)
    h.login(user, "password123")
    h.sync_engine.refresh()
    return h


def finished(h, task_id, **kw):
    fill_valid(h, task_id, **kw)
    entry, check = h.finalize(task_id)
    assert check.ok, check.errors
    return entry


def test_unreachable_server_keeps_the_submission_pending_with_backoff(tmp_path):
    store = Store(tmp_path)
    store.finalize(
        1,
        {
            "instance_id": "0123456789",
            "task_id": 1,
            "form_code": "x",
            "form_version": "1",
            "answers": {},
        },
    )
    clock = [1000.0]
    engine = SyncEngine(
        store,
        ApiClient("http://127.0.0.1:9", timeout=(0.5, 0.5)),
        base_delay=10,
        jitter=0,
        clock=lambda: clock[0],
    )
    report = engine.upload()
    assert report.pending == ["0123456789"]
    assert not report.sent
    entry = store.outbox_entry("0123456789")
    assert entry.state == "pending"
    assert entry.attempts == 1
    assert entry.next_attempt_at == 1010.0
    assert "无法连接服务器" in entry.last_error
    assert engine.upload().skipped == ["0123456789"]  # still backing off
    clock[0] = 1011.0
    engine.upload()
    assert store.outbox_entry("0123456789").next_attempt_at == 1011.0 + 20  # doubled
    assert [engine.delay(n) for n in (1, 2, 3, 12)] == [10, 20, 40, 1800]


def test_backoff_has_jitter_within_bounds():
    engine = SyncEngine(None, None, base_delay=10, jitter=0.2, rng=random.Random(1))
    delays = [engine.delay(3) for _ in range(50)]
    assert all(32 <= d <= 48 for d in delays)
    assert len(set(delays)) > 1


def test_server_dies_after_committing_the_submission(live_server, my_task, device_dir):
    flaky = FlakySession(die_after=[("POST", "/api/v1/submissions")])
    h = device(live_server, device_dir, flaky)
    entry = finished(h, my_task.id, problem=True)

    first = h.sync_engine.upload()
    assert first.pending == [entry.instance_id]
    assert h.store.outbox_entry(entry.instance_id).state == "pending"
    assert count(Submission) == 1  # the server did commit

    second = h.sync_engine.upload(force=True)
    assert second.sent == [entry.instance_id]
    assert h.store.outbox_entry(entry.instance_id).state == "sent"
    assert count(Submission) == 1
    assert count(InspectionResult) == 1
    # the replay: stored before, still waiting for its attachments (202), then completed by them
    assert [s for _, u, s in flaky.calls if u.endswith("/submissions")] == [201, 202]
    db.session.expire_all()
    assert all(a.path for a in db.session.scalars(select(Attachment)))
    assert db.session.scalar(select(InspectionResult)).problem_found is True


def test_server_dies_after_storing_an_attachment(live_server, my_task, device_dir):
    flaky = FlakySession(die_after=[("POST", "/attachments")])
    h = device(live_server, device_dir, flaky)
    entry = finished(h, my_task.id)
    assert h.sync_engine.upload().pending == [entry.instance_id]
    assert h.store.outbox_entry(entry.instance_id).state == "uploading"  # submission acknowledged
    assert count(InspectionResult) == 0  # a result without all its attachments does not count
    assert h.sync_engine.upload(force=True).sent == [entry.instance_id]
    # the replay's receipt says which attachment the server already has: it is not sent again
    uploads = [s for m, u, s in flaky.calls if u.endswith("/attachments")]
    assert uploads == [201] * len(entry.body["attachments"])
    assert count(Submission) == 1
    assert count(InspectionResult) == 1
    db.session.expire_all()
    assert all(a.path for a in db.session.scalars(select(Attachment)))


def test_duplicate_upload_is_acknowledged_and_writes_nothing(live_server, my_task, device_dir):
    h = device(live_server, device_dir)
    entry = finished(h, my_task.id)
    assert h.sync_engine.upload().sent == [entry.instance_id]
    # e.g. the device restored from a backup taken before the upload
    h.store.update_outbox(entry.instance_id, state="pending", submission_id=None, sent_at=None)
    assert h.sync_engine.upload().sent == [entry.instance_id]
    assert count(Submission) == 1
    assert count(InspectionResult) == 1
    assert h.store.sync_log()[1]["event"] == "already_stored"


def test_409_different_body_under_the_same_instance_id_is_rejected(
    live_server, my_task, device_dir, tmp_path
):
    h = device(live_server, device_dir)
    entry = finished(h, my_task.id)
    h.sync_engine.upload()
    other = Handheld(tmp_path / "other", live_server)
    other.login("inspector", "password123")
    changed = dict(entry.body, answers={**entry.body["answers"], "staff_count": 99})
    other.store.finalize(my_task.id, changed)
    report = other.sync_engine.upload()
    assert report.rejected == [entry.instance_id]
    rejected = other.store.outbox_entry(entry.instance_id)
    assert rejected.state == "rejected"
    assert "instance_id" in rejected.last_error
    assert count(Submission) == 1


def test_409_task_already_done_by_a_colleague(live_server, my_task, device_dir, tmp_path):
    mine = device(live_server, device_dir)
    colleague = device(live_server, tmp_path / "colleague", user="inspector2")
    finished(mine, my_task.id)
    theirs = finished(colleague, my_task.id)
    assert mine.sync_engine.upload().sent
    assert colleague.sync_engine.upload().rejected == [theirs.instance_id]
    assert "已办结" in colleague.store.outbox_entry(theirs.instance_id).last_error
    assert colleague.outbox_rows()[0]["state_label"] == "被退回"
    assert count(InspectionResult) == 1


def test_422_keeps_item_messages_and_can_be_corrected(live_server, my_task, device_dir):
    h = device(live_server, device_dir)
    fill_valid(h, my_task.id)
    body, _ = h.build_submission(my_task.id)
    # the device's copy of the form is stale: it lacks a required item the server has
    del body["answers"]["signature"]
    entry = h.store.finalize(my_task.id, body)
    report = h.sync_engine.upload()
    assert report.rejected == [entry.instance_id]
    rejected = h.store.outbox_entry(entry.instance_id)
    assert rejected.error_items == {"signature": "必填项未填写：被检查单位签字 (required)"}
    assert "检查表填写不完整" in rejected.last_error
    assert count(Submission) == 0

    draft = h.store.reopen(entry.instance_id)
    assert h.answer(my_task.id, "signature", body["attachments"][0]["checksum"]) is None
    fixed, check = h.finalize(my_task.id)
    assert check.ok
    assert fixed.instance_id == draft.instance_id
    assert h.sync_engine.upload().sent == [fixed.instance_id]
    assert count(Submission) == 1
    assert count(InspectionResult) == 1


def test_server_error_and_revoked_token_keep_it_pending(live_server, my_task, device_dir):
    flaky = FlakySession(status_override=("/submissions", 503))
    h = device(live_server, device_dir, flaky)
    entry = finished(h, my_task.id)
    assert h.sync_engine.upload().pending == [entry.instance_id]
    assert h.store.outbox_entry(entry.instance_id).last_error == "服务器内部错误"
    flaky.status_override = None
    h.client.token = "revoked-or-expired"
    report = h.sync_engine.upload(force=True)
    assert report.auth_required
    assert report.pending == [entry.instance_id]
    assert h.store.outbox_entry(entry.instance_id).state == "pending"
    h.login("inspector", "password123")
    assert h.sync_engine.upload(force=True).sent == [entry.instance_id]
    assert count(InspectionResult) == 1


def test_offline_login_with_the_last_users_password(live_server, users, device_dir):
    h = Handheld(device_dir, live_server)
    h.login("inspector", "password123")
    h.logout()
    offline = Handheld(device_dir, "http://127.0.0.1:9")
    offline.client.timeout = (0.5, 0.5)
    from mobile.core.controller import LoginError

    with pytest.raises(LoginError, match="密码错误"):
        offline.login("inspector", "wrong")
    with pytest.raises(LoginError, match="离线登录记录"):
        offline.login("inspector2", "password123")
    assert offline.login("inspector", "password123")["username"] == "inspector"
    with pytest.raises(LoginError, match="不是执法人员"):
        Handheld(device_dir, live_server).login("analyst", "password123")


def test_refresh_downloads_the_task_list_only_when_it_changed(live_server, my_task, users, device_dir):
    from sqlalchemy import update

    from server.tasks.models import Task

    session = FlakySession()
    h = device(live_server, device_dir, session)
    lists = lambda: [c for c in session.calls if c[0] == "GET" and c[1].endswith("/api/v1/tasks")]  # noqa: E731
    assert [c[2] for c in lists()] == [200]

    h.sync_engine.refresh(laws=False)
    assert [c[2] for c in lists()] == [200, 304]
    assert [t["id"] for t in h.store.tasks()] == [my_task.id]  # kept as it was

    db.session.execute(update(Task).where(Task.id == my_task.id).values(state="in_progress"))
    db.session.commit()
    h.sync_engine.refresh(laws=False)
    assert [c[2] for c in lists()] == [200, 304, 200]
    assert h.store.task(my_task.id)["state"] == "in_progress"

    h.logout()  # the next user's device starts without the old list's tag
    assert h.store.setting("tasks_etag") is None


def test_a_14_mb_camera_photo_reaches_the_server_and_the_result_counts(
    live_server, my_task, device_dir, app
):
    """The defect: a photo over 10 MB was refused (413) after the result had closed the task."""
    import hashlib

    h = device(live_server, device_dir)
    fill_valid(h, my_task.id, problem=True)
    original = camera_photo(4000, 3000)
    assert len(original) > app.config["MAX_ATTACHMENT_BYTES"]
    checksum = h.attach(my_task.id, "photo", "photo", original, "IMG_0001.jpg")
    entry, check = h.finalize(my_task.id)
    assert check.ok, check.errors
    declared = next(a for a in entry.body["attachments"] if a["checksum"] == checksum)
    assert declared["original_checksum"] == hashlib.sha256(original).hexdigest()
    assert declared["original_size"] == len(original)
    assert h.sync_engine.upload().sent == [entry.instance_id]
    db.session.expire_all()
    stored = db.session.scalar(select(Attachment).where(Attachment.checksum == checksum))
    assert stored.path and stored.size < app.config["MAX_ATTACHMENT_BYTES"]
    assert stored.original_checksum == hashlib.sha256(original).hexdigest()
    assert stored.original_size == len(original)
    assert db.session.scalar(select(Submission)).state == "complete"
    assert count(InspectionResult) == 1


def test_refused_photo_blocks_the_entry_with_what_to_do_and_a_retaken_photo_completes_it(
    live_server, my_task, device_dir, app
):
    h = device(live_server, device_dir)
    fill_valid(h, my_task.id)
    entry, _ = h.finalize(my_task.id)
    photo = entry.body["answers"]["photo"][0]
    sizes = {a["checksum"]: a["size"] for a in entry.body["attachments"]}
    signature = sizes.pop(entry.body["answers"]["signature"])
    assert sizes[photo] > signature
    app.config["MAX_ATTACHMENT_BYTES"] = signature  # the signature passes, the photo does not
    report = h.sync_engine.upload()
    assert report.blocked == [entry.instance_id]
    row = h.outbox_rows()[0]
    assert row["state"] == "blocked" and row["state_label"] == "附件被退回，待处理"
    refused = [a for a in row["attachments"] if a["error"]]
    assert [a["checksum"] for a in refused] == [photo]
    assert "重新拍照" in refused[0]["error"] and "检查结果已保存" in refused[0]["error"]
    db.session.expire_all()
    assert count(InspectionResult) == 0  # kept, pending, not counted
    assert db.session.scalar(select(Submission)).state == "pending"

    # the inspector re-takes the photo: it replaces the refused one, the rest carries over
    app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024 * 1024
    new = h.retake(entry.instance_id, photo, small_photo("retaken"), "IMG_0002.png")
    assert new.body["deprecated_id"] == entry.instance_id
    assert photo not in new.body["answers"]["photo"] and len(new.body["answers"]["photo"]) == 1
    assert h.store.outbox_entry(entry.instance_id) is None
    assert h.sync_engine.upload().sent == [new.instance_id]
    db.session.expire_all()
    states = dict(db.session.execute(select(Submission.instance_id, Submission.state)).all())
    assert states == {entry.instance_id: "superseded", new.instance_id: "complete"}
    assert count(InspectionResult) == 1
    # the signature the server already had was not sent twice
    assert all(a.path for a in db.session.scalars(select(Attachment).where(
        Attachment.submission.has(Submission.instance_id == new.instance_id))))


def test_blocked_entry_can_be_sent_again_as_is(live_server, my_task, device_dir, app):
    h = device(live_server, device_dir)
    entry = finished(h, my_task.id)
    app.config["MAX_ATTACHMENT_BYTES"] = 20
    assert h.sync_engine.upload().blocked == [entry.instance_id]
    app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024 * 1024
    h.resend(entry.instance_id)
    assert h.store.outbox_entry(entry.instance_id).state == "uploading"
    assert h.sync_engine.upload().sent == [entry.instance_id]
    assert count(InspectionResult) == 1
    assert all(a.error is None for a in h.store.attachments(entry.instance_id))


def test_a_big_photo_queued_by_the_old_app_is_shrunk_and_sent(live_server, my_task, device_dir, app):
    """The outbox of a phone updated with a 14 MB photo still queued: 413, then one tap."""
    from unittest import mock

    from mobile.core.photos import PreparedPhoto

    h = device(live_server, device_dir)
    fill_valid(h, my_task.id)
    original = camera_photo(4000, 3000)

    def as_the_old_app_stored_it(data):
        return PreparedPhoto(data, ".jpg", 4000, 3000, "", len(data), False)

    with mock.patch("mobile.core.store.prepare_photo", as_the_old_app_stored_it):
        big = h.attach(my_task.id, "photo", "photo", original, "IMG_0001.jpg")
    with h.store.tx() as conn:  # the old app recorded no original digest
        conn.execute("UPDATE attachments SET original_checksum = NULL, original_size = NULL")
    entry, _ = h.finalize(my_task.id)
    assert h.sync_engine.upload().blocked == [entry.instance_id]
    refused = next(a for a in h.outbox_rows()[0]["attachments"] if a["error"])
    assert refused["checksum"] == big and refused["can_shrink"]
    assert "压缩后重新发送" in refused["error"]

    new = h.shrink(entry.instance_id, big)
    assert h.sync_engine.upload().sent == [new.instance_id]
    assert count(InspectionResult) == 1
    db.session.expire_all()
    photo = next(a for a in db.session.scalars(select(Attachment)) if a.original_checksum)
    assert photo.original_size == len(original) and photo.size < app.config["MAX_ATTACHMENT_BYTES"]
