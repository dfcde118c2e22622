from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select
from test_console_seed import login, seed_console

from server.extensions import db
from server.rounds.models import DrawnEntity, SamplingRound
from server.tasks.models import Task

ROUND_FORM = {
    "name": "控制台测试抽查",
    "channel": "credit_weighted",
    "design": "stratified",
    "department_codes": "330100-FOOD",
    "check_item_codes": ["FS01", "FS03"],
    "scope_regions": "330100",
    "period_start": "2026-07-01",
    "period_end": "2026-09-30",
    "ratio_A": "20",
    "ratio_B": "30",
    "ratio_C": "50",
    "ratio_D": "80",
    "ratio_overall": "",
    "force_warning_levels": "red",
    "inspected_within_days": "",
    "registered_within_days": "30",
    "pool_departments": "330100-FOOD",
    "inspectors_per_task": "2",
    "workload_cap": "",
    "recusal_conflicts": "1",
    "recusal_previous": "1",
}


@pytest.fixture
def seeded(app, users, reference):
    return seed_console()


def test_rounds_list_and_form_render_for_a_supervisor(client, seeded):
    login(client, "supervisor")
    html = client.get("/rounds").get_data(as_text=True)
    assert "2026年第一季度餐饮服务信用分类抽查" in html
    assert "新建抽查计划" in html
    form = client.get("/rounds/new").get_data(as_text=True)
    for field in (
        'name="name"',
        "scope_regions",
        "scope_industries",
        "scope_entity_types",
        "scope_business_types",
        "scope_licence_kinds",
        "ratio_A",
        "ratio_D",
        "ratio_overall",
        "force_warning_levels",
        "inspected_within_days",
        "registered_within_days",
        "drawn_this_year",
        "a_grade_no_disturbance",
        "pool_departments",
        "inspectors_per_task",
        "workload_cap",
        "recusal_conflicts",
        "recusal_previous",
        "csrf_token",
    ):
        assert field in form, field


def test_supervisor_defines_previews_draws_and_publishes_a_round(client, seeded, tmp_path, app):
    app.config["POOL_DIR"] = str(tmp_path / "pools")
    login(client, "supervisor")
    created = client.post("/rounds/new", data=ROUND_FORM)
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    rnd = db.session.scalar(select(SamplingRound).where(SamplingRound.name == "控制台测试抽查"))
    assert rnd.state == "committed"
    assert rnd.ratios == {"A": 0.2, "B": 0.3, "C": 0.5, "D": 0.8}
    assert rnd.scope == {"regions": ["330100"]}
    assert rnd.force_warning_levels == ["red"]
    assert rnd.exclusions["registered_within_days"] == 30
    detail = client.get(f"/rounds/{rnd.id}").get_data(as_text=True)
    assert "抽取预览" in detail
    assert "预计抽取" in detail
    assert rnd.seed not in detail

    drawn = client.post(f"/rounds/{rnd.id}/draw", follow_redirects=True)
    assert drawn.status_code == 200
    html = drawn.get_data(as_text=True)
    assert "抽取完成" in html
    assert "任务进度与结果" in html
    db.session.expire_all()
    n = len(db.session.scalars(select(DrawnEntity).where(DrawnEntity.round_id == rnd.id)).all())
    assert n > 0
    assert rnd.seed in html
    assert db.session.scalars(select(Task).where(Task.round_id == rnd.id)).first() is not None
    again = client.post(f"/rounds/{rnd.id}/draw", follow_redirects=True).get_data(as_text=True)
    assert "已抽取" in again  # a second draw is refused, with the reason

    exported = (
        client.get(f"/export/round-entities.csv?round={rnd.id}")
        .get_data(as_text=True)
        .lstrip("\ufeff")
    )
    assert len(list(csv.DictReader(io.StringIO(exported)))) == n

    published = client.post(f"/rounds/{rnd.id}/publish", follow_redirects=True).get_data(
        as_text=True
    )
    assert "已公示" in published
    client.post("/logout")
    public = client.get(f"/public/rounds/{rnd.id}").get_data(as_text=True)
    assert "控制台测试抽查" in public
    assert rnd.seed in public
    replay = client.get(f"/public/rounds/{rnd.id}/replay").get_data(as_text=True)
    assert "复核通过" in replay


def test_invalid_round_is_shown_again_with_the_reason(client, seeded):
    login(client, "supervisor")
    bad = dict(ROUND_FORM, period_end="2026-01-01")
    response = client.post("/rounds/new", data=bad)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "period_end" in html
    assert "控制台测试抽查" in html


def test_analyst_sees_rounds_but_cannot_write(client, seeded):
    login(client, "analyst")
    assert client.get("/rounds").status_code == 200
    assert "新建抽查计划" not in client.get("/rounds").get_data(as_text=True)
    assert client.get(f"/rounds/{seeded['round_id']}").status_code == 200
    assert client.get("/rounds/new").status_code == 403
    assert client.post("/rounds/new", data=ROUND_FORM).status_code == 403
    assert client.post(f"/rounds/{seeded['round_id']}/draw").status_code == 403
    assert client.post(f"/rounds/{seeded['round_id']}/publish").status_code == 403
    assert (
        db.session.scalar(select(SamplingRound).where(SamplingRound.name == "控制台测试抽查"))
        is None
    )


