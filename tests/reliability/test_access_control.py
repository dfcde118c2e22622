"""Who may reach what: every route of ``app.url_map`` × every role, from one table.

:data:`EXPECTED` is written by hand (it is the specification, not read back from the
decorators). A route added without a row here fails :func:`test_every_route_has_an_entry`.
For each role the test calls every route and checks: allowed → the request passes the
access check (not 401/403, not sent to the login page, never 5xx); refused → 401 for
an anonymous API call, a redirect to ``/login`` for an anonymous console page, 403
for a logged-in user without the role. Every answer carries the security headers.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from factories import department, entity, form, inspector, red_warnings, task
from sqlalchemy import func, select

from server.auth.models import ApiToken, LoginAttempt
from server.auth.services import change_password, issue_token, set_active
from server.extensions import db
from server.warnings.models import Warning

ANON, INSP, SUP, ANA, ADM = "anonymous", "inspector", "supervisor", "analyst", "admin"
ROLES = (ANON, INSP, SUP, ANA, ADM)
EVERYONE = frozenset(ROLES)
STAFF = frozenset({INSP, SUP, ANA, ADM})
OFFICE = frozenset({SUP, ANA, ADM})
MANAGERS = frozenset({SUP, ADM})
INSPECTORS = frozenset({INSP})

#: (rule, method) → roles admitted. The specification of access control.
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # API
    ("/api/v1/openapi.json", "GET"): EVERYONE,
    ("/api/v1/auth/token", "POST"): EVERYONE,
    ("/api/v1/auth/token", "DELETE"): STAFF,
    ("/api/v1/auth/logout-all", "POST"): STAFF,
    ("/api/v1/admin/throttles", "GET"): frozenset({ADM}),
    ("/api/v1/admin/throttles", "DELETE"): frozenset({ADM}),
    ("/api/v1/me", "GET"): STAFF,
    ("/api/v1/analytics/hit-rates", "GET"): OFFICE,
    ("/api/v1/analytics/warning-loop", "GET"): OFFICE,
    ("/api/v1/check-items", "GET"): OFFICE,
    ("/api/v1/credit/grades", "GET"): OFFICE,
    ("/api/v1/credit/scorecard", "GET"): OFFICE,
    ("/api/v1/entities", "POST"): MANAGERS,
    ("/api/v1/entities/import", "POST"): MANAGERS,
    ("/api/v1/entities/<string:uscc>", "GET"): STAFF,
    ("/api/v1/forms", "GET"): STAFF,
    ("/api/v1/forms/<string:code>", "GET"): STAFF,
    ("/api/v1/laws", "GET"): STAFF,
    ("/api/v1/laws/<string:law_id>", "GET"): STAFF,
    ("/api/v1/laws/<string:law_id>/articles/<int:number>", "GET"): STAFF,
    ("/api/v1/public/rounds", "GET"): EVERYONE,
    ("/api/v1/public/rounds/<int:round_id>", "GET"): EVERYONE,
    ("/api/v1/public/rounds/<int:round_id>/pool.csv", "GET"): EVERYONE,
    ("/api/v1/public/rounds/<int:round_id>/replay", "GET"): EVERYONE,
    ("/api/v1/rounds", "GET"): OFFICE,
    ("/api/v1/rounds", "POST"): MANAGERS,
    ("/api/v1/rounds/<int:round_id>", "GET"): OFFICE,
    ("/api/v1/rounds/<int:round_id>/draw", "POST"): MANAGERS,
    ("/api/v1/rounds/<int:round_id>/preview", "GET"): OFFICE,
    ("/api/v1/rounds/<int:round_id>/publish", "POST"): MANAGERS,
    ("/api/v1/submissions", "POST"): INSPECTORS,
    ("/api/v1/submissions/<int:submission_id>/attachments", "POST"): INSPECTORS,
    ("/api/v1/submissions/<int:submission_id>", "GET"): frozenset({INSP, SUP, ADM}),
    ("/api/v1/tasks", "GET"): STAFF,
    ("/api/v1/tasks/<int:task_id>", "GET"): STAFF,
    ("/api/v1/warnings", "GET"): STAFF,
    ("/api/v1/warnings/<int:warning_id>", "GET"): STAFF,
    ("/api/v1/warnings/<int:warning_id>/transitions", "POST"): MANAGERS,
    ("/api/v1/warnings/dispatch", "POST"): MANAGERS,
    # console and public pages
    ("/", "GET"): STAFF,
    ("/healthz", "GET"): EVERYONE,
    ("/favicon.ico", "GET"): EVERYONE,
    ("/static/<path:filename>", "GET"): EVERYONE,
    ("/login", "GET"): EVERYONE,
    ("/login", "POST"): EVERYONE,
    ("/logout", "POST"): STAFF,
    ("/analytics", "GET"): OFFICE,
    ("/analytics/estimates", "GET"): OFFICE,
    ("/analytics/credit", "GET"): OFFICE,
    ("/analytics/history", "GET"): OFFICE,
    ("/analytics/history", "POST"): OFFICE,
    ("/analytics/models", "GET"): OFFICE,
    ("/entities/<uscc>", "GET"): STAFF,
    ("/export/<name>.<fmt>", "GET"): OFFICE,
    ("/inspectors", "GET"): OFFICE,
    ("/public", "GET"): EVERYONE,
    ("/public/audit", "GET"): EVERYONE,
    ("/public/audit.json", "GET"): EVERYONE,
    ("/public/rounds/<int:round_id>", "GET"): EVERYONE,
    ("/public/rounds/<int:round_id>.<fmt>", "GET"): EVERYONE,
    ("/public/rounds/<int:round_id>/replay", "GET"): EVERYONE,
    ("/rounds", "GET"): OFFICE,
    ("/rounds/new", "GET"): MANAGERS,
    ("/rounds/new", "POST"): MANAGERS,
    ("/rounds/<int:round_id>", "GET"): OFFICE,
    ("/rounds/<int:round_id>/draw", "POST"): MANAGERS,
    ("/rounds/<int:round_id>/publish", "POST"): MANAGERS,
    ("/warnings", "GET"): OFFICE,
    ("/warnings/dispatch", "POST"): MANAGERS,
    ("/warnings/<int:warning_id>", "GET"): OFFICE,
    ("/warnings/<int:warning_id>", "POST"): MANAGERS,
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def routes(app: Any) -> set[tuple[str, str]]:
    return {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


@pytest.fixture
def world(app, users):
    """One entity, a task of ``inspector`` and a dispatched warning of 330100-FOOD."""
    department("330100-FOOD", domains=["food_safety"])
    form()
    ins = db.session.get(type(users["inspector"].inspector), users["inspector"].inspector_id)
    ent = entity()
    own = task([ins], the_entity=ent)
    (warning_id,) = red_warnings([ent])
    return {
        "task_id": own.id,
        "warning_id": warning_id,
        "uscc": ent.uscc,
        "round_id": 999_999,
        "submission_id": 999_999,
        "law_id": "no-such-law",
        "number": 1,
        "code": "catering",
        "name": "grades",
        "fmt": "csv",
        "filename": "css/console.css",
    }


def url_for_rule(rule: str, values: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[-1]
        assert name in values, f"no test value for <{name}> in {rule}: add one to the world fixture"
        return str(values[name])

    return re.sub(r"<([^>]+)>", fill, rule)


def call(app: Any, users: dict[str, Any], role: str, method: str, url: str) -> Any:
    """One request as ``role``: a fresh bearer token for the API, a session for pages."""
    client = app.test_client()
    headers = {}
    if role != ANON:
        user = users[role]
        if url.startswith("/api/"):
            token, _ = issue_token(db.session, user)
            headers["Authorization"] = f"Bearer {token}"
        else:
            with client.session_transaction() as session:
                session["user_id"] = user.id
                session["sv"] = user.session_version
    kwargs: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PUT", "PATCH") and url.startswith("/api/"):
        kwargs["json"] = {}
    return client.open(url, method=method, **kwargs)


def test_every_route_has_an_entry(app):
    actual = routes(app)
    missing = sorted(actual - set(EXPECTED))
    stale = sorted(set(EXPECTED) - actual)
    assert not missing, f"routes without an access rule in EXPECTED: {missing}"
    assert not stale, f"EXPECTED lists routes that no longer exist: {stale}"


@pytest.mark.parametrize("role", ROLES)
def test_every_route_admits_exactly_the_roles_in_the_table(app, users, world, role):
    wrong = []
    for rule, method in sorted(routes(app)):
        allowed = role in EXPECTED[(rule, method)]
        url = url_for_rule(rule, world)
        r = call(app, users, role, method, url)
        to_login = r.status_code in (301, 302, 303) and "/login" in r.headers.get("Location", "")
        if (rule, method) == ("/logout", "POST") and role != ANON:
            to_login = False  # logging out ends on the login page: that is its success
        if r.status_code >= 500:
            wrong.append((method, url, r.status_code, "server error"))
        elif allowed and (r.status_code in (401, 403) or to_login):
            wrong.append((method, url, r.status_code, "refused but allowed"))
        elif not allowed:
            if role == ANON:
                want_ok = r.status_code == 401 if url.startswith("/api/") else to_login
            else:
                want_ok = r.status_code == 403
            if not want_ok:
                wrong.append((method, url, r.status_code, "should be refused"))
        for name, value in SECURITY_HEADERS.items():
            if r.headers.get(name) != value:
                wrong.append((method, url, r.status_code, f"header {name}={r.headers.get(name)!r}"))
        if "frame-ancestors 'none'" not in r.headers.get("Content-Security-Policy", ""):
            wrong.append((method, url, r.status_code, "no CSP frame-ancestors"))
    assert wrong == []


# -- object-level rules ---------------------------------------------------------------
def test_inspector_cannot_read_another_inspectors_task(app, users, auth, world):
    other = inspector("孙执法", "330100-FOOD")
    theirs = task([other])
    h = auth.headers("inspector")
    r = app.test_client().get(f"/api/v1/tasks/{theirs.id}", headers=h)
    assert r.status_code in (403, 404)
    assert r.get_json()["message"]
    listed = {
        t["id"] for t in app.test_client().get("/api/v1/tasks", headers=h).get_json()["items"]
    }
    assert world["task_id"] in listed
    assert theirs.id not in listed
    # nor submit a result for it
    r = app.test_client().post(
        "/api/v1/submissions",
        headers=h,
        json={
            "instance_id": "steal-0001",
            "task_id": theirs.id,
            "form_code": "catering",
            "form_version": "1",
            "answers": {},
        },
    )
    assert r.status_code == 403


def test_another_departments_warning_is_refused(app, users, auth, world):
    w = db.session.get(Warning, world["warning_id"])
    department("330200-FOOD", domains=["food_safety"])
    w.department_code, w.region_code, w.state = "330200-FOOD", "330203", "dispatched"
    db.session.commit()
    sup = auth.headers("supervisor")  # of 330100-FOOD
    client = app.test_client()
    assert client.get(f"/api/v1/warnings/{w.id}", headers=sup).status_code == 404
    assert w.id not in {
        x["id"] for x in client.get("/api/v1/warnings", headers=sup).get_json()["items"]
    }
    r = client.post(f"/api/v1/warnings/{w.id}/transitions", json={"to": "accepted"}, headers=sup)
    assert r.status_code in (403, 404), r.get_json()
    db.session.expire_all()
    assert db.session.get(Warning, w.id).state == "dispatched"
    # an inspector sees only warnings behind their own tasks
    r = client.get(f"/api/v1/warnings/{w.id}", headers=auth.headers("inspector"))
    assert r.status_code == 404


# -- tokens and login -------------------------------------------------------------------
def test_expired_token_is_refused_and_a_fresh_one_works(app, users):
    client = app.test_client()
    old, _ = issue_token(db.session, users["inspector"], ttl_hours=-0.01)
    r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401
    assert "expired" in r.get_json()["message"]
    fresh, _ = issue_token(db.session, users["inspector"], ttl_hours=1)
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200


def test_revocation_ends_one_device_only(app, users, auth):
    client = app.test_client()
    a, b = auth.headers("inspector"), auth.headers("inspector")
    assert client.delete("/api/v1/auth/token", headers=a).status_code == 204
    assert client.get("/api/v1/me", headers=a).status_code == 401
    assert client.delete("/api/v1/auth/token", headers=a).status_code == 401
    assert client.get("/api/v1/me", headers=b).status_code == 200
    assert (
        db.session.scalar(
            select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_not(None))
        )
        == 1
    )


def test_deactivated_user_loses_tokens_and_session(app, users, auth):
    client = app.test_client()
    h = auth.headers("supervisor")
    with client.session_transaction() as session:
        session["user_id"], session["sv"] = users["supervisor"].id, users["supervisor"].session_version
    assert client.get("/rounds").status_code == 200
    set_active(db.session, users["supervisor"], False, actor="admin")
    assert client.get("/api/v1/me", headers=h).status_code == 401
    assert client.get("/rounds").status_code == 302


def test_password_change_ends_console_sessions(app, users):
    client = app.test_client()
    with client.session_transaction() as session:
        session["user_id"], session["sv"] = users["analyst"].id, users["analyst"].session_version
    assert client.get("/analytics").status_code == 200
    change_password(db.session, users["analyst"], "another-password-9", actor="analyst")
    assert client.get("/analytics").status_code == 302


def test_login_throttled_per_username_within_the_window(app, users):
    client = app.test_client()
    limit = app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        r = client.post(
            "/api/v1/auth/token", json={"username": "inspector", "password": "wrong-password"}
        )
        assert r.status_code == 401
    right = {"username": "inspector", "password": "password123"}
    r = client.post("/api/v1/auth/token", json=right)
    assert r.status_code == 429  # even the right password, for now
    assert r.get_json()["message"]
    assert client.post("/login", data=right).status_code in (200, 429)  # the console too …
    assert "user_id" not in (
        client.get_cookie("session").value if client.get_cookie("session") else ""
    )
    # … other users are not affected
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "admin", "password": "password123"}
        ).status_code
        == 200
    )
    # once the failures are older than the window, the right password works again
    window = dt.timedelta(seconds=app.config["LOGIN_WINDOW_SECONDS"] + 1)
    for attempt in db.session.scalars(
        select(LoginAttempt).where(LoginAttempt.username == "inspector")
    ):
        attempt.at = attempt.at - window
    db.session.commit()
    assert client.post("/api/v1/auth/token", json=right).status_code == 200


def test_unknown_usernames_are_throttled_too(app, users):
    client = app.test_client()
    statuses = [
        client.post(
            "/api/v1/auth/token", json={"username": "nobody", "password": "x" * 8}
        ).status_code
        for _ in range(app.config["LOGIN_MAX_FAILURES"] + 1)
    ]
    assert statuses[:-1] == [401] * app.config["LOGIN_MAX_FAILURES"]
    assert statuses[-1] == 429


# -- CSRF, cookies ---------------------------------------------------------------------
def console_posts(app: Any) -> list[str]:
    return sorted(
        rule for rule, method in routes(app) if method == "POST" and not rule.startswith("/api/")
    )


def test_csrf_is_enforced_on_every_console_form(app, users, world):
    app.config["WTF_CSRF_ENABLED"] = True
    sup = users["supervisor"]
    posts = console_posts(app)
    assert "/login" in posts
    assert "/warnings/dispatch" in posts
    before = db.session.scalar(
        select(func.count()).select_from(Warning).where(Warning.state == "issued")
    )
    for rule in posts:
        client = app.test_client()
        with client.session_transaction() as session:
            session["user_id"], session["sv"] = sup.id, sup.session_version
        url = url_for_rule(rule, world)
        data = {
            "ids": [str(world["warning_id"])],
            "to": "dispatched",
            "username": "supervisor",
            "password": "password123",
        }
        r = client.post(url, data=data)
        assert r.status_code == 400, (url, r.status_code)
        assert "CSRF" in r.get_data(as_text=True) or "csrf" in r.get_data(as_text=True).lower(), url
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count()).select_from(Warning).where(Warning.state == "issued")
        )
        == before
    )


def test_csrf_token_lets_the_form_through_and_the_api_needs_none(app, users, world):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page
    )
    assert token, "the login form carries a CSRF token"
    r = client.post(
        "/login",
        data={"username": "supervisor", "password": "password123", "csrf_token": token.group(1)},
    )
    assert r.status_code == 302
    assert "/login" not in r.headers["Location"]
    # bearer-token API calls are not subject to CSRF (no cookie, nothing to forge) …
    api = app.test_client()
    r = api.post("/api/v1/auth/token", json={"username": "admin", "password": "password123"})
    assert r.status_code == 200
    # … but the console's own JSON calls with the session cookie are
    r = client.post("/api/v1/warnings/dispatch", json={"ids": [world["warning_id"]]})
    assert r.status_code == 400, r.get_json()
    assert db.session.get(Warning, world["warning_id"]).state == "issued"


@pytest.mark.parametrize("secure", [False, True])
def test_session_cookie_flags(db_kind, worker_id, tmp_path, monkeypatch, request, secure):
    from server import create_app
    from server.db import Base

    if secure:
        monkeypatch.setenv("SHUANGSUI_SECURE_COOKIES", "1")
    else:
        monkeypatch.delenv("SHUANGSUI_SECURE_COOKIES", raising=False)
    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    make_config = request.config.pluginmanager.get_plugin(
        str(request.path.parent.parent / "conftest.py")
    ).make_config
    cfg = make_config("sqlite", worker_id, tmp_path)
    cfg.pop("SESSION_COOKIE_SECURE", None)  # let the environment decide, as in production
    flask_app = create_app(cfg)
    with flask_app.app_context():
        Base.metadata.create_all(db.engine)
        from factories import make_users

        make_users()
        r = flask_app.test_client().post(
            "/login", data={"username": "admin", "password": "password123"}
        )
        assert r.status_code == 302
        cookie = r.headers["Set-Cookie"]
        db.session.remove()
        db.engine.dispose()
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert "httponly" in flags
    assert "samesite=lax" in cookie.lower()
    assert ("secure" in flags) is secure
