"""Take screenshots of the console on an existing database (e.g. one simulate filled).

    SHUANGSUI_DATABASE_URL=sqlite:////tmp/sim.db .venv/bin/python tests/browser/shoot.py USER PASS

Serves the app on a free port in a thread, logs in through the form and saves full-page
screenshots of the analytics pages to docs/screenshots/console-sim-*.png.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from server import create_app

OUT = Path(
    os.environ.get("SHUANGSUI_SCREENSHOTS")
    or Path(__file__).resolve().parents[2] / "docs" / "screenshots"
)
PAGES = {
    "analytics": ("/analytics", "#chart-periods[data-rendered=true] canvas"),
    "models": ("/analytics/models", "#chart-precision[data-rendered=true] canvas"),
    "estimates": ("/analytics/estimates", "#chart-ht[data-rendered=true] canvas"),
    "rounds": ("/rounds", "#rounds-table"),
    "warnings": ("/warnings", "#warnings-table"),
}


def main(username: str, password: str) -> None:
    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.goto(f"{base}/login")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            OUT.mkdir(parents=True, exist_ok=True)
            for name, (path, ready) in PAGES.items():
                page.goto(base + path)
                page.wait_for_selector(ready, timeout=120_000)
                page.screenshot(path=str(OUT / f"console-sim-{name}.png"), full_page=True)
                print(name, "ok")
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:3])
