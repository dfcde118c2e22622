"""A live console for browser tests: the app on a SQLite file, seeded, served by werkzeug
in a thread; Playwright drives Debian's Chromium (skipped when it is missing)."""

from __future__ import annotations

import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "server"))  # test_console_seed (shared with the server tests)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from factories import make_users
    from test_console_seed import seed_console
    from werkzeug.serving import make_server

    from server import create_app
    from server.db import Base
    from server.extensions import db
    from server.reference.files import load_reference
    from server.reference.services import load_parsed_reference

    tmp = tmp_path_factory.mktemp("live")
    from server.config import TestConfig

    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    cfg.update(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp / 'live.db'}",
        POOL_DIR=str(tmp / "pools"),
        ATTACHMENT_DIR=str(tmp / "attachments"),
        MODEL_DIR=str(tmp / "models"),
        SQLALCHEMY_ENGINE_OPTIONS={"connect_args": {"timeout": 30, "check_same_thread": False}},
    )
    cfg["WTF_CSRF_ENABLED"] = True  # the browser posts real forms with their tokens
    app = create_app(cfg)
    with app.app_context():
        Base.metadata.create_all(db.engine)
        load_parsed_reference(db.session, load_reference(HERE.parent.parent / "data"))
        db.session.commit()
        make_users()
        ids = seed_console()
        db.session.remove()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "ids": ids, "app": app}
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (make system-deps)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    from browser_helpers import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        viewport={"width": 1360, "height": 900}, locale="zh-CN", device_scale_factor=1
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    pg.on("dialog", lambda dialog: dialog.accept())
    pg.js_errors = errors
    try:
        yield pg
    finally:
        context.close()