def test_ht_estimate_agrees_with_the_simulator(client, seeded, tmp_path, app):
    import datetime as dt

    from server.console.queries import ht_estimates
    from server.inspections.models import InspectionResult
    from server.simulation.run import _ht_estimate

    app.config["POOL_DIR"] = str(tmp_path / "pools")
    login(client, "supervisor")
    client.post("/rounds/new", data=ROUND_FORM)
    rnd = db.session.scalar(select(SamplingRound).where(SamplingRound.name == "控制台测试抽查"))
    client.post(f"/rounds/{rnd.id}/draw")
    tasks = db.session.scalars(select(Task).where(Task.round_id == rnd.id).order_by(Task.id)).all()
    for i, t in enumerate(tasks):
        t.state = "done"
        db.session.add(
            InspectionResult(
                task_id=t.id,
                entity_id=t.entity_id,
                channel=t.channel,
                round_id=rnd.id,
                inspected_on=dt.date(2026, 8, 1),
                problem_found=i % 3 == 0,
                problem_domains=[],
                checked_domains=["food_safety"],
                failed_items=[],
            )
        )
    db.session.commit()
    mine = next(r for r in ht_estimates(db.session) if r["round_id"] == rnd.id)
    mean, low, high = _ht_estimate(db.session, db.session.get(SamplingRound, rnd.id))
    assert mine["ht_rate"] == pytest.approx(mean)
    assert mine["ci95"] == pytest.approx([low, high])
    assert mine["population"] == rnd.pool_size


def _count_rounds():
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(SamplingRound))


@pytest.mark.parametrize(("change", "field", "fragment"), [
    ({"inspectors_per_task": "0"}, "inspectors_per_task", "至少两名执法人员"),  # was saved as 2
    ({"inspectors_per_task": ""}, "inspectors_per_task", "不少于 2 的整数"),
    ({"ratio_A": "0", "ratio_B": "0", "ratio_C": "0", "ratio_D": "0"}, "ratio_A", "不能全部为 0"),
    ({"ratio_B": "150"}, "ratio_B", "0% 到 100%"),
    ({"ratio_C": "很多"}, "ratio_C", "应为数字"),
    ({"design": "uniform", "ratio_overall": "0"}, "ratio_overall", "不能全部为 0"),
    ({"workload_cap": "0"}, "workload_cap", "正整数"),
    ({"check_item_codes": ["FS01", "DR01"]}, "check_item_codes", "DR01 不属于所选实施部门的职责范围"),
    ({"scope_regions": "330200"}, "scope_regions", "宁波市 不在所选实施部门的管辖范围内"),
])
def test_bad_input_is_refused_next_to_its_field_and_the_form_keeps_what_was_typed(client, seeded, change, field,
                                                                                  fragment):
    login(client, "supervisor")
    before = _count_rounds()
    response = client.post("/rounds/new", data=dict(ROUND_FORM, **change))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    start = html.index(f'id="error-{field}"')
    assert fragment in html[start:start + 300]
    assert "0 到 1" not in html  # the form asks for percent, and so do its messages
    assert 'value="控制台测试抽查"' in html  # what the user typed is kept
    typed = change.get(field)
    if isinstance(typed, str) and typed:
        assert f'value="{typed}"' in html or f'value="{typed}" selected' in html or typed in html
    assert _count_rounds() == before


def test_ratios_typed_with_a_percent_sign_are_read_as_percent(client, seeded):
    login(client, "supervisor")
    response = client.post("/rounds/new", data=dict(ROUND_FORM, ratio_A="2.5%", ratio_D="100"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    rnd = db.session.scalar(select(SamplingRound).where(SamplingRound.name == "控制台测试抽查"))
    assert rnd.ratios == {"A": 0.025, "B": 0.3, "C": 0.5, "D": 1.0}
    assert rnd.inspectors_per_task == 2 and rnd.inspector_pool == {"departments": ["330100-FOOD"]}


def test_the_draw_reports_who_cannot_be_inspected_and_why(client, seeded, tmp_path, app):
    """An entity no qualified inspector can take is listed with its reason on the round page."""
    from server.tasks.models import Inspector

    app.config["POOL_DIR"] = str(tmp_path / "pools")
    for ins in db.session.scalars(select(Inspector).where(Inspector.department_code == "330100-FOOD")):
        ins.domains = ["price_violation"]  # nobody certified for food safety today
    db.session.commit()
    login(client, "supervisor")
    assert client.post("/rounds/new", data=ROUND_FORM).status_code == 302
    rnd = db.session.scalar(select(SamplingRound).where(SamplingRound.name == "控制台测试抽查"))
    html = client.post(f"/rounds/{rnd.id}/draw", follow_redirects=True).get_data(as_text=True)
    tasks = db.session.scalars(select(Task).where(Task.round_id == rnd.id)).all()
    assert tasks and {t.state for t in tasks} == {"infeasible"}
    assert f"有 {len(tasks)} 户无法实施" in html
    section = html[html.index('id="infeasible"'):]
    assert f"无法实施的主体（{len(tasks)} 户）" in section
    assert "没有具备所查事项执法资格的人员" in section
    assert all(t.entity.uscc in section for t in tasks)
