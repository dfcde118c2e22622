"""Request parsing is bounded (issue 27, finding 1): nesting, size and number of values of
JSON bodies, multipart forms and CSV uploads. Anything past a bound is a 400/413/422 with
a Chinese message, never a 500, and never a traceback in the log."""

from __future__ import annotations

import io
import logging
import re

import pytest

from server.limits import json_shape

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def assert_refused(response, statuses=(400, 413, 422)):
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    body = response.get_json()
    assert body["error"] and CHINESE.search(body["message"]), body
    return body


@pytest.mark.parametrize("levels", [33, 3_000, 100_000])
def test_deeply_nested_json_to_the_login_is_a_400_without_traceback(client, caplog, levels):
    caplog.set_level(logging.INFO)
    body = "[" * levels + "]" * levels
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    refused = assert_refused(response, (400,))
    assert "嵌套" in refused["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    # an ordinary body still goes through
    ordinary = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "password123"})
    assert ordinary.status_code == 401


def test_nested_objects_inside_a_valid_looking_body_are_refused(client, caplog):
    caplog.set_level(logging.INFO)
    deep = '{"a":' * 5_000 + "1" + "}" * 5_000
    body = '{"username": "x", "password": ' + deep + "}"
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_refused(response, (400,))
    assert not [r for r in caplog.records if r.exc_info]


def test_brackets_inside_strings_do_not_count(client, users):
    """Depth is the structure's, not the text's: a password full of brackets still logs in."""
    import json

    from server.auth.services import create_user
    from server.extensions import db

    password = "[" * 200 + '{\\"' + "]" * 40
    assert json_shape(json.dumps({"p": password}).encode()) == (1, 3)
    create_user(db.session, username="brackets", password=password, roles=["analyst"])
    response = client.post("/api/v1/auth/token", data=json.dumps({"username": "brackets", "password": password}),
                           content_type="application/json")
    assert response.status_code == 200


def test_too_many_values_is_a_413(client, app):
    app.config["MAX_JSON_VALUES"] = 1_000
    body = "[" + ",".join(["1"] * 5_000) + "]"
    assert_refused(client.post("/api/v1/auth/token", data=body, content_type="application/json"), (413,))


def test_too_large_json_body_is_a_413(client, app):
    app.config["MAX_JSON_BYTES"] = 10_000
    body = '{"username": "' + "x" * 20_000 + '", "password": "y"}'
    assert_refused(client.post("/api/v1/auth/token", data=body, content_type="application/json"), (413,))


def test_oversized_request_has_a_chinese_message(client, app):
    app.config["MAX_CONTENT_LENGTH"] = 1_000
    response = client.post("/api/v1/auth/token", data=b"[" + b"1," * 3_000 + b"1]", content_type="application/json")
    assert_refused(response, (413,))


def test_multipart_with_too_many_parts_is_refused(client, auth, users):
    data = {f"field{i}": "v" for i in range(500)}
    response = client.post("/api/v1/entities/import", data=data, content_type="multipart/form-data",
                           headers=auth.headers("supervisor"))
    assert_refused(response, (413,))


def test_csv_with_too_many_rows_is_refused(client, auth, users, app):
    app.config["MAX_CSV_ROWS"] = 100
    text = "uscc,name\n" + "x,y\n" * 500
    response = client.post("/api/v1/entities/import", data=text.encode(), content_type="text/csv",
                           headers=auth.headers("supervisor"))
    assert_refused(response, (413,))
    response = client.post("/api/v1/entities/import", headers=auth.headers("supervisor"),
                           data={"file": (io.BytesIO(text.encode()), "entities.csv", "text/csv")},
                           content_type="multipart/form-data")
    assert_refused(response, (413,))


def test_csv_field_past_the_csv_module_limit_is_not_a_500(client, auth, users, app, caplog):
    from server.entities.services import REQUIRED

    app.config["MAX_CSV_LINE_BYTES"] = 1024 * 1024
    text = ",".join(REQUIRED) + '\n"' + "x" * 200_000 + '"' + ",y" * (len(REQUIRED) - 1) + "\n"
    response = client.post("/api/v1/entities/import", data=text.encode(), content_type="text/csv",
                           headers=auth.headers("supervisor"))
    assert_refused(response, (422,))
    assert not [r for r in caplog.records if r.exc_info]


def test_long_csv_line_is_refused(client, auth, users):
    text = "uscc,name\n" + "x" * 100_000 + ",y\n"
    response = client.post("/api/v1/entities/import", data=text.encode(), content_type="text/csv",
                           headers=auth.headers("supervisor"))
    assert_refused(response, (413,))
