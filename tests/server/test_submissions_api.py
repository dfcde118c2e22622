from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import pytest
from factories import task
from sqlalchemy import func, select

from server.db import utcnow
from server.extensions import db
from server.inspections.models import Attachment, InspectionResult, Submission
from server.tasks.models import Inspector, Task

SIGNATURE = b"\x89PNG\r\n\x1a\n fake signature bytes"
SIG_SUM = hashlib.sha256(SIGNATURE).hexdigest()
BEIJING = dt.timezone(dt.timedelta(hours=8))


def body(task_id: int, **overrides):
    out = {
        "instance_id": str(uuid.uuid4()),
        "task_id": task_id,
        "form_code": "catering",
        "form_version": "1",
        "answers": {"licence_valid": "non_compliant", "licence_problem": "许可证已过期",
                    "signature": SIG_SUM, "staff_count": 4},
        "result_category": "problem_corrected",
        "follow_up": "rectification_ordered",
        # an hour ago until five minutes ago, Beijing time (the task was drawn two days ago)
        "started_at": _time("started"),
        "completed_at": _time("completed"),
        "attachments": [{"item_id": "signature", "kind": "signature", "filename": "sig.png",
                         "checksum": SIG_SUM, "size": len(SIGNATURE)}],
        "device_id": "device-1",
    }
    out.update(overrides)
    return out


@pytest.fixture
def my_task(users):
    both = [db.session.get(Inspector, users["inspector"].inspector_id),
            db.session.get(Inspector, users["inspector2"].inspector_id)]
    t = task(both)
    t.created_at = utcnow() - dt.timedelta(days=2)  # drawn two days ago
    db.session.commit()
    return t


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_first_submission_is_pending_until_its_attachment_then_stores_one_result(client, auth, my_task):
    headers = auth.headers("inspector")
    response = client.post("/api/v1/submissions", json=body(my_task.id), headers=headers)
    assert response.status_code == 201, response.get_json()
    out = response.get_json()
    assert out["status"] == "accepted"
    assert out["state"] == "pending"
    assert out["missing_attachments"] == [SIG_SUM]
    assert "尚缺 1 个附件" in out["message"]
    assert out["form_version"] == "1"
    # stored, but nothing counts yet: the task stays open, no result
    assert out["problem_found"] is None and out["task_state"] == "in_progress"
    assert count(Submission) == 1 and count(InspectionResult) == 0

    up = _upload(client, headers, out["id"], SIGNATURE, SIG_SUM)
    assert up.status_code == 201, up.get_json()
    done = up.get_json()["submission"]
    assert done["state"] == "complete" and done["task_state"] == "submitted"
    assert done["problem_found"] is True and done["missing_attachments"] == []
    assert (done["result_category"], done["follow_up"]) == ("problem_corrected", "rectification_ordered")
    result = db.session.scalar(select(InspectionResult))
    assert result.problem_found and result.problem_domains == ["food_safety"]
    completed = dt.datetime.fromisoformat(db.session.scalar(select(Submission)).payload["completed_at"])
    assert result.inspected_on == completed.date()
    assert result.failed_items == ["FS01"]  # the check item, not the form's item id
    assert (result.result_category, result.follow_up) == ("problem_corrected", "rectification_ordered")
    assert result.summary.startswith("发现问题已责令改正。") and "许可证已过期" in result.summary
    assert db.session.get(Task, my_task.id).state == "submitted"


def test_identical_retry_is_202_while_pending_then_200_and_writes_nothing(client, auth, my_task):
    headers = auth.headers("inspector")
    payload = body(my_task.id)
    first = client.post("/api/v1/submissions", json=payload, headers=headers)
    again = client.post("/api/v1/submissions", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 202)
    same = {k: v for k, v in first.get_json().items() if k != "status"}
    assert {k: v for k, v in again.get_json().items() if k != "status"} == same  # the same receipt
    assert again.get_json()["status"] == "duplicate"
    assert count(Submission) == 1 and count(InspectionResult) == 0
    assert _upload(client, headers, first.get_json()["id"], SIGNATURE, SIG_SUM).status_code == 201
    late = client.post("/api/v1/submissions", json=payload, headers=headers)
    assert late.status_code == 200 and late.get_json()["state"] == "complete"
    assert count(Submission) == 1 and count(InspectionResult) == 1


def test_different_body_under_same_instance_id_is_409(client, auth, my_task):
    headers = auth.headers("inspector")
    payload = body(my_task.id)
    assert client.post("/api/v1/submissions", json=payload, headers=headers).status_code == 201
    changed = dict(payload, answers={**payload["answers"], "staff_count": 5})
    response = client.post("/api/v1/submissions", json=changed, headers=headers)
    assert response.status_code == 409
    assert response.get_json()["error"] == "instance_conflict"
    assert "instance" in response.get_json()["message"]
    assert count(Submission) == 1


