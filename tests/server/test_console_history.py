from __future__ import annotations

import io

import numpy as np
import pytest


def _login(client, username):
    client.get("/login")
    with client.session_transaction() as s:
        token = s.get("csrf_token")
    return client.post("/login", data={"username": username, "password": "password123", "csrf_token": token})


def _csv(n_entities=60, visits=8, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["entity_id,inspected_on,violation,kind"]
    risk = rng.random(n_entities)
    for e in range(n_entities):
        for v in range(visits):
            day = f"2024-{1 + v:02d}-{1 + e % 27:02d}"
            lines.append(f"E{e},{day},{int(rng.random() < 0.1 + 0.6 * risk[e])},{'a' if e % 2 else 'b'}")
    return "\n".join(lines) + "\n"


def _post(client, data):
    with client.session_transaction() as s:
        data["csrf_token"] = s.get("csrf_token")
    return client.post("/analytics/history", data=data, content_type="multipart/form-data")


def test_analyst_runs_the_backtest_on_an_upload(client, users, db_kind):
    if db_kind != "sqlite":
        pytest.skip("the page reads no table: once is enough")
    _login(client, "analyst")
    page = client.get("/analytics/history")
    assert page.status_code == 200 and "历史检查数据回测" in page.get_data(as_text=True)
    r = _post(client, {"file": (io.BytesIO(_csv().encode()), "history.csv"), "entity_col": "entity_id",
                       "date_col": "inspected_on", "outcome_col": "violation", "top": "0.1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html[:500]
    assert "回测结果" in html and "data:image/png;base64," in html and "AUC" in html


def test_bad_upload_names_the_problem(client, users, db_kind):
    if db_kind != "sqlite":
        pytest.skip("the page reads no table: once is enough")
    _login(client, "analyst")
    r = _post(client, {"file": (io.BytesIO(_csv().encode()), "history.csv"), "outcome_col": "nope", "top": "0.1"})
    assert r.status_code == 422 and "nope" in r.get_data(as_text=True)
    _login(client, "inspector")
    assert client.get("/analytics/history").status_code in (302, 403)
