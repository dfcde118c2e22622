"""The two submission races the PostgreSQL race tests found, replayed deterministically
(on SQLite too) by forcing the interleaving: a stale read of the task's state, and a
replay whose original committed between the server's two checks."""

from __future__ import annotations

import pytest
from reliability_helpers import body_for, bulk_tasks, count

from server.audit.services import verify
from server.extensions import db
from server.inspections import services
from server.inspections.models import InspectionResult, Submission


@pytest.fixture
def shared_task(users):
    return bulk_tasks(1, [users["inspector"].inspector_id, users["inspector2"].inspector_id])[0]


def test_second_result_arriving_as_a_unique_violation_is_409_with_who(
    client, auth, shared_task, monkeypatch
):
    first = client.post(
        "/api/v1/submissions", json=body_for(shared_task), headers=auth.headers("inspector")
    )
    assert first.status_code == 201
    # the other request read the task while it was still open (before the first commit)
    monkeypatch.setattr(services, "OPEN_TASK_STATES", ("assigned", "in_progress", "submitted"))
    second = client.post(
        "/api/v1/submissions",
        json=body_for(shared_task, problem=True),
        headers=auth.headers("inspector2"),
    )
    assert second.status_code == 409, second.get_json()  # was a 500 (IntegrityError at the flush)
    assert "王执法" in second.get_json()["message"]  # who was first
    assert count(InspectionResult) == 1
    assert count(Submission) == 1
    assert verify(db.session).ok


def test_replay_whose_original_committed_meanwhile_is_200(client, auth, shared_task, monkeypatch):
    body = body_for(shared_task)
    headers = auth.headers("inspector")
    assert client.post("/api/v1/submissions", json=body, headers=headers).status_code == 201
    real = services._existing
    calls = []

    def not_yet_committed_on_first_look(session, instance_id, digest):
        calls.append(instance_id)
        return None if len(calls) == 1 else real(session, instance_id, digest)

    monkeypatch.setattr(services, "_existing", not_yet_committed_on_first_look)
    again = client.post("/api/v1/submissions", json=body, headers=headers)
    assert again.status_code == 200, (
        again.get_json()
    )  # was 409: the device would reject its own result
    assert again.get_json()["status"] == "duplicate"
    assert len(calls) == 2
    assert count(Submission) == count(InspectionResult) == 1
