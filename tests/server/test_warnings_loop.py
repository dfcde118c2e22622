from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import numpy as np
import pytest
from factories import department, entity, form, inspector
from sqlalchemy import func, select

from server.audit.models import AuditEvent
from server.extensions import db
from server.tasks.models import Task
from server.warnings import services
from server.warnings.models import Warning, WarningTransition
from server.workdays import WorkCalendar

SLA = {"red": 3, "orange": 7, "yellow": 15}
CAL = WorkCalendar(["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"])
MONDAY = dt.date(2026, 11, 16)


def issue(entities, level="red", model="food_safety", today=MONDAY):
    batch = services.IssueBatch(
        model=model, model_version="1", entity_ids=np.array([e.id for e in entities]),
        scores=np.full(len(entities), 0.8), levels=[level] * len(entities),
        reasons=[[{"code": "tests_failed_3y_food", "label": "近三年食品抽检不合格批次", "value": 2,
                   "contribution": 1.2}]] * len(entities),
        legal_basis=[[{"law": "食品安全法", "article": 34}]] * len(entities),
    )
    out = services.issue_warnings(db.session, batch, today=today, calendar=CAL, sla=SLA)
    db.session.commit()
    return out


@pytest.fixture
def setup(users):
    department("330100-FOOD", domains=["food_safety"])
    for name in ("甲", "乙", "丙"):
        inspector(f"检查员{name}", "330100-FOOD", ["food_safety"])
    form()
    e = entity()
    issue([e])
    return db.session.scalar(select(Warning))


def test_sla_counts_working_days_by_level(app):
    assert services.sla_due(CAL, dt.date(2026, 9, 30), "red", SLA) == dt.date(2026, 10, 12)
    assert services.sla_due(CAL, MONDAY, "red", SLA) == dt.date(2026, 11, 19)
    assert services.sla_due(CAL, MONDAY, "yellow", SLA) == dt.date(2026, 12, 7)


def test_issue_merges_same_entity_same_model_and_raises_level(setup):
    e_id = setup.entity_id
    from server.entities.models import Entity

    out = issue([db.session.get(Entity, e_id)], level="red")
    assert out == {"issued": 0, "merged": 1}
    merged = db.session.scalar(select(Warning).where(Warning.state == "merged"))
    assert merged.merged_into_id == setup.id


def test_full_legal_path_to_closed_via_inspection_result(setup, client, auth, users):
    sup = auth.headers("supervisor")
    w = setup.id
    for target in ("dispatched", "accepted"):
        r = client.post(f"/api/v1/warnings/{w}/transitions", json={"to": target}, headers=sup)
        assert r.status_code == 200, r.get_json()
    r = client.post(f"/api/v1/warnings/{w}/transitions", json={"to": "in_handling", "handling": "inspection"},
                    headers=sup)
    assert r.status_code == 200, r.get_json()
    task = db.session.scalar(select(Task).where(Task.warning_id == w))
    assert task.channel == "warning" and len(task.assignments) == 2
    assert {a.inspector.department_code for a in task.assignments} == {"330100-FOOD"}
    # the inspector's handheld sees the warning with its reasons and legal basis
    own = [a for a in task.assignments]
    from server.auth.models import User

    db.session.get(User, users["inspector"].id).inspector_id = own[0].inspector_id
    db.session.commit()
    tasks = client.get("/api/v1/tasks", headers=auth.headers("inspector")).get_json()["items"]
    assert tasks[0]["warning"]["reasons"][0]["code"] == "tests_failed_3y_food"
    assert tasks[0]["warning"]["legal_basis"] == [{"law": "食品安全法", "article": 34}]
    task.created_at = dt.datetime(2026, 11, 17, tzinfo=dt.UTC)  # dispatched the day before the visit
    db.session.commit()
    signature = b"\x89PNG\r\n\x1a\n signature"
    sig_sum = hashlib.sha256(signature).hexdigest()
    sub = {
        "instance_id": str(uuid.uuid4()), "task_id": task.id, "form_code": "catering", "form_version": "1",
        "answers": {"licence_valid": "non_compliant", "licence_problem": "许可证已过期", "signature": sig_sum},
        "attachments": [{"item_id": "signature", "kind": "signature", "checksum": sig_sum}],
        "completed_at": "2026-11-18T10:00:00+08:00",
    }
    r = client.post("/api/v1/submissions", json=sub, headers=auth.headers("inspector"))
    assert r.status_code == 201, r.get_json()
    # the result (and the warning's feedback) counts once its signature is there
    r = client.post(f"/api/v1/submissions/{r.get_json()['id']}/attachments", headers=auth.headers("inspector"),
                    data={"file": (io.BytesIO(signature), "sig.png"), "checksum": sig_sum},
                    content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    db.session.expire_all()
    warning = db.session.get(Warning, w)
    assert warning.state == "closed" and warning.outcome == "problem_confirmed"
    assert warning.handled_on == dt.date(2026, 11, 18)
    path = [(t.from_state, t.to_state) for t in warning.transitions]
    assert path == [("issued", "dispatched"), ("dispatched", "accepted"), ("accepted", "in_handling"),
                    ("in_handling", "handled"), ("handled", "closed")]
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"warning.dispatched", "warning.accepted", "warning.in_handling", "warning.handled",
            "warning.closed"} <= actions


