"""Evidence is never lost between a result and its photos (issue 23).

A result counts only with every attachment it declares. The network cut between the
result and its photo, or a photo the server refuses, must leave the task open and the
submission pending (no result, no hit-rate input), and the retry must end with the
result complete exactly once: never a closed task with its photo missing.
"""

from __future__ import annotations

import pytest
from faultproxy import FaultProxy
from reliability_helpers import bulk_tasks, count
from sync_harness import READ_TIMEOUT, assert_exactly_once, device, drain, fill_outbox

from server.extensions import db
from server.inspections.models import Attachment, InspectionResult, Submission
from server.tasks.models import Task


@pytest.mark.parametrize("fault", ["drop", "cut"])
def test_connection_cut_between_result_and_photo_ends_complete_exactly_once(
    app, users, live_server, handheld_dir, fault
):
    inspector = users["inspector"]
    task_ids = bulk_tasks(6, [inspector.inspector_id])
    store, engine = device(handheld_dir, "http://unused", inspector)
    instance_of = fill_outbox(store, task_ids, photo_every=1)
    with FaultProxy(
        ("127.0.0.1", live_server.server_port),
        {fault: 1.0},
        seed=3,
        late_delay=READ_TIMEOUT + 0.4,
        paths=("/attachments",),
    ) as proxy:
        engine.client.base_url = proxy.url
        first = engine.upload(force=True)
        assert sorted(first.pending) == sorted(instance_of.values())
        assert proxy.counts[fault] == len(task_ids)
        if fault == "drop":
            # the results are stored but wait for their photos: nothing closed, nothing counted
            assert count(Submission, Submission.state == "pending") == len(task_ids)
            assert count(InspectionResult) == 0
            assert count(Task, Task.id.in_(task_ids), Task.state == "in_progress") == len(task_ids)
            assert count(Attachment, Attachment.path.is_not(None)) == 0
        else:
            # the photos arrived and completed the results; only the answers were cut
            assert count(InspectionResult) == len(task_ids)
        assert all(e.state == "uploading" for e in store.outbox())
        proxy.rates = {}
        drain(engine, store)
    assert_exactly_once(store, instance_of, app.config["ATTACHMENT_DIR"])


def test_refused_photo_keeps_the_task_open_until_a_valid_resend(
    app, users, live_server, handheld_dir
):
    inspector = users["inspector"]
    task_ids = bulk_tasks(3, [inspector.inspector_id])
    store, engine = device(handheld_dir, f"http://127.0.0.1:{live_server.server_port}", inspector)
    instance_of = fill_outbox(store, task_ids, photo_every=1)
    app.config["MAX_ATTACHMENT_BYTES"] = 200  # smaller than every photo: refused

    report = engine.upload(force=True)
    assert sorted(report.blocked) == sorted(instance_of.values())
    assert "附件待处理 3" in report.message
    for entry in store.outbox():
        assert entry.state == "blocked"
        assert "重新拍照" in entry.last_error and "检查结果已保存" in entry.last_error
        (att,) = store.attachments(entry.instance_id)
        assert att.error == entry.last_error and not att.uploaded
    assert engine.upload(force=True).sent == []  # blocked: waits for the inspector
    db.session.expire_all()
    assert count(InspectionResult) == 0
    assert count(Task, Task.id.in_(task_ids), Task.state == "in_progress") == len(task_ids)
    assert all(a.refusal for a in db.session.scalars(db.select(Attachment)))

    app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024 * 1024
    for instance_id in instance_of.values():
        engine.resend(instance_id)
    drain(engine, store)
    assert_exactly_once(store, instance_of, app.config["ATTACHMENT_DIR"])
