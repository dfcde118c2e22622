from __future__ import annotations

import datetime as dt

import pytest

from server.auth.models import ApiToken
from server.extensions import db


def test_token_opens_the_api_for_its_role(client, users, auth):
    headers = auth.headers("inspector")
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200
    body = me.get_json()
    assert body["username"] == "inspector"
    assert body["roles"] == ["inspector"]
    assert body["inspector_id"] == users["inspector"].inspector_id
    assert body["unread_tasks"] == 0


def test_wrong_password_is_401_and_missing_field_is_422(client, users):
    bad = client.post("/api/v1/auth/token", json={"username": "inspector", "password": "nope"})
    assert bad.status_code == 401
    assert bad.get_json()["error"] == "unauthorized"
    missing = client.post("/api/v1/auth/token", json={"username": "inspector"})
    assert missing.status_code == 422
    assert "password" in missing.get_json()["items"]


def test_login_throttled_after_repeated_failures(client, users, app):
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert client.post("/api/v1/auth/token", json={"username": "analyst", "password": "x"}).status_code == 401
    blocked = client.post("/api/v1/auth/token", json={"username": "analyst", "password": "password123"})
    assert blocked.status_code == 429
    assert "too many" in blocked.get_json()["message"]


def test_no_token_and_garbage_token_are_401(client, users):
    assert client.get("/api/v1/me").status_code == 401
    garbage = client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"})
    assert garbage.status_code == 401
    assert "invalid" in garbage.get_json()["message"]


def test_expired_token_is_refused(client, users, auth):
    headers = auth.headers("analyst")
    for row in db.session.scalars(db.select(ApiToken)):
        row.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_revoked_token_is_refused(client, users, auth):
    headers = auth.headers("inspector")
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    assert client.get("/api/v1/me", headers=headers).status_code == 401


@pytest.mark.parametrize(
    ("username", "status"),
    [("inspector", 403), ("analyst", 403), ("supervisor", 422), ("admin", 422)],
)
def test_role_decides_who_may_register_entities(client, users, auth, username, status):
    response = client.post("/api/v1/entities", json={}, headers=auth.headers(username))
    assert response.status_code == status
    if status == 403:
        assert response.get_json()["error"] == "forbidden"
    assert db.session.scalar(db.select(db.func.count()).select_from(ApiToken)) >= 1


def test_create_user_with_an_unknown_role_is_refused_and_writes_nothing(app, runner):
    from sqlalchemy import func, select

    from server.auth.models import User
    from server.extensions import db

    out = runner.invoke(args=["create-user", "zhang", "--role", "boss", "--password", "secret123"])
    assert out.exit_code != 0 and "未知角色" in out.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
    ok = runner.invoke(args=["create-user", "zhang", "--role", "analyst", "--password", "secret123"])
    assert ok.exit_code == 0, ok.output
    assert db.session.scalar(select(User.roles).where(User.username == "zhang")) == "analyst"