def test_second_inspector_submitting_same_task_is_told_why(client, auth, my_task):
    headers = auth.headers("inspector")
    first = client.post("/api/v1/submissions", json=body(my_task.id), headers=headers)
    assert first.status_code == 201
    # while the first waits for its signature, the colleague is told to let it be completed
    pending = client.post("/api/v1/submissions", json=body(my_task.id), headers=auth.headers("inspector2"))
    assert pending.status_code == 409 and pending.get_json()["error"] == "task_pending"
    assert "王执法" in pending.get_json()["message"] and "补传" in pending.get_json()["message"]
    assert _upload(client, headers, first.get_json()["id"], SIGNATURE, SIG_SUM).status_code == 201
    other = client.post("/api/v1/submissions", json=body(my_task.id), headers=auth.headers("inspector2"))
    assert other.status_code == 409 and other.get_json()["error"] == "task_closed"
    message = other.get_json()["message"]
    assert "王执法" in message and "already has a result" in message
    assert count(InspectionResult) == 1 and count(Submission) == 1


def test_invalid_form_is_422_with_item_messages_and_nothing_stored(client, auth, my_task):
    bad = body(my_task.id, answers={"licence_valid": "no", "staff_count": -3,
                                    "signature": SIG_SUM, "unknown_item": 1})
    response = client.post("/api/v1/submissions", json=bad, headers=auth.headers("inspector"))
    assert response.status_code == 422
    items = response.get_json()["items"]
    assert set(items) == {"licence_valid", "staff_count", "unknown_item"}
    assert "不符合" in items["licence_valid"]  # a bare 是/否 is not an answer to a judged item
    assert "0 到 10000" in items["staff_count"]
    assert count(Submission) == 0
    assert db.session.get(Task, my_task.id).state == "assigned"


def test_irrelevant_answer_is_refused(client, auth, my_task):
    payload = body(my_task.id)
    payload["answers"].update(licence_valid="compliant")  # licence_problem now irrelevant
    response = client.post("/api/v1/submissions", json=payload, headers=auth.headers("inspector"))
    assert response.status_code == 422
    assert "licence_problem" in response.get_json()["items"]


def test_task_of_someone_else_is_403(client, auth, users):
    from factories import inspector

    stranger = inspector("陌生人")
    t = task([stranger])
    response = client.post("/api/v1/submissions", json=body(t.id), headers=auth.headers("inspector"))
    assert response.status_code == 403
    assert count(Submission) == 0


def test_schema_errors_are_422(client, auth, my_task):
    response = client.post("/api/v1/submissions", json={"task_id": "x"}, headers=auth.headers("inspector"))
    assert response.status_code == 422
    assert {"instance_id", "task_id", "answers"} <= set(response.get_json()["items"])


def _upload(client, headers, sub_id, data, checksum, name="sig.png"):
    return client.post(
        f"/api/v1/submissions/{sub_id}/attachments",
        data={"file": (io.BytesIO(data), name), "checksum": checksum},
        headers=headers, content_type="multipart/form-data",
    )


def test_attachment_upload_is_idempotent_by_checksum(client, auth, my_task, app):
    headers = auth.headers("inspector")
    sub_id = client.post("/api/v1/submissions", json=body(my_task.id), headers=headers).get_json()["id"]
    first = _upload(client, headers, sub_id, SIGNATURE, SIG_SUM)
    again = _upload(client, headers, sub_id, SIGNATURE, SIG_SUM)
    assert (first.status_code, again.status_code) == (201, 200)
    att = db.session.scalar(select(Attachment))
    assert att.path and open(att.path, "rb").read() == SIGNATURE
    retry = client.post("/api/v1/submissions", json=db.session.get(Submission, sub_id).payload, headers=headers)
    assert retry.get_json()["missing_attachments"] == []


def test_attachment_damaged_or_undeclared_or_too_large_is_refused(client, auth, my_task, app):
    headers = auth.headers("inspector")
    sub_id = client.post("/api/v1/submissions", json=body(my_task.id), headers=headers).get_json()["id"]
    damaged = _upload(client, headers, sub_id, SIGNATURE + b"x", SIG_SUM)
    assert damaged.status_code == 422 and damaged.get_json()["error"] == "checksum_mismatch"
    assert "校验值不符" in damaged.get_json()["message"] and "重新发送" in damaged.get_json()["message"]
    other = b"not declared"
    undeclared = _upload(client, headers, sub_id, other, hashlib.sha256(other).hexdigest())
    assert undeclared.status_code == 422
    app.config["MAX_ATTACHMENT_BYTES"] = 8
    too_large = _upload(client, headers, sub_id, SIGNATURE, SIG_SUM)
    assert too_large.status_code == 413
    assert db.session.scalar(select(Attachment)).path is None
    assert count(InspectionResult) == 0 and db.session.get(Task, my_task.id).state == "in_progress"


