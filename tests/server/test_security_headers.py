"""Content-Security-Policy without 'unsafe-inline' (issue 27): the header on console and
public pages, and no template keeps an inline script, a ``<style>`` or a ``style=""``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "server" / "templates"
SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.S | re.I)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)  # onclick=, onload=…


def inline_problems(text: str) -> list[str]:
    problems = []
    for attrs, body in SCRIPT.findall(text):
        if "src=" in attrs:
            if body.strip():
                problems.append("script with both src and a body")
        elif 'type="application/json"' not in attrs:  # a data block is never executed
            problems.append(f"inline script: {body.strip()[:60]}")
    problems += [f"inline style: {m.group(0)}" for m in INLINE_STYLE.finditer(text)]
    problems += [f"event handler attribute: {m.group(0)}" for m in HANDLER.finditer(text)]
    problems += ["javascript: URL"] if "javascript:" in text.lower() else []
    return problems


def test_no_template_keeps_inline_script_or_style():
    problems = {p.relative_to(TEMPLATES).as_posix(): inline_problems(p.read_text(encoding="utf-8"))
                for p in sorted(TEMPLATES.rglob("*.html"))}
    assert len(problems) >= 20
    assert {name: found for name, found in problems.items() if found} == {}


def csp(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", ["/login", "/public", "/public/audit", "/api/v1/public/rounds", "/healthz"])
def test_csp_without_unsafe_inline_on_every_answer(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = csp(response)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert policy["script-src"] == "script-src 'self'"
    assert policy["style-src"] == "style-src 'self'"
    assert policy["frame-ancestors"] == "frame-ancestors 'none'"
    # the headers and cookie flags as before
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_rendered_console_pages_carry_no_inline_code(client, users, auth):
    login = client.post("/login", data={"username": "admin", "password": "password123"})
    assert login.status_code == 302
    assert "HttpOnly" in login.headers["Set-Cookie"] and "SameSite=Lax" in login.headers["Set-Cookie"]
    assert "unsafe-inline" not in login.headers["Content-Security-Policy"]
    for path in ("/", "/analytics", "/rounds", "/warnings", "/inspectors", "/public"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert inline_problems(response.get_data(as_text=True)) == [], path
