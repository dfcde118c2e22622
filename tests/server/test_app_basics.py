from __future__ import annotations


def test_healthz_reports_database(client, db_kind):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": db_kind}


def test_openapi_document_lists_the_v1_resources(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = set(spec["paths"])
    for path in ("/api/v1/auth/token", "/api/v1/me", "/api/v1/tasks", "/api/v1/tasks/{task_id}",
                 "/api/v1/entities/{uscc}", "/api/v1/forms/{code}", "/api/v1/laws",
                 "/api/v1/laws/{law_id}/articles/{number}", "/api/v1/submissions",
                 "/api/v1/submissions/{submission_id}/attachments", "/api/v1/warnings",
                 "/api/v1/warnings/{warning_id}/transitions", "/api/v1/analytics/warning-loop"):
        assert path in paths, path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_api_errors_are_json_and_console_errors_are_html(client):
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.get_json()["error"] == "not_found"
    page = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "404" in page.get_data(as_text=True)


def test_security_headers_on_every_response(client):
    response = client.get("/login")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_console_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