ILLEGAL = [
    ("issued", "accepted"), ("issued", "in_handling"), ("issued", "handled"), ("issued", "closed"),
    ("dispatched", "issued"), ("dispatched", "handled"), ("accepted", "closed"),
]


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(setup, client, auth, start, target):
    setup.state = start
    setup.department_code = "330100-FOOD"
    db.session.commit()
    before = db.session.scalar(select(func.count()).select_from(WarningTransition))
    r = client.post(f"/api/v1/warnings/{setup.id}/transitions", json={"to": target, "outcome": "no_problem"},
                    headers=auth.headers("supervisor"))
    assert r.status_code == 409
    assert r.get_json()["error"] == "illegal_transition"
    assert f"{start} → {target}" in r.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Warning, setup.id).state == start
    assert db.session.scalar(select(func.count()).select_from(WarningTransition)) == before


def test_desk_check_closes_with_outcome(setup, client, auth):
    sup = auth.headers("supervisor")
    for body in ({"to": "dispatched"}, {"to": "accepted"}, {"to": "in_handling", "handling": "desk_check"}):
        assert client.post(f"/api/v1/warnings/{setup.id}/transitions", json=body, headers=sup).status_code == 200
    missing = client.post(f"/api/v1/warnings/{setup.id}/transitions", json={"to": "handled"}, headers=sup)
    assert missing.status_code == 422
    done = client.post(f"/api/v1/warnings/{setup.id}/transitions",
                       json={"to": "handled", "outcome": "unreachable", "note": "人去楼空"}, headers=sup)
    assert done.status_code == 200
    assert done.get_json()["state"] == "closed" and done.get_json()["outcome"] == "unreachable"


def test_dismiss_needs_a_reason(setup, client, auth):
    sup = auth.headers("supervisor")
    r = client.post(f"/api/v1/warnings/{setup.id}/transitions", json={"to": "dismissed"}, headers=sup)
    assert r.status_code == 422
    r = client.post(f"/api/v1/warnings/{setup.id}/transitions", json={"to": "dismissed", "note": "数据错误"},
                    headers=sup)
    assert r.status_code == 200 and r.get_json()["state"] == "dismissed"


@pytest.mark.parametrize("username", ["inspector", "analyst"])
def test_transition_needs_supervisor_role(setup, client, auth, username):
    r = client.post(f"/api/v1/warnings/{setup.id}/transitions", json={"to": "dispatched"},
                    headers=auth.headers(username))
    assert r.status_code == 403
    db.session.expire_all()
    assert db.session.get(Warning, setup.id).state == "issued"


def test_supervisor_of_another_department_is_refused(setup, client, auth):
    setup.state, setup.department_code = "dispatched", "330100-PRICE"
    db.session.commit()
    r = client.post(f"/api/v1/warnings/{setup.id}/transitions", json={"to": "accepted"},
                    headers=auth.headers("supervisor"))
    assert r.status_code == 403
    assert "another department" in r.get_json()["message"]


def test_overdue_flag_uses_working_days_and_is_audited(setup):
    assert setup.due_on == dt.date(2026, 11, 19)
    assert services.mark_overdue(db.session, today=dt.date(2026, 11, 19)) == 0
    assert services.mark_overdue(db.session, today=dt.date(2026, 11, 20)) == 1
    w = db.session.get(Warning, setup.id)
    assert w.overdue and w.escalated and w.state == "issued"
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "warning.overdue")) == 1
    assert services.mark_overdue(db.session, today=dt.date(2026, 11, 21)) == 0


def test_bulk_dispatch_routes_by_domain_and_region(setup, client, auth):
    r = client.post("/api/v1/warnings/dispatch", json={"ids": [setup.id, 99999]}, headers=auth.headers("supervisor"))
    assert r.status_code == 404  # unknown id: refused as a whole
    r = client.post("/api/v1/warnings/dispatch", json={"ids": [setup.id]}, headers=auth.headers("supervisor"))
    assert r.get_json()["dispatched"] == [setup.id]
    db.session.expire_all()
    assert db.session.get(Warning, setup.id).department_code == "330100-FOOD"


def test_board_filters_and_inspector_visibility(setup, client, auth):
    board = client.get("/api/v1/warnings?level=red&model=food_safety", headers=auth.headers("supervisor"))
    assert board.get_json()["total"] == 1
    assert client.get("/api/v1/warnings?level=yellow", headers=auth.headers("supervisor")).get_json()["total"] == 0
    mine = client.get("/api/v1/warnings", headers=auth.headers("inspector")).get_json()
    assert mine["total"] == 0  # not on any of the inspector's tasks
    assert client.get(f"/api/v1/warnings/{setup.id}", headers=auth.headers("inspector")).status_code == 404


def test_loop_figures_match_the_seed_table_definitions(setup):
    from server.entities.models import Entity
    from server.inspections.models import InspectionResult

    es = [entity() for _ in range(3)]
    issue(es, level="orange")
    ws = db.session.scalars(select(Warning).order_by(Warning.id)).all()
    for w, outcome in zip(ws, ["problem_confirmed", "no_problem", "problem_confirmed"], strict=False):
        w.state, w.outcome = "closed", outcome
    from factories import task

    ins = inspector("随机检查员")
    for k in range(4):
        t = task([ins], the_entity=es[0])
        db.session.add(InspectionResult(task_id=t.id, entity_id=es[0].id, channel="random", inspected_on=MONDAY,
                                        problem_found=k == 0, problem_domains=[], checked_domains=[],
                                        failed_items=[]))
    db.session.commit()
    f = services.loop_figures(db.session)
    assert (f.issued, f.handled, f.entities, f.problem_entities) == (4, 3, 3, 2)
    assert f.handling_rate == pytest.approx(0.75)
    assert f.hit_rate == pytest.approx(2 / 3)
    assert (f.random_inspections, f.random_problems) == (4, 1)
    assert f.lift == pytest.approx((2 / 3) / 0.25)
    assert db.session.get(Entity, es[0].id) is not None