def test_attachment_name_cannot_traverse_paths(client, auth, my_task, app, tmp_path):
    headers = auth.headers("inspector")
    payload = body(my_task.id)
    payload["attachments"][0]["filename"] = "../../etc/passwd"
    sub_id = client.post("/api/v1/submissions", json=payload, headers=headers).get_json()["id"]
    response = _upload(client, headers, sub_id, SIGNATURE, SIG_SUM, name="../../../evil.sh")
    assert response.status_code == 201
    att = db.session.scalar(select(Attachment))
    assert att.filename == "passwd"
    assert att.path.startswith(app.config["ATTACHMENT_DIR"])
    assert not (tmp_path.parent / "evil.sh").exists()


def test_refused_attachment_leaves_the_task_open_and_a_valid_resend_completes_it(client, auth, my_task, app):
    """The defect: a photo over the limit was refused after the result had closed the task."""
    headers = auth.headers("inspector")
    photo = b"\xff\xd8\xff\xe0" + b"\x00" * 4000  # a JPEG's first bytes
    payload = body(my_task.id)
    photo_sum = hashlib.sha256(photo).hexdigest()
    payload["answers"]["photo"] = [photo_sum]
    payload["attachments"].append({"item_id": "photo", "kind": "photo", "filename": "IMG_0001.jpg",
                                   "checksum": photo_sum, "size": len(photo),
                                   "original_checksum": "ab" * 32, "original_size": 14_000_000})
    sub_id = client.post("/api/v1/submissions", json=payload, headers=headers).get_json()["id"]
    assert _upload(client, headers, sub_id, SIGNATURE, SIG_SUM).status_code == 201
    app.config["MAX_ATTACHMENT_BYTES"] = 1000
    refused = _upload(client, headers, sub_id, photo, photo_sum, name="IMG_0001.jpg")
    assert refused.status_code == 413
    message = refused.get_json()["message"]
    assert "IMG_0001.jpg" in message and "重新拍照" in message and "检查结果已保存" in message
    # the result is kept but does not count; the task stays open; the refusal is on the receipt
    replay = client.post("/api/v1/submissions", json=payload, headers=headers)
    assert replay.status_code == 202
    receipt = replay.get_json()
    assert receipt["state"] == "pending" and receipt["missing_attachments"] == [photo_sum]
    assert receipt["refused_attachments"] == {photo_sum: message}
    assert "被服务器退回" in receipt["message"]
    assert count(InspectionResult) == 0
    assert db.session.get(Task, my_task.id).state == "in_progress"

    app.config["MAX_ATTACHMENT_BYTES"] = 10 * 1024 * 1024
    again = _upload(client, headers, sub_id, photo, photo_sum, name="IMG_0001.jpg")
    assert again.status_code == 201
    assert again.get_json()["submission"]["state"] == "complete"
    assert count(InspectionResult) == 1
    assert db.session.get(Task, my_task.id).state == "submitted"
    att = db.session.scalar(select(Attachment).where(Attachment.checksum == photo_sum))
    assert (att.original_checksum, att.original_size, att.refusal) == ("ab" * 32, 14_000_000, None)
    assert _upload(client, headers, sub_id, photo, photo_sum).status_code == 200  # once only
    assert count(InspectionResult) == 1


