from __future__ import annotations

import csv
import io

import pytest
from test_console_seed import seed_console


@pytest.fixture
def seeded(app, users, reference):
    return seed_console()


def test_public_pages_need_no_login(client, seeded):
    listing = client.get("/public")
    assert listing.status_code == 200
    assert "2026年第一季度餐饮服务信用分类抽查" in listing.get_data(as_text=True)
    page = client.get(f"/public/rounds/{seeded['round_id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "抽中主体与检查结果" in html
    assert "发现问题" in html
    assert "5" * 64 in html


def test_public_round_exports(client, seeded):
    text = (
        client.get(f"/public/rounds/{seeded['round_id']}.csv")
        .get_data(as_text=True)
        .lstrip("\ufeff")
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows
    assert {"uscc", "name", "result"} <= set(rows[0])
    assert client.get(f"/public/rounds/{seeded['round_id']}.json").get_json()["rows"]


def test_replay_without_a_pool_snapshot_says_so(client, seeded):
    html = client.get(f"/public/rounds/{seeded['round_id']}/replay").get_data(as_text=True)
    assert "复核抽取" in html
    assert "无法复核" in html


def test_unpublished_rounds_show_their_commitment_but_no_list(client, seeded):
    """Drawn, not yet published: listed with its state and commitment (承诺值), but neither
    the seed nor the drawn entities are public; a draft (no commitment yet) is not public."""
    from server.extensions import db
    from server.rounds.models import SamplingRound

    rnd = db.session.get(SamplingRound, seeded["round_id"])
    rnd.state = "drawn"
    db.session.commit()
    page = client.get(f"/public/rounds/{seeded['round_id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "c" * 64 in html and "5" * 64 not in html and "名单与检查结果待公示" in html
    assert 'id="public-entities"' not in html
    assert client.get(f"/public/rounds/{seeded['round_id']}.csv").status_code == 404
    assert client.get(f"/public/rounds/{seeded['round_id']}/replay").status_code == 404
    listing = client.get("/public").get_data(as_text=True)
    assert "已抽取，名单待公示" in listing and "c" * 64 in listing
    rnd.state = "draft"
    db.session.commit()
    assert client.get(f"/public/rounds/{seeded['round_id']}").status_code == 404
    assert "暂无公示" in client.get("/public").get_data(as_text=True)


def test_public_round_page_shows_no_grades_or_probabilities(client, seeded):
    """The seeded round's drawn entities carry grades and inclusion probabilities internally."""
    html = client.get(f"/public/rounds/{seeded['round_id']}").get_data(as_text=True)
    assert "<th>信用等级</th>" not in html and "入样概率" not in html
    data = client.get(f"/api/v1/public/rounds/{seeded['round_id']}").get_json()
    assert data["entities"]
    assert not {"grade", "inclusion_probability", "forced", "summary"} & set(data["entities"][0])
