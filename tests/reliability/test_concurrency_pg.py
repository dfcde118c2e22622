"""Races on PostgreSQL: requests released together from a barrier, over real HTTP to a
threaded server (one session per request). SQLite serialises writers, so these races
are PostgreSQL's alone.

Whatever the interleaving, the outcome must be one of the serial ones: one draw, one
result per task (the loser told why), a warning history that follows the state
machine, and an audit chain that verifies.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from reliability_helpers import body_for, bulk_tasks, count
from sqlalchemy import select

from server.audit.models import AuditEvent
from server.audit.services import verify
from server.auth.services import issue_token
from server.extensions import db
from server.inspections.models import InspectionResult, Submission
from server.rounds.models import DrawnEntity, SamplingRound
from server.warnings.models import Warning, WarningTransition
from server.warnings.services import TRANSITIONS

ROUNDS = 3
TASKS = 15


@pytest.fixture(autouse=True)
def _postgresql_only(db_kind):
    if db_kind != "postgresql":
        pytest.skip("races need concurrent writers: PostgreSQL only (SQLite serialises them)")


def race(*calls: Callable[[], requests.Response]) -> list[requests.Response]:
    """Run the calls in threads released at the same moment; their answers, in order."""
    barrier = threading.Barrier(len(calls))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = calls[i]()
        except Exception as exc:  # noqa: BLE001 - reported below
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(isinstance(r, requests.Response) for r in out), out
    return out


def bearer(user: Any) -> dict[str, str]:
    token, _ = issue_token(db.session, user)
    return {"Authorization": f"Bearer {token}"}


def base(live_server: Any) -> str:
    return f"http://127.0.0.1:{live_server.server_port}/api/v1"


@pytest.mark.slow
def test_two_supervisors_drawing_the_same_round_draw_it_once(app, users, reference, live_server):
    import datetime as dt

    from server.simulation.loop import SimulationConfig
    from server.simulation.run import build_province

    build_province(
        db.session,
        SimulationConfig(entities=200, seed=3, start=dt.date(2026, 3, 2)),
        data_dir=Path(__file__).resolve().parents[2] / "data",
    )
    from server.auth.services import create_user

    second = create_user(
        db.session,
        username="supervisor2",
        password="password123",
        roles=["supervisor"],
        display_name="李科长",
        department_code="330100-FOOD",
    )
    a, b = bearer(users["supervisor"]), bearer(second)
    url = base(live_server)
    body = {
        "name": "并发抽取测试",
        "channel": "credit_weighted",
        "design": "stratified",
        "department_codes": ["330100-FOOD", "330100-PRICE"],
        "check_item_codes": ["FS09", "PR01"],
        "scope": {"regions": ["330100"]},
        "period_start": "2026-03-02",
        "period_end": "2026-04-30",
        "ratios": {"A": 0.2, "B": 0.3, "C": 0.5, "D": 1.0},
        "inspectors_per_task": 2,
    }
    for _ in range(ROUNDS):
        created = requests.post(f"{url}/rounds", json=body, headers=a, timeout=30)
        assert created.status_code == 201, created.text
        rid = created.json()["id"]
        first, other = race(
            lambda rid=rid: requests.post(f"{url}/rounds/{rid}/draw", headers=a, timeout=120),
            lambda rid=rid: requests.post(f"{url}/rounds/{rid}/draw", headers=b, timeout=120),
        )
        assert sorted([first.status_code, other.status_code]) == [200, 409], (
            first.text,
            other.text,
        )
        loser = first if first.status_code == 409 else other
        assert loser.json()["message"]
        db.session.expire_all()
        assert db.session.get(SamplingRound, rid).state == "drawn"
        winner = (first if first.status_code == 200 else other).json()
        assert count(DrawnEntity, DrawnEntity.round_id == rid) == winner["drawn"] > 0
        assert (
            count(AuditEvent, AuditEvent.action == "round.draw", AuditEvent.object_id == str(rid))
            == 1
        )
    assert verify(db.session).ok


def test_two_inspectors_submitting_the_same_task_store_one_result(app, users, live_server):
    task_ids = bulk_tasks(
        TASKS, [users["inspector"].inspector_id, users["inspector2"].inspector_id]
    )
    h1, h2 = bearer(users["inspector"]), bearer(users["inspector2"])
    url = f"{base(live_server)}/submissions"
    for task_id in task_ids:
        r1, r2 = race(
            lambda t=task_id: requests.post(url, json=body_for(t), headers=h1, timeout=60),
            lambda t=task_id: requests.post(
                url, json=body_for(t, problem=True), headers=h2, timeout=60
            ),
        )
        assert sorted([r1.status_code, r2.status_code]) == [201, 409], (task_id, r1.text, r2.text)
        loser = r1 if r1.status_code == 409 else r2
        assert loser.json()["error"] == "task_closed"
        assert "已" in loser.json()["message"]  # "already submitted (by whom, when)"
    assert count(InspectionResult) == TASKS
    assert count(Submission) == TASKS
    assert count(AuditEvent, AuditEvent.action == "inspection.result") == TASKS
    assert verify(db.session).ok


def test_the_same_submission_sent_twice_at_once_is_stored_once(app, users, live_server):
    task_ids = bulk_tasks(TASKS, [users["inspector"].inspector_id])
    h = bearer(users["inspector"])
    url = f"{base(live_server)}/submissions"
    for task_id in task_ids:
        body = body_for(task_id, instance_id=str(uuid.uuid4()))
        r1, r2 = race(
            lambda b=body: requests.post(url, json=b, headers=h, timeout=60),
            lambda b=body: requests.post(url, json=b, headers=h, timeout=60),
        )
        assert sorted([r1.status_code, r2.status_code]) == [200, 201], (r1.text, r2.text)
        assert r1.json()["id"] == r2.json()["id"]
    assert count(Submission) == count(InspectionResult) == TASKS
    assert verify(db.session).ok


def _warnings(n: int) -> list[int]:
    from factories import department, entity, form, red_warnings

    department("330100-FOOD", domains=["food_safety"])
    form()
    return red_warnings([entity() for _ in range(n)])


def assert_history_follows_the_state_machine(warning_id: int) -> None:
    steps = db.session.scalars(
        select(WarningTransition)
        .where(WarningTransition.warning_id == warning_id)
        .order_by(WarningTransition.id)
    ).all()
    state = "issued"
    for step in steps:
        assert step.from_state == state, [(s.from_state, s.to_state) for s in steps]
        assert step.to_state in TRANSITIONS[state]
        state = step.to_state
    assert db.session.get(Warning, warning_id).state == state
    audited = db.session.scalars(
        select(AuditEvent.action).where(
            AuditEvent.object_type == "warning", AuditEvent.object_id == str(warning_id)
        )
    ).all()
    assert sorted(audited) == sorted(f"warning.{s.to_state}" for s in steps)


@pytest.mark.parametrize(
    ("start", "targets"),
    [
        ("issued", ["dispatched", "dispatched"]),
        ("dispatched", ["accepted", "dismissed"]),
        ("issued", ["dismissed", "dispatched", "merged"]),
    ],
)
def test_racing_warning_transitions_leave_one_consistent_history(
    app, users, live_server, start, targets
):
    ids = _warnings(5)
    sup = bearer(users["supervisor"])
    url = base(live_server)
    for wid in ids:
        if start == "dispatched":
            r = requests.post(
                f"{url}/warnings/{wid}/transitions",
                json={"to": "dispatched"},
                headers=sup,
                timeout=30,
            )
            assert r.status_code == 200, r.text
        answers = race(
            *[
                (
                    lambda t=t, wid=wid: requests.post(
                        f"{url}/warnings/{wid}/transitions",
                        json={"to": t, "note": "并发测试"},
                        headers=sup,
                        timeout=60,
                    )
                )
                for t in targets
            ]
        )
        codes = [r.status_code for r in answers]
        assert all(c < 500 for c in codes), [r.text for r in answers]
        db.session.expire_all()
        final = db.session.get(Warning, wid).state
        winners = [t for t, r in zip(targets, answers, strict=True) if r.status_code == 200]
        assert len(winners) == 1 if len(set(targets)) == 1 else len(winners) >= 1, codes
        assert final in winners or final == "closed"
        assert_history_follows_the_state_machine(wid)
    assert verify(db.session).ok
