"""The warning board as its users meet it (issue 19 §6).

- the department that dispatched a warning to another department keeps a read-only
  view of it (state, handler, SLA) instead of a 404;
- only the transitions allowed for the warning, its handling path and the user's role
  are offered (one service function answers for the console and the API);
- outcome codes never reach a reader raw: Chinese labels on pages, in exports, in the API.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import numpy as np
import pytest
from factories import department, entity, form, inspector
from sqlalchemy import select
from test_console_seed import login

from server.extensions import db
from server.warnings import services
from server.warnings.models import Warning
from server.workdays import WorkCalendar

SLA = {"red": 3, "orange": 7, "yellow": 15}
TODAY = dt.date.today()


def _issue(model: str, *, region: str = "330106", level: str = "orange") -> Warning:
    e = entity(region_code=region)
    services.issue_warnings(db.session, services.IssueBatch(
        model=model, model_version="1", entity_ids=np.array([e.id]), scores=np.array([0.7]), levels=[level],
        reasons=[[{"code": "x", "label": "近90天价格投诉", "value": 3, "contribution": 1.0}]],
        legal_basis=[[{"law": "价格法", "article": 14}]],
    ), today=TODAY, calendar=WorkCalendar(), sla=SLA)
    db.session.commit()
    return db.session.scalars(select(Warning).where(Warning.entity_id == e.id)).one()


@pytest.fixture
def board(users):
    """The food division (the test supervisor's) and the price division of Hangzhou."""
    department("330100-FOOD", domains=["food_safety"])
    department("330100-PRICE", kind="PRICE", domains=["price_violation"])
    for name in ("甲", "乙", "丙"):
        inspector(f"检查员{name}", "330100-FOOD", ["food_safety"])
    form()
    db.session.commit()
    return {"price": _issue("price_violation"), "food": _issue("food_safety")}


def _post(client, headers, wid, **body):
    return client.post(f"/api/v1/warnings/{wid}/transitions", json=body, headers=headers)


def _text(html: str) -> str:
    """What a person reads on the page (tags and attribute values removed)."""
    return re.sub(r"<[^>]+>", " ", html)


# --------------------------------------------------------------- dispatcher's view
def test_dispatcher_keeps_a_read_only_view_with_state_handler_and_sla(client, auth, board):
    sup = auth.headers("supervisor")
    wid = board["price"].id
    assert _post(client, sup, wid, to="dispatched").status_code == 200
    r = client.get(f"/api/v1/warnings/{wid}", headers=sup)
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    assert doc["state"] == "dispatched" and doc["state_label"] == "已派发"
    assert doc["department_code"] == "330100-PRICE" and doc["department_name"] == "测试科室 330100-PRICE"
    assert doc["dispatched_from"] == "330100-FOOD" and doc["handed_over"] is True
    assert doc["sla"]["due_on"] == board["price"].due_on.isoformat()
    assert doc["sla"]["overdue"] is False and doc["sla"]["working_days_left"] > 0
    assert doc["allowed"] == []
    # in the board: only under 已移交, not among the department's own
    handed = client.get("/api/v1/warnings?handed_over=true", headers=sup).get_json()
    assert [w["id"] for w in handed["items"]] == [wid]
    own = client.get("/api/v1/warnings?handed_over=false", headers=sup).get_json()
    assert wid not in [w["id"] for w in own["items"]]
    # read-only: the handler's moves are refused with the reason, nothing changes
    refused = _post(client, sup, wid, to="accepted")
    assert refused.status_code == 403
    assert "只能查看" in refused.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Warning, wid).state == "dispatched"


def test_dispatcher_sees_the_handlers_progress_and_overdue(client, auth, board):
    sup = auth.headers("supervisor")
    w = board["price"]
    client.post("/api/v1/warnings/dispatch", json={"ids": [w.id]}, headers=sup)
    db.session.expire_all()
    w = db.session.get(Warning, w.id)
    assert w.dispatched_from == "330100-FOOD"
    w.state, w.due_on = "accepted", TODAY - dt.timedelta(days=3)  # the price division accepted, then sat on it
    db.session.commit()
    doc = client.get(f"/api/v1/warnings/{w.id}", headers=sup).get_json()
    assert doc["state_label"] == "已签收"
    assert doc["sla"]["overdue"] is True and doc["sla"]["working_days_left"] <= 0


def test_other_departments_still_cannot_see_it(client, auth, board, users):
    from server.auth.services import create_user

    create_user(db.session, username="ningbo", password="password123", roles=["supervisor"],
                department_code="330200-FOOD")
    db.session.commit()
    wid = board["price"].id
    _post(client, auth.headers("supervisor"), wid, to="dispatched")
    assert client.get(f"/api/v1/warnings/{wid}", headers=auth.headers("ningbo")).status_code == 404


def test_console_handed_over_tab_and_read_only_detail(client, board):
    login(client, "supervisor")
    wid = board["price"].id
    client.post("/warnings/dispatch", data={"ids": [str(wid)]})
    mine = client.get("/warnings").get_data(as_text=True)
    assert f'href="/warnings/{wid}"' not in mine
    handed = client.get("/warnings?tab=handed_over").get_data(as_text=True)
    assert "已移交" in handed and f'href="/warnings/{wid}"' in handed
    assert "测试科室 330100-PRICE" in handed and "批量派发所选预警" not in handed
    assert "handed_over=true" in handed  # the same list through the API
    rows = client.get("/export/warnings.json?tab=handed_over").get_json()["rows"]
    assert [(r["id"], r["state_label"], r["department_name"]) for r in rows] == [
        (wid, "已派发", "测试科室 330100-PRICE")]
    detail = client.get(f"/warnings/{wid}")
    assert detail.status_code == 200
    page = detail.get_data(as_text=True)
    assert "只能查看" in page and 'id="transition-form"' not in page
    assert "测试科室 330100-PRICE" in page and "已派发" in page


