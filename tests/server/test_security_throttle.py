"""Login throttling (issue 27, finding 4): growing delays per address and per account,
never a hard lock of a real account by a stranger; admins see and clear throttles;
per-address limits on the public endpoints. State lives in the database (shared by every
server process)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.auth.models import LoginAttempt
from server.auth.throttle import delay_for
from server.extensions import db

RIGHT = {"username": "analyst", "password": "password123"}


def login(client, addr, username="analyst", password="password123"):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def test_a_stranger_cannot_lock_out_the_real_user(client, users, app):
    statuses = [login(client, "203.0.113.66", password=f"guess-{i}").status_code for i in range(20)]
    assert statuses[:app.config["LOGIN_MAX_FAILURES"]] == [401] * app.config["LOGIN_MAX_FAILURES"]
    assert set(statuses[app.config["LOGIN_MAX_FAILURES"]:]) == {429}  # the stranger waits …
    assert login(client, "203.0.113.66").status_code == 429  # … even with the right password
    # … but the analyst, at a desk that has not failed, logs in at once
    assert login(client, "10.1.2.3").status_code == 200


def test_many_usernames_from_one_address_are_throttled(client, users, app):
    free = app.config["LOGIN_ADDRESS_MAX_FAILURES"]
    statuses = [login(client, "198.51.100.9", username=f"user{i}", password="x" * 8).status_code
                for i in range(free + 3)]
    assert statuses[:free] == [401] * free
    assert statuses[free:] == [429] * 3
    refused = login(client, "198.51.100.9", username="someone-new", password="x" * 8)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in refused.get_json()["message"]
    # other addresses are not concerned
    assert login(client, "198.51.100.10").status_code == 200


def test_delays_grow_with_each_failure(client, users, app):
    assert [delay_for(n, 5, base=30, cap=900) for n in (4, 5, 6, 7, 8, 12)] == [0, 30, 60, 120, 240, 900]
    addr = "192.0.2.44"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login(client, addr, password="wrong-password").status_code == 401
    waits = []
    for _ in range(3):
        refused = login(client, addr, password="wrong-password")
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        # time passes: the delay is over, and the client fails once more
        for attempt in db.session.scalars(select(LoginAttempt)):
            attempt.at = attempt.at - dt.timedelta(seconds=waits[-1] + 1)
        db.session.commit()
        assert login(client, addr, password="wrong-password").status_code == 401
    assert waits[0] <= 30 < waits[1] <= 60 < waits[2] <= 120


def test_admin_lists_and_clears_throttles(client, users, auth, runner):
    for i in range(6):
        login(client, "203.0.113.7", password=f"guess-{i}")
    assert login(client, "203.0.113.7").status_code == 429
    assert client.get("/api/v1/admin/throttles", headers=auth.headers("supervisor")).status_code == 403
    listed = client.get("/api/v1/admin/throttles", headers=auth.headers("admin")).get_json()
    account = next(r for r in listed if r["kind"] == "account" and r["key"] == "analyst")
    assert account["failures"] >= 5 and account["throttled_until"]
    assert any(r["kind"] == "address" and r["key"] == "203.0.113.7" for r in listed)
    out = runner.invoke(args=["throttle", "list"]).output
    assert "analyst" in out and "203.0.113.7" in out
    cleared = client.delete("/api/v1/admin/throttles?username=analyst", headers=auth.headers("admin"))
    assert cleared.status_code == 200 and cleared.get_json()["cleared"] >= 5
    assert login(client, "203.0.113.7").status_code == 200
    login(client, "203.0.113.8", username="ghost", password="x" * 8)
    result = runner.invoke(args=["throttle", "clear", "--address", "203.0.113.8"])
    assert result.exit_code == 0 and "cleared 1" in result.output
    assert not db.session.scalars(select(LoginAttempt).where(LoginAttempt.remote_addr == "203.0.113.8")).all()


def test_public_endpoints_are_limited_per_address(client, app):
    app.config["PUBLIC_RATE_LIMIT"] = 3
    for _ in range(3):
        assert client.get("/api/v1/public/rounds", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 200
    refused = client.get("/api/v1/public/rounds", environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= app.config["PUBLIC_RATE_WINDOW"]
    assert "请求过于频繁" in refused.get_json()["message"]
    assert client.get("/public", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 429
    assert client.get("/api/v1/public/rounds", environ_base={"REMOTE_ADDR": "203.0.113.6"}).status_code == 200
