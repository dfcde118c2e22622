"""Every check schemathesis has, against a live gunicorn server, for every role (issue 27).

Not only "no 5xx": status codes, content types, response headers and response bodies
must conform to the OpenAPI document the server publishes, invalid input must be
refused and valid input accepted, auth must not be ignored. The server runs as in
production (gunicorn, two worker processes, ``SHUANGSUI_ENV=production`` with a strong
key) on a SQLite file prepared here: reference data, one user per role, an entity, a
task and a warning. Bounded: a few examples per operation and role, and a time budget.

The run's figures are printed (``-s`` shows them) and kept in ``schemathesis-live.json``
under the test's temporary folder.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import CHECKS, load_all_checks

ROOT = Path(__file__).resolve().parents[2]
ROLES = ("anonymous", "inspector", "supervisor", "analyst", "admin")
EXAMPLES = 6  # per operation and role
BUDGET_S = 100.0
#: checks that need a stateful run (links between operations) or a timing: not for this run
NOT_APPLICABLE = {"max_response_time"}
#: operations whose valid input depends on the database or on a file's content, which no
#: JSON schema can state: a USCC with its GB 32100 check digit and codes that exist
#: (entities), a CSV with the right header (import), departments and check items that
#: exist (rounds), a form code and version that exist (submissions), a photo of a
#: declared submission (attachments). There "schema-valid" input is refused with a 422
#: saying why, which is right; every other check still runs on them.
DATA_DEPENDENT = {
    ("POST", "/api/v1/entities"), ("POST", "/api/v1/entities/import"), ("POST", "/api/v1/rounds"),
    ("POST", "/api/v1/submissions"), ("POST", "/api/v1/submissions/{submission_id}/attachments"),
}
#: operations that revoke the token they are called with (run last, for each role)
ENDS_TOKENS = {"/api/v1/auth/token", "/api/v1/auth/logout-all"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(database: Path, instance: Path) -> dict[str, str]:
    """Build the database in this process; return a bearer token per role."""
    from factories import department, entity, form, make_users, red_warnings, task

    from server import create_app
    from server.auth.services import issue_token
    from server.db import Base
    from server.extensions import db
    from server.reference.services import load_reference_into_db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{database}", "SECRET_KEY": secrets.token_urlsafe(48),
                      "TESTING": True})
    tokens: dict[str, str] = {}
    with app.app_context():
        Base.metadata.create_all(db.engine)
        load_reference_into_db(db.session, app.config["DATA_DIR"])
        users = make_users()
        department("330100-FOOD", domains=["food_safety"])
        form()
        ins = db.session.get(type(users["inspector"].inspector), users["inspector"].inspector_id)
        ent = entity()
        task([ins], the_entity=ent)
        red_warnings([ent])
        db.session.commit()
        for role in ROLES[1:]:
            tokens[role], _ = issue_token(db.session, users[role], ttl_hours=2)
        db.session.remove()
        db.engine.dispose()
    return tokens


@pytest.fixture
def live_gunicorn(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(instance))
    database = tmp_path / "live.db"
    tokens = _prepare(database, instance)
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SHUANGSUI_ENV": "production",
        "SHUANGSUI_SECRET_KEY": secrets.token_urlsafe(48),
        "SHUANGSUI_DATABASE_URL": f"sqlite:///{database}",
        "SHUANGSUI_INSTANCE": str(instance),
        "SHUANGSUI_PUBLIC_RATE_LIMIT": "1000000",  # every request comes from 127.0.0.1 here
    }
    log = (tmp_path / "gunicorn.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}", "--timeout", "60",
         "server.wsgi_server:wsgi_app()"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/healthz", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()[-2000:]
            time.sleep(0.1)
        yield base, tokens, tmp_path
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_all_checks_for_every_role_against_a_live_server(live_gunicorn):
    base, tokens, tmp_path = live_gunicorn
    load_all_checks()
    checks = [c for c in CHECKS.get_all() if getattr(c, "__name__", "") not in NOT_APPLICABLE]
    names = sorted(getattr(c, "__name__", str(c)) for c in checks)
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    # the operations that end the caller's tokens go last for each role
    operations.sort(key=lambda op: op.path in ENDS_TOKENS)
    session = requests.Session()
    cases: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    failures: dict[tuple[str, str, str], str] = {}
    started = time.monotonic()
    for role in ROLES:
        headers = {"Authorization": f"Bearer {tokens[role]}"} if role in tokens else {}
        for op in operations:
            if time.monotonic() - started > BUDGET_S:
                break
            label = f"{op.method.upper()} {op.path}"
            op_checks = [c for c in checks if not ((op.method.upper(), op.path) in DATA_DEPENDENT
                                                   and getattr(c, "__name__", "") == "positive_data_acceptance")]

            @given(case=op.as_strategy())
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            def run(case: Any) -> None:
                cases[role] += 1
                # the role's own credentials, not a generated Authorization header
                case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
                case.headers.update(headers)
                response = case.call(base_url=base, session=session, timeout=30)
                statuses[response.status_code] += 1
                try:
                    case.validate_response(response, checks=op_checks, headers=headers)
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failure is collected
                    for failure in getattr(exc, "exceptions", [exc]):
                        title = getattr(failure, "title", type(failure).__name__)
                        failures.setdefault((role, label, title), f"[{response.status_code}] {response.text[:300]} :: {str(failure)[:600]}")

            run()
    elapsed = time.monotonic() - started
    figures = {
        "checks": names, "operations": len(operations), "cases": dict(cases), "total_cases": sum(cases.values()),
        "statuses": {str(k): v for k, v in sorted(statuses.items())}, "failures": len(failures),
        "seconds": round(elapsed, 1),
    }
    (tmp_path / "schemathesis-live.json").write_text(json.dumps(figures, ensure_ascii=False, indent=1))
    print("schemathesis live:", json.dumps(figures, ensure_ascii=False))
    assert not failures, "\n".join(f"{r} {l}: {t}\n    {m}" for (r, l, t), m in sorted(failures.items()))
    assert set(cases) == set(ROLES) and all(cases[r] >= len(operations) for r in ROLES), cases
    assert statuses and max(statuses) < 500
