"""Who may open and post what, and CSRF on the console's forms."""

from __future__ import annotations

import pytest
from test_console_seed import login, seed_console

READ_PAGES = [
    "/analytics",
    "/analytics/models",
    "/analytics/estimates",
    "/rounds",
    "/warnings",
    "/inspectors",
    "/export/grades.csv",
]


@pytest.fixture
def seeded(app, users, reference):
    return seed_console()


@pytest.mark.parametrize("role", ["supervisor", "analyst", "admin"])
def test_office_roles_read_every_console_page(client, seeded, role):
    login(client, role)
    for path in READ_PAGES:
        assert client.get(path).status_code == 200, path
    assert client.get(f"/rounds/{seeded['round_id']}").status_code == 200


def test_inspector_is_refused_the_office_pages(client, seeded):
    login(client, "inspector")
    for path in READ_PAGES:
        assert client.get(path).status_code == 403, path


def test_anonymous_visitors_are_sent_to_login(client, seeded):
    for path in READ_PAGES:
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/login" in response.headers["Location"], path


def test_navigation_shows_only_what_the_role_may_open(client, seeded):
    login(client, "analyst")
    html = client.get("/").get_data(as_text=True)
    assert "命中率分析" in html
    assert "预警看板" in html
    assert "抽查计划" in html


def test_posts_without_a_csrf_token_are_refused(client, seeded, app):
    login(client, "supervisor")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert (
            client.post(
                "/warnings/dispatch", data={"ids": [str(seeded["open_warning_ids"][0])]}
            ).status_code
            == 400
        )
        assert client.post("/rounds/new", data={"name": "x"}).status_code == 400
        assert client.post(f"/rounds/{seeded['round_id']}/publish").status_code == 400
        # with the token from the page, the same post goes through
        html = client.get("/warnings").get_data(as_text=True)
        token = html.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        ok = client.post(
            "/warnings/dispatch",
            data={"ids": [str(seeded["open_warning_ids"][0])], "csrf_token": token},
        )
        assert ok.status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
