"""Helpers of the browser tests."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

# Screenshots go to a temporary directory unless SHUANGSUI_SCREENSHOTS names one
# (docs/screenshots when refreshing the documentation), so a test run leaves the tree clean.
SCREENSHOTS = Path(
    os.environ.get("SHUANGSUI_SCREENSHOTS")
    or Path(os.environ.get("TMPDIR", "/tmp")) / "shuangsui-shots"
)


def login(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