# --------------------------------------------------------------- allowed transitions
def test_inspection_path_offers_no_handled_and_refuses_it(client, auth, board):
    sup = auth.headers("supervisor")
    wid = board["food"].id
    for body in ({"to": "dispatched"}, {"to": "accepted"}, {"to": "in_handling", "handling": "inspection"}):
        assert _post(client, sup, wid, **body).status_code == 200
    doc = client.get(f"/api/v1/warnings/{wid}", headers=sup).get_json()
    assert doc["handling"] == "inspection" and doc["handling_label"] == "现场检查"
    assert doc["allowed"] == []
    r = _post(client, sup, wid, to="handled", outcome="no_problem")
    assert r.status_code == 409
    assert "由检查结果自动办结" in r.get_json()["message"]
    login(client, "supervisor")
    page = client.get(f"/warnings/{wid}").get_data(as_text=True)
    assert 'value="handled"' not in page and 'id="transition-form"' not in page
    assert "检查结果提交后" in page


def test_desk_check_path_offers_handled(client, auth, board):
    sup = auth.headers("supervisor")
    wid = board["food"].id
    for body in ({"to": "dispatched"}, {"to": "accepted"}, {"to": "in_handling", "handling": "desk_check"}):
        _post(client, sup, wid, **body)
    doc = client.get(f"/api/v1/warnings/{wid}", headers=sup).get_json()
    assert doc["allowed"] == ["handled"] and doc["allowed_labels"] == ["已处置"]


def test_allowed_follows_role_and_no_manual_merge(client, auth, board):
    wid = board["food"].id
    sup = client.get(f"/api/v1/warnings/{wid}", headers=auth.headers("supervisor")).get_json()
    assert sup["allowed"] == ["dispatched", "dismissed"]
    analyst = client.get(f"/api/v1/warnings/{wid}", headers=auth.headers("analyst")).get_json()
    assert analyst["allowed"] == []
    r = _post(client, auth.headers("supervisor"), wid, to="merged")
    assert r.status_code == 409 and "自动合并" in r.get_json()["message"]
    db.session.expire_all()
    assert db.session.get(Warning, wid).state == "issued"


def test_allowed_is_exactly_what_the_endpoint_accepts(board, users):
    """For every state × path × role the service's list and its refusal agree."""
    w = board["food"]
    who = {"supervisor": users["supervisor"], "analyst": users["analyst"], "admin": users["admin"]}
    for state in services.STATES:
        for handling in (None, "inspection", "desk_check"):
            w.state, w.handling = state, handling
            w.department_code = None if state == "issued" else "330100-FOOD"
            for user in who.values():
                allowed = services.allowed_transitions(db.session, w, user)
                for target in services.STATES:
                    err = services.refusal(db.session, w, target, user)
                    assert (err is None) == (target in allowed), (state, handling, user.username, target)
                if handling == "inspection":
                    assert "handled" not in allowed
                assert "merged" not in allowed
    db.session.rollback()


# --------------------------------------------------------------- labels, not codes
OUTCOME_CODES = tuple(services.OUTCOMES)


def _close(w: Warning, outcome: str) -> None:
    w.state, w.outcome, w.handling, w.handled_on = "closed", outcome, "desk_check", TODAY
    w.department_code = "330100-FOOD"
    db.session.commit()


def test_outcome_labels_in_api(client, auth, board):
    _close(board["food"], "unreachable")
    doc = client.get(f"/api/v1/warnings/{board['food'].id}", headers=auth.headers("supervisor")).get_json()
    assert doc["outcome"] == "unreachable" and doc["outcome_label"] == "主体无法联系或已关闭"
    assert doc["handling_label"] == "书面核查"
    assert all(t["to_label"] for t in doc["transitions"])


def test_no_raw_outcome_code_in_pages_or_messages(client, auth, board):
    _close(board["food"], "problem_confirmed")
    login(client, "supervisor")
    for url in ("/warnings", "/warnings?state=closed", f"/warnings/{board['food'].id}"):
        text = _text(client.get(url).get_data(as_text=True))
        assert not [c for c in OUTCOME_CODES if c in text], url
    assert "核实存在问题" in _text(client.get("/warnings?state=closed").get_data(as_text=True))
    # a desk check handled without an outcome: the message names the choices in Chinese
    wid = board["price"].id
    w = db.session.get(Warning, wid)
    w.state, w.handling, w.department_code = "in_handling", "desk_check", "330100-FOOD"
    db.session.commit()
    page = client.post(f"/warnings/{wid}", data={"to": "handled"}, follow_redirects=True).get_data(as_text=True)
    text = _text(page)
    assert "核实存在问题" in text and "主体无法联系或已关闭" in text
    api = _post(client, auth.headers("supervisor"), wid, to="handled", outcome="maybe")
    assert api.status_code == 422 and "核实存在问题" in str(api.get_json())


def test_export_carries_labels_next_to_codes(client, board):
    _close(board["food"], "no_problem")
    login(client, "supervisor")
    body = client.get("/export/warnings.csv?state=closed").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1
    assert rows[0]["outcome_label"] == "未发现问题" and rows[0]["state_label"] == "已办结"
    assert rows[0]["handling_label"] == "书面核查" and rows[0]["department_name"] == "测试科室 330100-FOOD"