def test_file_that_is_not_an_image_is_refused_and_a_retaken_photo_supersedes_it(client, auth, my_task):
    headers = auth.headers("inspector")
    not_image = b"%PDF-1.7 not a photo"
    payload = body(my_task.id)
    bad_sum = hashlib.sha256(not_image).hexdigest()
    payload["answers"]["photo"] = [bad_sum]
    payload["attachments"].append({"item_id": "photo", "kind": "photo", "filename": "doc.jpg",
                                   "checksum": bad_sum, "size": len(not_image)})
    first = client.post("/api/v1/submissions", json=payload, headers=headers).get_json()
    assert _upload(client, headers, first["id"], SIGNATURE, SIG_SUM).status_code == 201
    refused = _upload(client, headers, first["id"], not_image, bad_sum, name="doc.jpg")
    assert refused.status_code == 415 and "不是" in refused.get_json()["message"]
    assert count(InspectionResult) == 0

    # the inspector re-takes the photo: a new submission names the pending one
    photo = b"\xff\xd8\xff\xe1 retaken"
    good_sum = hashlib.sha256(photo).hexdigest()
    retaken = body(my_task.id, deprecated_id=payload["instance_id"])
    retaken["answers"]["photo"] = [good_sum]
    retaken["attachments"].append({"item_id": "photo", "kind": "photo", "filename": "IMG_2.jpg",
                                   "checksum": good_sum, "size": len(photo)})
    second = client.post("/api/v1/submissions", json=retaken, headers=headers)
    assert second.status_code == 201, second.get_json()
    assert second.get_json()["missing_attachments"] == [good_sum]  # the signature carried over
    assert _upload(client, headers, second.get_json()["id"], photo, good_sum).status_code == 201
    db.session.expire_all()
    states = dict(db.session.execute(select(Submission.instance_id, Submission.state)).all())
    assert states == {payload["instance_id"]: "superseded", retaken["instance_id"]: "complete"}
    result = db.session.scalar(select(InspectionResult))
    assert count(InspectionResult) == 1 and result.submission.instance_id == retaken["instance_id"]
    # a late replay of the superseded body writes nothing; its uploads are refused
    late = client.post("/api/v1/submissions", json=payload, headers=headers)
    assert late.status_code == 200 and late.get_json()["state"] == "superseded"
    assert _upload(client, headers, first["id"], photo, bad_sum).status_code == 409
    assert count(InspectionResult) == 1 and count(Submission) == 2


def test_attachments_given_with_the_submission_complete_it_in_one_call(app, users, my_task):
    from server.inspections import services

    user = db.session.get(type(users["inspector"]), users["inspector"].id)
    outcome = services.receive_submission(db.session, user, body(my_task.id), files={SIG_SUM: SIGNATURE},
                                          directory=app.config["ATTACHMENT_DIR"])
    assert outcome.created and outcome.receipt["state"] == "complete" and outcome.result is not None
    assert count(InspectionResult) == 1
    assert open(db.session.scalar(select(Attachment)).path, "rb").read() == SIGNATURE


def _time(name: str) -> str | None:
    """A named time, taken when the test runs (a long session must not age them)."""
    now = utcnow().astimezone(BEIJING).replace(microsecond=0)
    return {
        "started": (now - dt.timedelta(hours=1)).isoformat(),
        "completed": (now - dt.timedelta(minutes=5)).isoformat(),
        "half_hour_ahead": (now + dt.timedelta(minutes=30)).isoformat(),
        "2099": "2099-01-01T10:00:00+08:00",
        "2099_no_zone": "2099-01-01T09:00:00",
        "before_the_draw": "2026-01-05T09:00:00+08:00",
        "garbage": "yesterday-ish",
        "none": None,
    }[name]


@pytest.mark.parametrize(("started", "completed", "field", "words"), [
    ("garbage", "completed", "started_at", "格式不正确"),  # impossible even with completed_at
    ("completed", "started", "started_at", "晚于完成检查时间"),
    ("started", "2099", "completed_at", "晚于服务器当前时间"),
    ("started", "half_hour_ahead", "completed_at", "允许误差 10 分钟"),
    ("before_the_draw", "completed", "started_at", "早于任务下达时间"),
    ("2099_no_zone", "none", "started_at", "晚于服务器当前时间"),
])
def test_impossible_inspection_times_are_422_and_nothing_is_stored(client, auth, my_task, started, completed,
                                                                    field, words):
    payload = body(my_task.id, started_at=_time(started), completed_at=_time(completed))
    response = client.post("/api/v1/submissions", json=payload, headers=auth.headers("inspector"))
    assert response.status_code == 422, response.get_json()
    assert words in response.get_json()["items"][field]
    assert count(Submission) == 0
    assert db.session.get(Task, my_task.id).state == "assigned"


def test_times_within_the_clock_allowance_and_without_a_zone_are_beijing_time(client, auth, my_task):
    ahead = (utcnow() + dt.timedelta(minutes=5)).astimezone(BEIJING)
    naive = _time("started")[:19]  # what a phone shows: Beijing time, no zone
    response = client.post("/api/v1/submissions", json=body(my_task.id, started_at=naive,
                                                             completed_at=ahead.isoformat()),
                           headers=auth.headers("inspector"))
    assert response.status_code == 201, response.get_json()


def test_upload_over_the_request_limit_says_what_to_do(client, auth, my_task, app):
    headers = auth.headers("inspector")
    sub_id = client.post("/api/v1/submissions", json=body(my_task.id), headers=headers).get_json()["id"]
    app.config["MAX_CONTENT_LENGTH"] = 64
    response = _upload(client, headers, sub_id, SIGNATURE + b"\x00" * 200, SIG_SUM)
    assert response.status_code == 413
    assert "重新拍照" in response.get_json()["message"] and "检查结果已保存" in response.get_json()["message"]
    assert count(InspectionResult) == 0
