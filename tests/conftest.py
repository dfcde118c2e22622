"""Shared fixtures: the app on SQLite and on PostgreSQL, clients, users, auth helpers.

Every test that takes ``app`` (or a fixture built on it) runs once per database:
SQLite in memory, and PostgreSQL at ``SHUANGSUI_TEST_PG_URL`` (default
``postgresql+psycopg://root@127.0.0.1:5432/test``). PostgreSQL tests are skipped when it
is unreachable, except under ``CI=true`` where that is a failure. On PostgreSQL each
xdist worker has its own schema and every table is truncated after each test.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
PG_URL = os.environ.get("SHUANGSUI_TEST_PG_URL", "postgresql+psycopg://root@127.0.0.1:5432/test")

_pg_state: dict[str, Any] = {}


def _pg_available() -> bool:
    if "ok" not in _pg_state:
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["ok"] = True
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _pg_state["ok"] = False
            _pg_state["why"] = str(exc).splitlines()[0]
    return bool(_pg_state["ok"])


def _worker_schema(worker_id: str) -> str:
    """One schema per test run and worker: runs of other checkouts on the same server never collide."""
    run = (os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"p{os.getpid()}")[:10]
    return f"t_{run}_{worker_id}".replace("-", "_").lower()


def _drop_schema(schema: str) -> None:
    try:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
    except Exception:  # noqa: BLE001 - best effort at exit
        pass


def pg_url_for_worker(worker_id: str) -> tuple[str, dict[str, Any]]:
    schema = _worker_schema(worker_id)
    if schema not in _pg_state:
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
        _pg_state[schema] = True
        atexit.register(_drop_schema, schema)
    return PG_URL, {"connect_args": {"options": f"-csearch_path={schema}"}, "pool_pre_ping": True}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "postgresql" and not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL unreachable in CI: {_pg_state.get('why')}")
        pytest.skip(f"PostgreSQL unreachable: {_pg_state.get('why')}")
    return kind


def make_config(db_kind: str, worker_id: str, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    from server.config import TestConfig

    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    if db_kind == "postgresql":
        url, opts = pg_url_for_worker(worker_id)
        cfg["SQLALCHEMY_DATABASE_URI"] = url
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = opts
    else:
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    cfg["ATTACHMENT_DIR"] = str(tmp_path / "attachments")
    cfg["MODEL_DIR"] = str(tmp_path / "models")
    cfg.update(extra)
    return cfg


def _truncate_all(db: Any) -> None:
    from server.db import Base

    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    db.session.remove()
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(db_kind: str, worker_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    from server import create_app
    from server.db import Base
    from server.extensions import db

    flask_app = create_app(make_config(db_kind, worker_id, tmp_path))
    with flask_app.app_context():
        Base.metadata.create_all(db.engine)
        try:
            yield flask_app
        finally:
            if db_kind == "postgresql":
                _truncate_all(db)
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def reference_data() -> Any:
    """The shipped reference files, parsed once per test session."""
    from server.reference.files import load_reference

    return load_reference(ROOT / "data")


@pytest.fixture
def reference(app: Any, reference_data: Any) -> Any:
    """The app with reference data loaded into its database."""
    from server.extensions import db
    from server.reference.services import load_parsed_reference

    load_parsed_reference(db.session, reference_data)
    return reference_data


class AuthActions:
    """Log users in through the API and build bearer headers (after flaskr's AuthActions)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def token(self, username: str, password: str = "password123") -> str:
        response = self._client.post("/api/v1/auth/token", json={"username": username, "password": password})
        assert response.status_code == 200, response.get_json()
        return str(response.get_json()["token"])

    def headers(self, username: str, password: str = "password123") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username, password)}"}


@pytest.fixture
def auth(client: Any) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def users(app: Any) -> dict[str, Any]:
    """One user per role (password ``password123``); the inspector has an Inspector row."""
    from factories import make_users

    return make_users()
