"""Hostile and malformed input: never a 5xx, refusals say why, and nothing is written.

* schemathesis generates requests for every operation of ``/api/v1/openapi.json``
  (bounded: a few examples per operation and a time budget) and no answer may be 5xx;
* hypothesis fuzzes the entities CSV importer, the form validator and submissions;
* oversized bodies are refused with 413, attachment names cannot leave
  ``ATTACHMENT_DIR``, SQL injection strings are plain data.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from factories import SIMPLE_FORM_ITEMS, form, task
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from reliability_helpers import body_for, bulk_tasks, count
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select

from server.auth.models import User
from server.auth.services import issue_token
from server.entities.models import Entity
from server.extensions import db
from server.inspections.forms import check_answers, check_item_questions
from server.inspections.models import Attachment, InspectionResult, Submission

EXAMPLES_PER_OPERATION = 12
SCHEMATHESIS_BUDGET_S = 90.0  # stop generating for further operations after this
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)

SQL_INJECTIONS = [
    "' OR '1'='1",
    "' OR 1=1 --",
    "1; DROP TABLE users; --",
    "'; DELETE FROM audit_events; --",
    '" OR ""="',
    "%' UNION SELECT username, password_hash FROM users --",
    "1) OR (1=1",
    "330100-FOOD' --",
    "\\'; SELECT pg_sleep(0); --",
    "%",
    "_",
    "\x00",
]


@pytest.fixture
def world(app, users):
    department_form = form()
    ins = db.session.get(type(users["inspector"].inspector), users["inspector"].inspector_id)
    t = task([ins])
    return {"task_id": t.id, "form": department_form}


def token(user: User) -> dict[str, str]:
    value, _ = issue_token(db.session, user)
    return {"Authorization": f"Bearer {value}"}


# -- schemathesis ------------------------------------------------------------------------
def _exercise_factory(users: dict[str, Any], ran: dict[str, int], failures: list[Any]) -> Any:
    def exercise(op: Any, label: str, role: str) -> None:
        @given(case=op.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            ran[label] += 1
            headers = {**(case.headers or {}), **token(users[role])}
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(
                    (
                        label,
                        str(case.path_parameters or case.query or case.body)[:200],
                        response.status_code,
                        response.text[:200],
                    )
                )
            db.session.rollback()

        run()

    return exercise


def test_no_operation_of_the_openapi_spec_answers_5xx(app, users, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    failures: list[tuple[str, str, int, str]] = []
    ran: dict[str, int] = {}
    exercise = _exercise_factory(users, ran, failures)
    started = time.monotonic()
    for op in operations:
        if time.monotonic() - started > SCHEMATHESIS_BUDGET_S:
            break
        label = f"{op.method.upper()} {op.path}"
        role = "inspector" if "/submissions" in op.path else "admin"
        ran[label] = 0

        exercise(op, label, role)
    assert failures == [], "\n".join(map(str, failures))
    # the budget let schemathesis reach most operations with several cases each
    assert len(ran) >= 0.8 * len(operations), ran
    assert sum(ran.values()) >= 5 * len(ran)
    print(f"schemathesis: {sum(ran.values())} cases over {len(ran)} operations")


# -- the entities CSV importer ---------------------------------------------------------------
COLUMNS = (
    "uscc",
    "name",
    "region_code",
    "industry_code",
    "business_type",
    "entity_type",
    "registered_on",
    "address",
    "legal_representative",
    "phone",
    "registered_capital",
)
nasty_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        SQL_INJECTIONS
        + [
            "",
            " ",
            '"',
            '""',
            "a,b",
            "line\nbreak",
            "=cmd|' /C calc'!A0",
            "9" * 400,
            "\ufeff",
            "\u202e",
            "2026-02-30",
            "-1",
            "1e309",
            "NaN",
        ]
    ),
)
valid_row = {
    "uscc": None,
    "name": "杭州模糊测试餐饮有限公司",
    "region_code": "330106",
    "industry_code": "H6210",
    "business_type": "catering",
    "entity_type": "company",
    "registered_on": "2019-05-01",
    "address": "杭州市西湖区文三路1号",
    "legal_representative": "李四",
    "phone": "0571-88880000",
    "registered_capital": "100",
}


def csv_text(header: list[str], rows: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@st.composite
def csv_uploads(draw: Any) -> bytes:
    from server.validation import make_uscc

    kind = draw(st.sampled_from(["rows", "header", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=300))
    header = list(COLUMNS)
    if kind == "header":
        header = draw(
            st.lists(st.sampled_from([*COLUMNS, "status", "password", "id", ""]), max_size=12)
        )
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        row = dict(valid_row)
        row["uscc"] = make_uscc(
            "330106",
            "".join(
                draw(
                    st.lists(
                        st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXY"), min_size=8, max_size=8
                    )
                )
            ),
        )
        for col in draw(st.lists(st.sampled_from(COLUMNS), max_size=3)):
            row[col] = draw(nasty_text)
        values = [str(row.get(c, "")) for c in header]
        if draw(st.booleans()) and draw(st.booleans()):
            values = values[: draw(st.integers(0, len(values)))] + draw(
                st.lists(nasty_text, max_size=2)
            )
        rows.append(values)
    text = csv_text(header, rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "gbk", "utf-16"]))
    try:
        return text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode("utf-8")


def test_csv_importer_refuses_bad_files_with_a_message_and_writes_nothing(
    app, users, reference, client
):
    headers = token(users["supervisor"])
    seen: dict[int, int] = {}

    @given(payload=csv_uploads(), as_file=st.booleans())
    @FUZZ
    def fuzz(payload: bytes, as_file: bool) -> None:
        before = count(Entity)
        if as_file:
            import io

            r = client.post(
                "/api/v1/entities/import",
                headers=headers,
                data={"file": (io.BytesIO(payload), "entities.csv")},
                content_type="multipart/form-data",
            )
        else:
            r = client.post(
                "/api/v1/entities/import", headers=headers, data=payload, content_type="text/csv"
            )
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code in (201, 400, 409, 413, 415, 422), (
            r.status_code,
            r.get_data(as_text=True)[:300],
        )
        after = count(Entity)
        if r.status_code == 201:
            assert after == before + r.get_json()["imported"]
        else:
            assert r.get_json()["message"]
            assert after == before, "a refused import wrote rows"

    fuzz()
    assert seen.get(201, 0) > 0, seen  # both outcomes were exercised
    assert seen.get(422, 0) > 0, seen


# -- the form validator ------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FUZZ_ITEMS = (
    SIMPLE_FORM_ITEMS
    + [
        {
            "id": "multi",
            "type": "multi_choice",
            "label": "多选",
            "required": False,
            "choices": [{"value": "a"}, {"value": "b"}],
            "problem_if": ["b"],
        },
        {
            "id": "code",
            "type": "text",
            "label": "编号",
            "required": False,
            "constraint": {"pattern": "[A-Z]{2}\\d{4}", "min_length": 6},
        },
    ]
    + check_item_questions(
        [
            {
                "code": "FS01",
                "item": "食品贮存",
                "law": "食品安全法",
                "article": 33,
                "domain": "food_safety",
            }
        ]
    )
)
item_ids = st.sampled_from([i["id"] for i in FUZZ_ITEMS])


@given(
    answers=st.one_of(
        json_values,
        st.dictionaries(st.one_of(item_ids, st.text(max_size=6)), json_values, max_size=8),
    ),
    attachments=st.one_of(
        json_values,
        st.lists(
            st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {
                        "item_id": st.one_of(item_ids, json_values),
                        "kind": st.sampled_from(["photo", "signature", "x"]),
                        "checksum": st.one_of(st.just("a" * 64), json_values),
                    }
                ),
            ),
            max_size=3,
        ),
    ),
)
@FUZZ
def test_form_validator_never_raises(answers: Any, attachments: Any) -> None:
    result = check_answers(
        FUZZ_ITEMS, answers, attachments if isinstance(attachments, list) else []
    )
    assert all(isinstance(k, str) and isinstance(v, str) and v for k, v in result.errors.items())
    if not result.errors:
        assert isinstance(answers, dict)
        assert result.summary
        assert set(result.failed_items) <= {i.get("check_item") or i["id"] for i in FUZZ_ITEMS}


def test_submitted_answers_are_validated_never_crash_and_refusals_write_nothing(app, users, client):
    task_ids = iter(bulk_tasks(200, [users["inspector"].inspector_id]))
    headers = token(users["inspector"])
    seen: dict[int, int] = {}

    @given(
        answers=st.dictionaries(
            st.sampled_from(["fs03", "remark", "photo", "other"]), json_values, max_size=4
        )
    )
    @FUZZ
    def fuzz(answers: dict[str, Any]) -> None:
        body = body_for(next(task_ids))
        body["answers"] = answers
        before = count(Submission), count(InspectionResult)
        r = client.post("/api/v1/submissions", json=body, headers=headers)
        seen[r.status_code] = seen.get(r.status_code, 0) + 1
        assert r.status_code in (201, 400, 422), r.get_json()
        if r.status_code in (400, 422):
            assert r.get_json()["message"]
            assert (count(Submission), count(InspectionResult)) == before
        else:
            assert (count(Submission), count(InspectionResult)) == (before[0] + 1, before[1] + 1)

    fuzz()
    assert seen.get(422, 0) > 0, seen


# -- sizes ---------------------------------------------------------------------------------------
def test_oversized_requests_are_refused_with_413_and_nothing_written(app, users, client, world):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = b"x" * (limit + 1)
    checks = [
        (
            "/api/v1/entities/import",
            token(users["supervisor"]),
            {"data": big, "content_type": "text/csv"},
        ),
        (
            "/api/v1/submissions",
            token(users["inspector"]),
            {"data": b'{"answers": "' + big + b'"}', "content_type": "application/json"},
        ),
        ("/api/v1/auth/token", {}, {"data": big, "content_type": "application/json"}),
    ]
    for url, headers, kwargs in checks:
        r = client.post(url, headers=headers, **kwargs)
        assert r.status_code == 413, (url, r.status_code)
        assert r.get_json()["error"] == "too_large"
    assert count(Entity) == 1
    assert count(Submission) == 0


def test_oversized_attachment_is_refused_and_leaves_no_file(app, users, client, world, tmp_path):
    app.config["MAX_ATTACHMENT_BYTES"] = 1024  # the rule, not the size, is under test
    ins = token(users["inspector"])
    data = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048
    checksum = hashlib.sha256(data).hexdigest()
    body = body_for(bulk_tasks(1, [users["inspector"].inspector_id])[0], photo_checksum=checksum)
    sub = client.post("/api/v1/submissions", json=body, headers=ins).get_json()["id"]
    import io

    r = client.post(
        f"/api/v1/submissions/{sub}/attachments",
        headers=ins,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), "big.png"), "checksum": checksum},
    )
    assert r.status_code == 413
    assert r.get_json()["message"]
    root = Path(app.config["ATTACHMENT_DIR"])
    assert [p for p in root.rglob("*") if p.is_file()] == []
    assert db.session.scalar(select(Attachment.path)) is None


# -- path traversal ----------------------------------------------------------------------------
TRAVERSALS = [
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/etc/passwd",
    "photo/../../x.png",
    "....//....//x",
    "%2e%2e%2fx.png",
    "C:\\x.png",
    "\x00.png",
    "a" * 300 + ".png",
    "..",
    ".",
    "~/.ssh/id_rsa",
    "photo.png\n../../x",
]


@pytest.mark.parametrize("name", TRAVERSALS)
def test_attachment_names_cannot_leave_the_attachment_dir(app, users, client, tmp_path, name):
    ins = token(users["inspector"])
    data = b"\x89PNG\r\n\x1a\n" + name.encode("utf-8", "surrogatepass")
    checksum = hashlib.sha256(data).hexdigest()
    body = body_for(bulk_tasks(1, [users["inspector"].inspector_id])[0], photo_checksum=checksum)
    body["attachments"][0]["filename"] = name[:200]
    r = client.post("/api/v1/submissions", json=body, headers=ins)
    assert r.status_code in (201, 400, 422), r.get_json()
    if r.status_code != 201:  # refused (a NUL in the name): nothing stored
        assert r.get_json()["message"]
        assert count(Submission) == 0
        return
    import io

    up = client.post(
        f"/api/v1/submissions/{r.get_json()['id']}/attachments",
        headers=ins,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), name), "checksum": checksum},
    )
    root = Path(app.config["ATTACHMENT_DIR"]).resolve()
    att = db.session.scalar(select(Attachment))
    assert att.filename not in ("", ".", "..")
    assert "/" not in att.filename
    assert "\\" not in att.filename
    assert "\x00" not in att.filename
    if up.status_code == 422:  # a name the multipart encoding cannot carry: refused, nothing stored
        assert up.get_json()["message"]
        assert att.path is None
        return
    assert up.status_code == 201, up.get_json()
    stored = Path(att.path).resolve()
    assert stored.is_relative_to(root)
    assert stored.name == checksum  # the server chose the name
    outside = [
        p
        for p in tmp_path.rglob("*")
        if p.is_file() and p.read_bytes() == data and not p.resolve().is_relative_to(root)
    ]
    assert outside == []


# -- SQL injection -------------------------------------------------------------------------------
def table_counts() -> dict[str, int]:
    from sqlalchemy import func, table

    names = sa_inspect(db.engine).get_table_names()
    return {n: db.session.scalar(select(func.count()).select_from(table(n))) for n in names}


@pytest.mark.parametrize("payload", SQL_INJECTIONS)
def test_sql_injection_strings_are_plain_data(app, users, client, world, payload):
    before = table_counts()
    admin, sup = token(users["admin"]), token(users["supervisor"])
    quoted = {"safe": ""}
    probes = [
        (
            "/api/v1/warnings",
            {"model": payload, "state": payload, "department": payload, "level": payload},
            admin,
        ),
        ("/api/v1/tasks", {"state": payload, "since": payload}, admin),
        ("/api/v1/rounds", {"state": payload}, admin),
        ("/api/v1/laws", {"q": payload}, admin),
        (
            "/api/v1/analytics/hit-rates",
            {"by": payload, "model": payload, "region": payload},
            admin,
        ),
    ]
    for url, query, headers in probes:
        r = client.get(url, query_string=query, headers=headers)
        assert r.status_code < 500, (url, r.status_code)
        if r.status_code == 200 and "items" in (r.get_json() or {}):
            assert r.get_json()["items"] == [] or url == "/api/v1/laws"
    from urllib.parse import quote

    r = client.get(f"/api/v1/entities/{quote(payload, **quoted)}", headers=admin)
    nul = "\x00" in payload  # refused at the door: PostgreSQL text cannot hold it
    assert r.status_code in ((400,) if nul else (404, 405, 422)), r.status_code
    r = client.post("/api/v1/auth/token", json={"username": payload, "password": payload})
    assert r.status_code in ((400,) if nul else (401, 422))
    # console pages with the payload in every filter
    with client.session_transaction() as session:
        session["user_id"], session["sv"] = users["admin"].id, users["admin"].session_version
    for page in (
        "/warnings",
        "/rounds",
        "/analytics",
        "/inspectors",
        "/export/grades.csv",
        "/public",
    ):
        r = client.get(
            page,
            query_string={
                k: payload
                for k in (
                    "model",
                    "state",
                    "level",
                    "region",
                    "department",
                    "period",
                    "by",
                    "page",
                    "q",
                    "round",
                )
            },
        )
        assert r.status_code < 500, (page, r.status_code)
    # a field holding the payload is stored verbatim and read back unchanged
    created_name = f"注入测试{payload}"[:100]
    from server.validation import make_uscc

    uscc = make_uscc("330106", f"PQRT{SQL_INJECTIONS.index(payload):04d}")
    r = client.post(
        "/api/v1/entities",
        headers=sup,
        json={
            "uscc": uscc,
            "name": created_name,
            "region_code": "330106",
            "industry_code": "H6210",
            "business_type": "catering",
            "entity_type": "company",
            "registered_on": "2019-05-01",
            "address": payload or "x",
            "legal_representative": "李四",
        },
    )
    after = table_counts()
    for name, n in before.items():
        assert after[name] >= n, f"rows disappeared from {name}"
    assert after["users"] == before["users"]
    if r.status_code == 201:
        stored = db.session.scalar(select(Entity).where(Entity.uscc == uscc))
        assert stored.name == created_name
    else:
        assert r.status_code in ((400,) if nul else (422,))
        assert r.get_json()["message"]


def test_login_redirect_stays_on_this_site(app, users, client):
    for target in (
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\t/evil.example",
    ):
        r = client.post(
            f"/login?next={target}", data={"username": "admin", "password": "password123"}
        )
        assert r.status_code == 302
        location = r.headers["Location"]
        from urllib.parse import urlsplit

        parts = urlsplit(location)
        assert parts.scheme == "", location
        assert parts.netloc == "", location
        assert location.startswith("/"), location
        assert not location.startswith(("//", "/\\")), location
        client.post("/logout")


def test_ids_beyond_the_database_range_are_not_found_on_every_route(app, users, client):
    """Generated from the url map: every ``<int:...>`` route with an id no database integer
    can hold answers 404 (it was a 500: the driver overflowed)."""
    import re as _re

    admin = token(users["admin"])
    with client.session_transaction() as session:
        session["user_id"], session["sv"] = users["admin"].id, users["admin"].session_version
    checked = []
    for rule in app.url_map.iter_rules():
        if "<int:" not in rule.rule:
            continue
        url = _re.sub(r"<int:[^>]+>", "99999999999999999999", rule.rule)
        url = _re.sub(r"<(?:\w+:)?(\w+)>", lambda m: {"fmt": "csv"}.get(m.group(1), "x"), url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            r = client.open(url, method=method, headers=admin if url.startswith("/api/") else {})
            checked.append(url)
            assert r.status_code == 404, (method, url, r.status_code)
    assert len(checked) >= 10
    r = client.get("/api/v1/warnings", query_string={"page": 10**20}, headers=admin)
    assert r.status_code == 422
    assert client.get("/warnings", query_string={"page": 10**20}).status_code == 200
