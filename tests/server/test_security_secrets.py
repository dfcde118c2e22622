"""Secrets and sessions (issue 27, finding 2): production refuses a missing or weak key
and says how to make one; a development instance keeps its own key (0600); sessions carry
a per-user version, not password-hash material, rotated on password change, disabling
and "log out everywhere"."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from server import create_app
from server.auth.services import change_password, logout_everywhere
from server.config import MAKE_KEY, ConfigError
from server.extensions import db


def forged_cookie(secret: str, payload: dict) -> str:
    forger = Flask("forger", root_path="/tmp")
    forger.secret_key = secret
    signer = SecureCookieSessionInterface().get_signing_serializer(forger)
    return signer.dumps(payload)


@pytest.mark.parametrize("key", [None, "dev-only-change-me", "short-key", "a" * 64])
def test_production_refuses_a_missing_or_weak_key(tmp_path, monkeypatch, key):
    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("SHUANGSUI_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError) as err:
        create_app({"ENV_NAME": "production", "SECRET_KEY": key, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert MAKE_KEY in str(err.value)


def test_production_starts_with_a_strong_key(tmp_path, monkeypatch):
    import secrets

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    key = secrets.token_urlsafe(48)
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": key, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    assert app.config["SECRET_KEY"] == key


def test_serve_refuses_to_start_without_a_key_and_says_how(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from server.cli import main

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("SHUANGSUI_SECRET_KEY", raising=False)
    monkeypatch.setenv("SHUANGSUI_ENV", "development")  # serve sets production itself
    result = CliRunner().invoke(main, ["serve", "--port", "1"])
    assert result.exit_code == 2
    assert "secrets.token_urlsafe(48)" in result.output
    assert os.environ["SHUANGSUI_ENV"] == "production"


def test_a_development_instance_keeps_its_own_key(tmp_path, monkeypatch):
    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("SHUANGSUI_SECRET_KEY", raising=False)
    first = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    again = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"]
    assert first == again and len(first) >= 43 and first != "dev-only-change-me"
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "other"))
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["SECRET_KEY"] != first


def test_a_cookie_forged_with_the_old_default_key_is_refused(tmp_path, monkeypatch):
    """The issue's forgery: a session cookie signed with ``dev-only-change-me``."""
    from server.db import Base

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.delenv("SHUANGSUI_SECRET_KEY", raising=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        from factories import make_users

        admin = make_users()["admin"]
        cookie = forged_cookie("dev-only-change-me", {"user_id": admin.id, "pw": admin.password_hash[-16:],
                                                      "sv": admin.session_version})
        client = app.test_client()
        client.set_cookie("session", cookie)
        response = client.get("/inspectors")
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_sessions_carry_no_password_hash_material(app, client, users):
    response = client.post("/login", data={"username": "analyst", "password": "password123"})
    assert response.status_code == 302
    with client.session_transaction() as session:
        values = {str(v) for v in session.values()}
    digest = users["analyst"].password_hash
    assert not any(v and v in digest for v in values if len(v) >= 6)
    assert "pw" not in values and not any(hashlib.sha256(digest.encode()).hexdigest()[:8] in v for v in values)
    assert client.get("/analytics").status_code == 200


def test_a_session_from_before_a_password_change_is_refused(app, client, users):
    assert client.post("/login", data={"username": "analyst", "password": "password123"}).status_code == 302
    assert client.get("/analytics").status_code == 200
    change_password(db.session, users["analyst"], "a-new-password-7", actor="analyst")
    assert client.get("/analytics").status_code == 302


def test_log_out_everywhere_ends_sessions_and_tokens(app, client, users, auth):
    headers = auth.headers("analyst")
    assert client.post("/login", data={"username": "analyst", "password": "password123"}).status_code == 302
    assert client.get("/analytics").status_code == 200
    other = app.test_client()
    assert other.post("/api/v1/auth/logout-all", headers=headers).status_code == 204
    assert other.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/analytics").status_code == 302
    logout_everywhere(db.session, users["admin"], actor="cli")  # the service alone, too
