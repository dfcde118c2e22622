"""Fixtures for the reliability tests: live servers (in a thread or a killable process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture
def live_server(app: Any, db_kind: str) -> Iterator[Any]:
    """The test app over real HTTP in a thread; threaded on PostgreSQL (in-memory SQLite
    is one shared connection, so it serves one request at a time)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=db_kind == "postgresql")
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def root_conftest(request: pytest.FixtureRequest) -> Any:
    """``tests/conftest.py`` as loaded by pytest (``import conftest`` is ambiguous here)."""
    return request.config.pluginmanager.get_plugin(str(HERE.parent / "conftest.py"))


@pytest.fixture
def file_app(
    db_kind: str,
    worker_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    root_conftest: Any,
) -> Iterator[Any]:
    """Like ``app`` but SQLite lives in a file, so another process can open the same database."""
    make_config = root_conftest.make_config

    from server import create_app
    from server.db import Base
    from server.extensions import db

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    extra = (
        {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'shuangsui.db'}"}
        if db_kind == "sqlite"
        else {}
    )
    flask_app = create_app(make_config(db_kind, worker_id, tmp_path, **extra))
    flask_app.config["REL_CONFIG"] = make_config(db_kind, worker_id, tmp_path, **extra)
    with flask_app.app_context():
        Base.metadata.create_all(db.engine)
        try:
            yield flask_app
        finally:
            if db_kind == "postgresql":
                root_conftest._truncate_all(db)
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def file_users(file_app: Any) -> dict[str, Any]:
    """``users`` for ``file_app`` (the ``users`` fixture would bring up the ``app`` fixture)."""
    from factories import make_users

    return make_users()


class ServerProcess:
    """The app in a child process that can be killed with SIGKILL and started again."""

    def __init__(self, config: dict[str, Any], instance: Path) -> None:
        self.env = {
            **os.environ,
            "SHUANGSUI_REL_CONFIG": json.dumps(config, default=str),
            "SHUANGSUI_INSTANCE": str(instance),
        }
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.starts = 0

    def start(self) -> int:
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "serve_app.py")],
            env=self.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("PORT "), f"server did not start: {line!r}"
        self.port = int(line.split()[1])
        self.starts += 1
        return self.port

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()  # SIGKILL: no cleanup, requests in flight are cut
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.fixture
def server_process(file_app: Any, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(file_app.config["REL_CONFIG"], tmp_path / "instance")
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def handheld_dir(tmp_path: Path) -> Iterator[Path]:
    """Where a simulated handheld keeps its store: tmpfs when there is one (the store
    fsyncs every transaction; durability is not what these tests measure)."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else tmp_path) as where:
        yield Path(where)
