from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from sqlalchemy import func, select

from factories import task
from server.extensions import db
from server.inspections.models import Attachment, InspectionResult, Submission
from server.tasks.models import Inspector, Task

SIGNATURE = b"\x89PNG fake signature bytes"
SIG_SUM = hashlib.sha256(SIGNATURE).hexdigest()


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
        "started_at": "2026-11-20T09:00:00+08:00",
        "completed_at": "2026-11-20T09:40:00+08:00",
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
    return task(both)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_first_submission_is_201_and_stores_one_result(client, auth, my_task):
    response = client.post("/api/v1/submissions", json=body(my_task.id), headers=auth.headers("inspector"))
    assert response.status_code == 201, response.get_json()
    out = response.get_json()
    assert out["status"] == "accepted"
    assert out["problem_found"] is True
    assert out["task_state"] == "submitted"
    assert out["missing_attachments"] == [SIG_SUM]
    assert (out["result_category"], out["follow_up"], out["form_version"]) == (
        "problem_corrected", "rectification_ordered", "1")
    result = db.session.scalar(select(InspectionResult))
    assert result.problem_found and result.problem_domains == ["food_safety"]
    assert result.inspected_on.isoformat() == "2026-11-20"
    assert result.failed_items == ["FS01"]  # the check item, not the form's item id
    assert (result.result_category, result.follow_up) == ("problem_corrected", "rectification_ordered")
    assert result.summary.startswith("发现问题已责令改正。") and "许可证已过期" in result.summary


def test_identical_retry_is_200_and_writes_nothing(client, auth, my_task):
    headers = auth.headers("inspector")
    payload = body(my_task.id)
    first = client.post("/api/v1/submissions", json=payload, headers=headers)
    again = client.post("/api/v1/submissions", json=payload, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.get_json()["status"] == "duplicate"
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
    assert client.post("/api/v1/submissions", json=body(my_task.id), headers=auth.headers("inspector")).status_code == 201
    other = client.post("/api/v1/submissions", json=body(my_task.id), headers=auth.headers("inspector2"))
    assert other.status_code == 409 and other.get_json()["error"] == "task_closed"
    message = other.get_json()["message"]
    assert "王执法" in message and "already has a result" in message
    assert count(InspectionResult) == 1


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
    assert damaged.status_code == 422 and "checksum" in damaged.get_json()["message"]
    other = b"not declared"
    undeclared = _upload(client, headers, sub_id, other, hashlib.sha256(other).hexdigest())
    assert undeclared.status_code == 422
    app.config["MAX_ATTACHMENT_BYTES"] = 8
    too_large = _upload(client, headers, sub_id, SIGNATURE, SIG_SUM)
    assert too_large.status_code == 413
    assert db.session.scalar(select(Attachment)).path is None


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
