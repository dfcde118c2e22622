"""The public pages (一公开) in headless Chromium: a committed round with its commitment before
the draw, a published round with result categories, follow-up and 无法实施; the supervisor's
publication clock. Screenshots: public-rounds.png, public-round.png, console-round-clock.png."""

from __future__ import annotations

import datetime as dt

import pytest
from browser_helpers import SCREENSHOTS, login

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def public_data(live_server):
    from sqlalchemy import select

    from server.extensions import db
    from server.inspections.models import InspectionResult
    from server.rounds import services
    from server.rounds.models import SamplingRound
    from server.tasks.models import Task

    rid = live_server["ids"]["round_id"]
    with live_server["app"].app_context():
        rnd = db.session.get(SamplingRound, rid)
        rnd.published_at = dt.datetime(2026, 3, 20, 9, 0)
        results = db.session.scalars(select(InspectionResult).where(InspectionResult.round_id == rid)
                                     .order_by(InspectionResult.id)).all()
        for res, (category, follow_up) in zip(results, [
                ("problem_corrected", "rectification_ordered"), ("no_problem", "none"),
                ("unreachable", "listed_abnormal"), ("problem_referred", "case_referred"),
                ("refused", "case_filed")], strict=False):
            res.result_category, res.follow_up = category, follow_up
            res.problem_found = category != "no_problem"
        last = results[-1]
        task = db.session.get(Task, last.task_id)
        db.session.delete(last)
        task.state, task.state_reason, task.problem_found = "infeasible", "经营场所已拆除，无法实施现场检查", None
        db.session.commit()
        committed = services.create_round(db.session, {
            "name": "2026年第四季度价格行为双随机抽查", "channel": "random", "design": "uniform",
            "department_codes": ["330100-FOOD"], "check_item_codes": [], "scope": {"regions": ["330100"]},
            "period_start": "2026-10-01", "period_end": "2026-12-31", "ratios": {"overall": 0.05}}, actor="t")
        out = {"published": rid, "committed": committed.id, "commitment": committed.seed_commitment}
        db.session.remove()
    return out


def test_the_public_sees_commitments_results_and_no_grades(live_server, public_data, page):
    base = live_server["url"]
    page.goto(f"{base}/public")
    page.wait_for_selector("#public-rounds")
    row = page.locator("#public-rounds tr[data-state=committed]")
    assert public_data["commitment"] in row.inner_text() and "总体 5%" in row.inner_text()
    page.screenshot(path=str(SCREENSHOTS / "public-rounds.png"), full_page=True)

    page.goto(f"{base}/public/rounds/{public_data['published']}")
    page.wait_for_selector("#public-entities")
    headers = page.locator("#public-entities thead th").all_inner_texts()
    assert "信用等级" not in headers and "入样概率" not in headers and "后续处置" in headers
    table = page.locator("#public-entities").inner_text()
    for text in ("发现问题已责令改正", "责令限期改正", "无法实施", "经营场所已拆除，无法实施现场检查", "已列入经营异常名录"):
        assert text in table, text
    page.screenshot(path=str(SCREENSHOTS / "public-round.png"), full_page=True)

    page.goto(f"{base}/public/rounds/{public_data['committed']}")
    assert public_data["commitment"] in page.locator("#seed-commitment").inner_text()
    assert "尚未抽取" in page.locator("#public-pending").inner_text()
    assert not page.js_errors, page.js_errors


def test_the_supervisor_sees_the_publication_clock(live_server, public_data, page):
    base = live_server["url"]
    login(page, base, "supervisor")
    page.goto(f"{base}/rounds/{public_data['published']}")
    page.wait_for_selector("#publication-clock")
    text = page.locator("#publication-clock").inner_text()
    assert "检查结果公示时限" in text and "按期 / 逾期后公示" in text
    page.locator("#verification").screenshot(path=str(SCREENSHOTS / "console-round-clock.png"))
    assert not page.js_errors, page.js_errors
