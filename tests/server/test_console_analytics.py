from __future__ import annotations

import csv
import io

import pytest
from test_console_seed import login, seed_console

from server.analytics.services import hit_rates
from server.extensions import db


@pytest.fixture
def seeded(app, users, reference):
    return seed_console()


def test_analytics_page_shows_every_dimension_with_the_service_figures(client, seeded):
    login(client, "analyst")
    page = client.get("/analytics")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for label in (
        "按检查渠道",
        "按预警模型",
        "按信用等级",
        "按地区",
        "按行业门类",
        "按期间",
        "风险预警闭环",
    ):
        assert label in html
    for row in hit_rates(db.session, "channel")["rows"]:
        assert f"{100 * row['hit_rate']:.2f}%" in html
    assert 'data-chart="data-channel"' in html
    assert 'type="application/json"' in html
    assert "echarts.min.js" in html
    assert "<script>" not in html  # CSP: no inline script


def test_models_and_estimates_pages_render(client, seeded):
    login(client, "supervisor")
    models = client.get("/analytics/models").get_data(as_text=True)
    assert "提升度与校准" in models
    assert "data-lift" in models
    assert "data-calibration" in models
    assert "模型精确率：按版本" in models
    assert "food_safety" in models
    estimates = client.get("/analytics/estimates").get_data(as_text=True)
    assert "Horvitz" in estimates
    assert "2026年第一季度餐饮服务信用分类抽查" in estimates


@pytest.mark.parametrize(
    "name",
    [
        "warning-loop",
        "hit-rates",
        "channel-periods",
        "grades",
        "model-precision",
        "model-evaluation",
        "ht-estimates",
    ],
)
def test_every_table_exports_as_csv_and_json(client, seeded, name):
    login(client, "analyst")
    response = client.get(f"/export/{name}.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows, name
    doc = client.get(f"/export/{name}.json").get_json()
    assert doc["table"] == name
    assert len(doc["rows"]) == len(rows)


def test_hit_rate_csv_matches_service(client, seeded):
    login(client, "analyst")
    text = client.get("/export/hit-rates.csv?by=grade").get_data(as_text=True).lstrip("\ufeff")
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(text))}
    for row in hit_rates(db.session, "grade")["rows"]:
        assert int(rows[row["key"]]["inspections"]) == row["inspections"]
        assert float(rows[row["key"]]["hit_rate"]) == pytest.approx(row["hit_rate"], abs=1e-6)


def test_lift_and_calibration_exports_need_a_known_model(client, seeded):
    login(client, "analyst")
    lift = client.get("/export/lift.json?model=food_safety").get_json()
    assert lift["rows"][-1]["share"] == 1.0
    assert client.get("/export/calibration.csv?model=nope").status_code == 422


def test_analytics_requires_login_and_an_office_role(client, seeded):
    assert client.get("/analytics").status_code == 302
    login(client, "inspector")
    assert client.get("/analytics").status_code == 403


def test_bad_filter_is_a_clear_error(client, seeded):
    login(client, "analyst")
    response = client.get("/analytics?start=2026-13-01")
    assert response.status_code == 422
    assert "YYYY-MM-DD" in response.get_data(as_text=True)
