from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from test_console_seed import login, seed_console

from server.extensions import db
from server.warnings.models import Warning


@pytest.fixture
def seeded(app, users, reference):
    return seed_console()


def test_board_lists_and_filters_warnings(client, seeded):
    login(client, "supervisor")
    html = client.get("/warnings").get_data(as_text=True)
    assert "风险预警看板" in html
    assert "批量派发所选预警" in html
    assert 'name="ids"' in html
    red = client.get("/warnings?level=red&state=issued").get_data(as_text=True)
    n_red = (
        db.session.query(Warning).filter(Warning.level == "red", Warning.state == "issued").count()
    )
    assert f"预警 {n_red} 条" in red
    overdue = client.get("/warnings?overdue=1").get_data(as_text=True)
    assert "预警 1 条" in overdue
    by_model = client.get("/warnings?model=price_violation").get_data(as_text=True)
    assert "预警 6 条" in by_model


def test_supervisor_bulk_dispatches(client, seeded):
    login(client, "supervisor")
    ids = seeded["open_warning_ids"][:3]
    response = client.post(
        "/warnings/dispatch", data={"ids": [str(i) for i in ids]}, follow_redirects=True
    )
    assert response.status_code == 200
    assert "已派发 3 条预警" in response.get_data(as_text=True)
    states = db.session.scalars(select(Warning.state).where(Warning.id.in_(ids))).all()
    assert set(states) == {"dispatched"}


def test_analyst_reads_the_board_but_cannot_dispatch(client, seeded):
    login(client, "analyst")
    html = client.get("/warnings").get_data(as_text=True)
    assert "批量派发所选预警" not in html
    ids = seeded["open_warning_ids"][:1]
    assert client.post("/warnings/dispatch", data={"ids": [str(i) for i in ids]}).status_code == 403
    assert db.session.get(Warning, ids[0]).state == "issued"
    assert client.post(f"/warnings/{ids[0]}", data={"to": "dispatched"}).status_code == 403


def test_warning_detail_and_transition(client, seeded):
    login(client, "supervisor")
    wid = seeded["open_warning_ids"][0]
    assert "处置跟踪" in client.get(f"/warnings/{wid}").get_data(as_text=True)
    client.post(f"/warnings/{wid}", data={"to": "dispatched"})
    page = client.post(
        f"/warnings/{wid}", data={"to": "dismissed"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "理由" in page  # dismissing needs a reason: refused with the service's message
    assert db.session.get(Warning, wid).state == "dispatched"


def test_inspectors_page_and_export(client, seeded):
    login(client, "supervisor")
    html = client.get("/inspectors").get_data(as_text=True)
    assert "执法检查人员与工作量" in html
    assert "检查员0" in html
    assert "data-workload" in html
    rows = list(
        csv.DictReader(
            io.StringIO(
                client.get("/export/inspectors.csv").get_data(as_text=True).lstrip("\ufeff")
            )
        )
    )
    assert {"检查员0", "王执法"} <= {r["name"] for r in rows}


def test_warnings_export_follows_filters(client, seeded):
    login(client, "analyst")
    doc = client.get("/export/warnings.json?model=price_violation").get_json()
    assert len(doc["rows"]) == 6
    assert {r["model"] for r in doc["rows"]} == {"price_violation"}


def test_entity_profile_page(client, seeded):
    login(client, "analyst")
    html = client.get(f"/entities/{seeded['entity_uscc']}").get_data(as_text=True)
    assert seeded["entity_uscc"] in html
    assert "检查记录" in html
    assert "未办结预警" in html
    assert client.get("/entities/000000000000000000").status_code == 404
