"""Fixtures for the handheld's tests: a device store, a live server in a thread."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def device_dir(tmp_path: Path) -> Path:
    return tmp_path / "device"


@pytest.fixture
def live_server(app: Any) -> Iterator[str]:
    """The test app served over real HTTP on a free port (one request at a time)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
