"""The console in headless Chromium: log in as each role, define and run a round, check
that the analytics charts rendered with the API's numbers; screenshots for the docs."""

from __future__ import annotations

import pytest
from browser_helpers import SCREENSHOTS, login

pytestmark = pytest.mark.browser


def chart_values(page, chart_id: str, series: int = 0) -> list:
    return page.evaluate(
        """([id, s]) => {
            const chart = echarts.getInstanceByDom(document.getElementById(id));
            const plain = d => d !== null && typeof d === 'object' && !Array.isArray(d);
            return chart.getOption().series[s].data.map(d => (plain(d) ? d.value : d));
        }""",
        [chart_id, series],
    )


def test_analyst_sees_charts_that_match_the_api(live_server, page):
    base = live_server["url"]
    login(page, base, "analyst")
    page.goto(f"{base}/analytics")
    for chart in ("channel", "periods", "model", "grade", "region", "industry", "grades"):
        page.wait_for_selector(f"#chart-{chart}[data-rendered=true] canvas")
    api = page.request.get(f"{base}/api/v1/analytics/hit-rates?by=channel").json()
    expected = [round(100 * r["hit_rate"], 2) for r in api["rows"]]
    assert chart_values(page, "chart-channel") == expected
    assert len(expected) == 3
    table = page.locator("#table-channel tbody td.rate").all_inner_texts()
    assert table == [f"{100 * r['hit_rate']:.2f}%" for r in api["rows"]]
    loop = page.request.get(f"{base}/api/v1/analytics/warning-loop").json()
    assert (
        page.locator("#loop-table tr[data-figure=issued] td.num").inner_text()
        == f"{loop['issued']:,}"
    )
    # the canvas is not blank: some pixels differ from the background
    painted = page.evaluate("""() => {
        const c = document.querySelector('#chart-channel canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i] < 250 || d[i + 1] < 250 || d[i + 2] < 250) n++;
        }
        return n; }""")
    assert painted > 1000
    assert not page.js_errors, page.js_errors
    page.screenshot(path=str(SCREENSHOTS / "console-analytics.png"), full_page=True)

    page.goto(f"{base}/analytics/models?model=food_safety")
    page.wait_for_selector("#chart-lift[data-rendered=true] canvas")
    page.wait_for_selector("#chart-calibration[data-rendered=true] canvas")
    page.wait_for_selector("#chart-precision[data-rendered=true] canvas")
    lift = chart_values(page, "chart-lift")
    export = page.request.get(f"{base}/export/lift.json?model=food_safety").json()
    assert lift == [round(r["lift"], 3) for r in export["rows"]]
    page.screenshot(path=str(SCREENSHOTS / "console-models.png"), full_page=True)

    page.goto(f"{base}/analytics/estimates")
    page.wait_for_selector("#chart-ht[data-rendered=true] canvas")
    page.screenshot(path=str(SCREENSHOTS / "console-estimates.png"), full_page=True)
    assert not page.js_errors, page.js_errors


def test_supervisor_defines_draws_and_publishes_a_round(live_server, page):
    base = live_server["url"]
    login(page, base, "supervisor")
    page.goto(f"{base}/rounds/new")
    page.fill("input[name=name]", "2026年第三季度餐饮服务双随机抽查（浏览器）")
    page.select_option("select[name=check_item_codes]", ["FS01", "FS03"])
    page.select_option("select[name=scope_regions]", ["330100"])
    for grade, ratio in (("A", "10"), ("B", "25"), ("C", "50"), ("D", "80")):
        page.fill(f"input[name=ratio_{grade}]", ratio)
    page.check("input[name=force_warning_levels][value=red]")
    page.fill("input[name=inspected_within_days]", "")
    page.uncheck("input[name=drawn_this_year]")
    page.screenshot(path=str(SCREENSHOTS / "console-round-new.png"), full_page=True)
    page.click("#round-form button[type=submit]")
    page.wait_for_selector("#preview-table")
    assert "抽取预览" in page.content()
    page.click("#draw-button")
    page.wait_for_selector("#progress-table")
    page.wait_for_selector("#chart-progress[data-rendered=true] canvas")
    assert "抽取完成" in page.content()
    rows = page.locator("#entities-table tbody tr").count()
    assert rows > 0
    page.screenshot(path=str(SCREENSHOTS / "console-round.png"), full_page=True)
    page.click("#publish-button")
    page.wait_for_selector(".state-published")
    round_url = page.url

    page.goto(f"{base}/warnings?state=issued")
    page.wait_for_selector("#warnings-table")
    boxes = page.locator("input[name=ids]")
    if boxes.count():
        boxes.first.check()
        page.click("#dispatch-button")
        page.wait_for_selector(".flash")
        assert "已派发" in page.content()
    page.screenshot(path=str(SCREENSHOTS / "console-warnings.png"), full_page=True)
    page.goto(f"{base}/inspectors")
    page.wait_for_selector("#chart-workload[data-rendered=true] canvas")
    assert not page.js_errors, page.js_errors

    # the public (no login) sees the draw and can replay it
    round_id = round_url.rstrip("/").rsplit("/", 1)[1]
    public = page.context.browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    public.goto(f"{base}/public/rounds/{round_id}")
    assert public.locator("#public-entities tbody tr").count() == rows
    public.goto(f"{base}/public/rounds/{round_id}/replay")
    assert "复核通过" in public.locator("#verdict").inner_text()
    public.screenshot(path=str(SCREENSHOTS / "console-public-replay.png"), full_page=True)
    public.context.close()


@pytest.mark.parametrize("role", ["admin", "analyst", "inspector"])
def test_other_roles_log_in_and_read(live_server, page, role):
    base = live_server["url"]
    login(page, base, role)
    response = page.goto(f"{base}/rounds")
    if role == "inspector":  # the handheld's user: no office pages
        assert response.status == 403
        return
    assert page.locator("#rounds-table").count() == 1
    assert (page.locator("text=新建抽查计划").count() > 0) == (role == "admin")
