"""Fixtures for the handheld's tests: a device store, a live server in a thread."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

ROOT = Path(__file__).resolve().parents[2]
PNG = (b"\x89PNG\r\n\x1a\n" + b"\x00" * 24)  # bytes are all the server checks


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


def fill_valid(handheld: Any, task_id: int, *, problem: bool = False) -> dict[str, Any]:
    """Answer every relevant item of a task's form validly, the way an inspector would."""
    from mobile.core import formengine

    _, _, items = handheld.form_for_task(task_id)
    handheld.open_draft(task_id)
    for _ in range(3):  # answers open new relevant items; pass again until stable
        draft = handheld.store.draft(task_id)
        for item in formengine.relevant_items(items, draft.answers):
            if item["id"] in draft.answers:
                continue
            kind = item["type"]
            cons = item.get("constraint") or {}
            if kind in ("photo", "signature"):
                data = PNG + hashlib.sha256(item["id"].encode()).digest()
                handheld.attach(task_id, item["id"], kind, data, f"{item['id']}.png")
                continue
            if kind == "yes_no":
                value: Any = "no" if problem and item.get("problem_if") == "no" else "yes"
            elif kind == "choice":
                value = item["choices"][0]["value"]
            elif kind == "multi_choice":
                value = [item["choices"][0]["value"]]
            elif kind == "number":
                value = str(cons.get("min", 1))
            elif kind == "text":
                value = "现场检查发现的具体情况说明"[: max(cons.get("min_length", 4), 4)]
            elif kind == "location":
                value = {"lat": 30.27, "lon": 120.15, "accuracy": 10.0}
            else:
                raise AssertionError(kind)
            assert handheld.answer(task_id, item["id"], value) is None, item
        draft = handheld.store.draft(task_id)
    return draft.answers
