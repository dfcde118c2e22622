"""Publication (一公开): the clock per entity, result categories, what the public sees."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from pathlib import Path

import numpy as np
import pytest
from factories import department, entity, form, inspector
from sqlalchemy import select

import sampling.seed as seed_lib
from server import workdays
from server.entities.models import Entity
from server.extensions import db
from server.inspections.models import InspectionResult
from server.publication import services as publication
from server.rounds import services
from server.rounds.models import DrawnEntity, SamplingRound
from server.tasks.models import Task
from server.workdays import WorkCalendar

DRAW_DAY = dt.date(2026, 9, 1)
NO_FILES = Path(__file__).parent / "no-such-holiday-dir"


# ---------------------------------------------------------------------------- working days
def test_deadline_crosses_national_day_and_the_make_up_saturday():
    cal = workdays.official_calendar(NO_FILES)
    # 2026: 中秋 9-25 (Fri), 国庆 10-01..10-07 off, 10-10 (Sat) a make-up working day (调休)
    assert not cal.is_working_day(dt.date(2026, 9, 25))
    assert not cal.is_working_day(dt.date(2026, 10, 5))
    assert cal.is_working_day(dt.date(2026, 10, 10))
    assert cal.is_working_day(dt.date(2026, 9, 20))  # a Sunday worked before 国庆
    assert cal.add(dt.date(2026, 9, 24), 20) == dt.date(2026, 10, 29)
    # a plain weekday count would have said 10-22
    assert WorkCalendar().add(dt.date(2026, 9, 24), 20) == dt.date(2026, 10, 22)
    # the 调休 Saturday counts: completion on Fri 10-09 → 10-10 is working day 1
    assert cal.add(dt.date(2026, 10, 9), 1) == dt.date(2026, 10, 10)
    assert cal.between(dt.date(2026, 9, 30), dt.date(2026, 10, 10)) == 3  # 10-08, 10-09, 10-10
    # vectorised == one by one
    starts = np.array(["2026-09-24", "2026-09-26", "2026-10-09", "NaT"], dtype="datetime64[D]")
    due = cal.add_many(starts, 20)
    assert [str(d) for d in due[:3]] == [str(cal.add(dt.date.fromisoformat(str(s)), 20)) for s in starts[:3]]
    assert np.isnat(due[3])
    assert cal.names[dt.date(2026, 10, 1)] == "国庆节"
    assert cal.warning(dt.date(2026, 9, 24), dt.date(2026, 10, 29)) is None


def test_a_year_without_an_arrangement_is_an_explicit_warning(tmp_path, caplog):
    cal = workdays.official_calendar(tmp_path)
    with caplog.at_level(logging.WARNING, logger="server.workdays"):
        text = cal.warning(dt.date(2026, 12, 20), cal.add(dt.date(2026, 12, 20), 20))
    assert text is not None and "2027年节假日安排未载入" in text and "2027.csv" in text
    assert any("2027" in r.getMessage() for r in caplog.records)
    # the bureau adds the State Council's 2027 arrangement as a file: no warning, its days count
    (tmp_path / "2027.csv").write_text(
        "date,kind,name\n2027-01-01,holiday,元旦\n2027-01-04,holiday,元旦\n2027-01-09,workday,元旦\n",
        encoding="utf-8")
    cal = workdays.official_calendar(tmp_path)
    assert cal.warning(dt.date(2026, 12, 20), dt.date(2027, 1, 20)) is None
    assert not cal.is_working_day(dt.date(2027, 1, 4)) and cal.is_working_day(dt.date(2027, 1, 9))
    # 12-31 (Thu) + 3: 01-01 and 01-04 off, 01-05, 01-06, 01-07
    assert cal.add(dt.date(2026, 12, 31), 3) == dt.date(2027, 1, 7)


def test_a_bad_arrangement_file_names_the_line(tmp_path):
    (tmp_path / "2027.csv").write_text("date,kind,name\n2027-02-30,holiday,春节\n", encoding="utf-8")
    with pytest.raises(workdays.CalendarFileError, match="第 2 行"):
        workdays.official_calendar(tmp_path)


# ---------------------------------------------------------------------------- a drawn round
@pytest.fixture
def drawn(app, reference, tmp_path):
    """A round of 40 entities drawn at half the pool, with tasks; nothing inspected yet."""
    department("330100-FOOD", domains=["food_safety"])
    for i in range(4):
        inspector(f"检查员{i}", "330100-FOOD")
    form()
    for i in range(40):
        entity(credit_grade="ABCD"[i % 4], region_code="330106", business_type="catering")
    db.session.commit()
    rnd = services.create_round(db.session, {
        "name": "2026年第三季度餐饮信用分类抽查", "channel": "credit_weighted", "design": "stratified",
        "department_codes": ["330100-FOOD"], "check_item_codes": [], "scope": {"regions": ["330100"]},
        "period_start": "2026-09-01", "period_end": "2026-11-30",
        "ratios": {"A": 0.5, "B": 0.5, "C": 0.5, "D": 0.5}}, actor="t")
    services.run_draw(db.session, rnd, actor="t", today=DRAW_DAY, pool_dir=tmp_path)
    return rnd


def _tasks(rnd: SamplingRound) -> list[Task]:
    return list(db.session.scalars(select(Task).where(Task.round_id == rnd.id).order_by(Task.id)))


def _result(task: Task, day: dt.date, *, category: str | None, follow_up: str | None = None,
            problem: bool | None = None) -> None:
    problem = category not in ("no_problem", "not_operating") if problem is None else problem
    db.session.add(InspectionResult(
        task_id=task.id, entity_id=task.entity_id, channel=task.channel, round_id=task.round_id,
        inspected_on=day, problem_found=problem, problem_domains=[], checked_domains=["food_safety"],
        failed_items=[], summary="内部备注：负责人手机 13800000000", result_category=category, follow_up=follow_up))
    task.state, task.problem_found = "done", problem


def test_each_result_is_due_20_working_days_after_its_own_completion(drawn):
    t1, t2, t3 = _tasks(drawn)[:3]
    _result(t1, dt.date(2026, 9, 24), category="no_problem")
    _result(t2, dt.date(2026, 10, 9), category="problem_corrected", follow_up="rectification_ordered")
    db.session.commit()
    cal = workdays.official_calendar(NO_FILES)
    clock = publication.deadlines(db.session, drawn, calendar=cal, today=dt.date(2026, 10, 30))
    by_entity = {r["uscc"]: r for r in clock["rows"]}
    uscc = {t.id: db.session.get(Entity, t.entity_id).uscc for t in (t1, t2, t3)}
    # from each inspection's completion, not from the draw (2026-09-01 + 20 = 2026-09-29)
    assert by_entity[uscc[t1.id]]["due_on"] == "2026-10-29"
    assert by_entity[uscc[t2.id]]["due_on"] == str(cal.add(dt.date(2026, 10, 9), 20)) == "2026-11-05"
    assert uscc[t3.id] not in by_entity  # not inspected: no clock yet
    # the round is not published: the first is overdue on 10-30, the second due in 4 working days (10-10 worked)
    assert by_entity[uscc[t1.id]]["status"] == "overdue"
    assert by_entity[uscc[t2.id]]["status"] == "due" and by_entity[uscc[t2.id]]["working_days_left"] == 4
    assert (clock["completed"], clock["overdue"], clock["due"]) == (2, 1, 1)
    assert clock["calendar_warning"] is None
    # published on 11-02: the first late, the second on time
    services.publish(db.session, drawn, actor="t")
    drawn.published_at = dt.datetime(2026, 11, 2, 9, 0)
    db.session.commit()
    db.session.execute(InspectionResult.__table__.update().values(created_at=dt.datetime(2026, 10, 9, 18)))
    clock = publication.deadlines(db.session, drawn, calendar=cal, today=dt.date(2026, 11, 3))
    assert {r["uscc"]: r["status"] for r in clock["rows"]} == {uscc[t1.id]: "late", uscc[t2.id]: "on_time"}


def test_the_console_round_page_shows_overdue_results_and_the_calendar_warning(drawn, client, users, app):
    from test_console_seed import login

    t1, t2 = _tasks(drawn)[:2]
    _result(t1, dt.date(2026, 9, 24), category="no_problem")
    _result(t2, dt.date(2026, 12, 21), category="refused")  # due in 2027: no arrangement known
    db.session.commit()
    app.config["HOLIDAYS_DIR"] = str(NO_FILES)
    login(client, "supervisor")
    html = client.get(f"/rounds/{drawn.id}").get_data(as_text=True)
    assert 'id="publication-clock"' in html
    assert "已逾期未公示" in html and "2026-10-29" in html
    assert "2027年节假日安排未载入" in html


# ---------------------------------------------------------------------------- what the public sees
def test_a_committed_round_is_public_with_its_commitment_before_the_draw(app, reference, client):
    from server.reference.models import Department

    dept_name = db.session.get(Department, "330100-FOOD").name
    rnd = services.create_round(db.session, {
        "name": "2026年第四季度价格行为双随机抽查", "channel": "random", "design": "uniform",
        "department_codes": ["330100-FOOD"], "check_item_codes": [], "scope": {"regions": ["330100"]},
        "period_start": "2026-10-01", "period_end": "2026-12-31", "ratios": {"overall": 0.05}}, actor="t")
    items = client.get("/api/v1/public/rounds").get_json()["items"]
    assert [(r["id"], r["state"], r["seed_commitment"], r["seed"]) for r in items] == [
        (rnd.id, "committed", rnd.seed_commitment, None)]
    assert items[0]["departments"] == [dept_name] and items[0]["ratios"][0]["text"] == "总体 5%"
    assert items[0]["scope"] == {"regions": ["杭州市"]}
    listing = client.get("/public").get_data(as_text=True)
    assert "2026年第四季度价格行为双随机抽查" in listing and rnd.seed_commitment in listing
    assert dept_name in listing and "杭州市" in listing and "总体 5%" in listing
    page = client.get(f"/public/rounds/{rnd.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert rnd.seed_commitment in html and "尚未抽取" in html and rnd.seed not in html
    detail = client.get(f"/api/v1/public/rounds/{rnd.id}").get_json()
    assert detail["seed"] is None and detail["entities"] == [] and detail["scope"]
    assert client.get(f"/api/v1/public/rounds/{rnd.id}/pool.csv").status_code == 404


def test_a_drawn_round_shows_no_list_and_no_seed_until_published(drawn, client):
    detail = client.get(f"/api/v1/public/rounds/{drawn.id}").get_json()
    assert detail["state"] == "drawn" and detail["entities"] == [] and detail["seed"] is None
    assert detail["pool_digest"] == drawn.pool_digest
    assert drawn.seed not in client.get(f"/public/rounds/{drawn.id}").get_data(as_text=True)
    assert client.get(f"/public/rounds/{drawn.id}.json").status_code == 404


def test_public_json_page_and_pool_file_hide_undrawn_grades_weights_and_probabilities(drawn, client):
    services.publish(db.session, drawn, actor="t")
    drawn_ids = set(db.session.scalars(select(DrawnEntity.entity_id).where(DrawnEntity.round_id == drawn.id)))
    undrawn = db.session.scalars(select(Entity).where(Entity.id.not_in(drawn_ids))).all()
    assert undrawn and drawn_ids
    data = client.get(f"/api/v1/public/rounds/{drawn.id}").get_json()
    page = client.get(f"/public/rounds/{drawn.id}").get_data(as_text=True)
    export = client.get(f"/public/rounds/{drawn.id}.csv").get_data(as_text=True).lstrip("\ufeff")
    pool = client.get(f"/api/v1/public/rounds/{drawn.id}/pool.csv").get_data(as_text=True)
    forbidden = {"grade", "credit_grade", "stratum", "weight", "inclusion_probability", "forced", "summary"}
    for e in data["entities"]:
        assert not forbidden & set(e), set(e)
        assert {"name", "uscc", "result", "follow_up_label"} <= set(e)
    assert not forbidden & set(next(csv.DictReader(io.StringIO(export))))
    assert "<th>信用等级</th>" not in page and "入样概率" not in page and "13800000000" not in page
    for e in undrawn:  # nothing ties a row of the published pool to an entity that was not drawn
        for text in (pool, page, export, str(data)):
            assert e.uscc not in text and e.name not in text
    # the pool file has what replay needs, and matches the digest fixed at the draw
    rows = list(csv.DictReader(io.StringIO(pool)))
    assert list(rows[0]) == ["key", "stratum", "weight", "forced", "excluded"]
    digest = seed_lib.pool_digest([r["key"] for r in rows], [int(r["stratum"]) for r in rows],
                         [float(r["weight"]) for r in rows], [r["forced"] == "1" for r in rows],
                         [r["excluded"] == "1" for r in rows])
    assert digest == drawn.pool_digest == data["pool_digest"]
    # each drawn entity's published salt opens exactly one row of the file
    keys = {r["key"] for r in rows}
    opened = seed_lib.unit_keys([e["uscc"] for e in data["entities"]], [e["replay_salt"] for e in data["entities"]])
    assert set(opened.tolist()) <= keys and len(opened) == len(drawn_ids)
    check = client.get(f"/api/v1/public/rounds/{drawn.id}/replay").get_json()
    assert check["pool_digest_matches"] and check["draw_matches"] and check["seed_matches_commitment"]


def test_replay_fails_when_a_published_entity_is_not_the_row_drawn(drawn):
    services.publish(db.session, drawn, actor="t")
    first = db.session.scalar(select(DrawnEntity).where(DrawnEntity.round_id == drawn.id).limit(1))
    other = db.session.scalar(select(Entity.id).where(
        Entity.id.not_in(select(DrawnEntity.entity_id).where(DrawnEntity.round_id == drawn.id))).limit(1))
    first.entity_id = other  # the list names someone the draw did not pick
    db.session.commit()
    check = services.replay(db.session, drawn)
    assert check["pool_digest_matches"] and not check["draw_matches"]


def test_results_are_published_as_categories_with_follow_up_and_infeasible_with_reason(drawn, client):
    tasks = _tasks(drawn)
    _result(tasks[0], dt.date(2026, 9, 10), category="problem_corrected", follow_up="rectification_ordered")
    _result(tasks[1], dt.date(2026, 9, 11), category="unreachable", follow_up="listed_abnormal")
    _result(tasks[2], dt.date(2026, 9, 12), category=None, problem=False)  # filed before categories
    _result(tasks[3], dt.date(2026, 9, 12), category=None, problem=True, follow_up="case_referred")
    tasks[4].state, tasks[4].state_reason = "infeasible", "经营场所已拆除，无法实施现场检查"
    db.session.commit()
    services.publish(db.session, drawn, actor="t")
    data = client.get(f"/api/v1/public/rounds/{drawn.id}").get_json()
    uscc = {t.id: db.session.get(Entity, t.entity_id).uscc for t in tasks}
    by = {e["uscc"]: e for e in data["entities"]}
    assert (by[uscc[tasks[0].id]]["result"], by[uscc[tasks[0].id]]["follow_up_label"]) == (
        "发现问题已责令改正", "责令限期改正")
    assert (by[uscc[tasks[1].id]]["result"], by[uscc[tasks[1].id]]["follow_up_label"]) == (
        "通过登记的住所（经营场所）无法联系", "已列入经营异常名录")
    assert (by[uscc[tasks[2].id]]["result"], by[uscc[tasks[2].id]]["follow_up_label"]) == ("未发现问题", "无需后续处置")
    assert by[uscc[tasks[3].id]]["result"] == "发现问题待后续处理（已移送/已立案）"
    infeasible = by[uscc[tasks[4].id]]
    assert (infeasible["result"], infeasible["reason"], infeasible["status"]) == (
        "无法实施", "经营场所已拆除，无法实施现场检查", "infeasible")
    assert by[uscc[tasks[5].id]]["status_label"] == "待检查" and by[uscc[tasks[5].id]]["result"] is None
    html = client.get(f"/public/rounds/{drawn.id}").get_data(as_text=True)
    for text in ("发现问题已责令改正", "责令限期改正", "通过登记的住所（经营场所）无法联系", "已列入经营异常名录",
                 "无法实施", "经营场所已拆除，无法实施现场检查", "未发现问题"):
        assert text in html, text
    assert "检查结论" not in html
    for token in ("problem_corrected", "rectification_ordered", "unreachable", "listed_abnormal"):
        assert f">{token}<" not in html
    export = list(csv.DictReader(io.StringIO(
        client.get(f"/public/rounds/{drawn.id}.csv").get_data(as_text=True).lstrip("\ufeff"))))
    row = next(r for r in export if r["uscc"] == uscc[tasks[4].id])
    assert (row["result"], row["reason"]) == ("无法实施", "经营场所已拆除，无法实施现场检查")


def test_a_pool_stored_before_keys_still_replays_but_is_not_published(drawn, client):
    """Rounds drawn before anonymised keys: digest over USCCs, file with grades — replay on
    the server only; the file answers 410 with a reason instead of naming every entity."""
    services.publish(db.session, drawn, actor="t")
    with np.load(drawn.pool_path) as z:
        old = {k: z[k] for k in ("uscc", "entity_ids", "strata", "weights", "forced", "excluded")}
    np.savez_compressed(drawn.pool_path, **old)
    drawn.pool_digest = seed_lib.pool_digest(old["uscc"], old["strata"], old["weights"], old["forced"],
                                             old["excluded"])
    db.session.commit()
    check = client.get(f"/api/v1/public/rounds/{drawn.id}/replay").get_json()
    assert check["pool_digest_matches"] and check["draw_matches"] and check["pool_file_public"] is False
    response = client.get(f"/api/v1/public/rounds/{drawn.id}/pool.csv")
    assert response.status_code == 410 and "不予公开" in response.get_json()["message"]
    assert "复核通过" in client.get(f"/public/rounds/{drawn.id}/replay").get_data(as_text=True)


def test_anyone_verifies_a_published_draw_offline_from_the_public_files(drawn, client, runner, tmp_path):
    """`shuangsui draw verify ROUND.json POOL.csv`: no database, only what /api/v1/public serves."""
    import json

    from sampling.replay import parse_pool_csv, verify_publication

    services.publish(db.session, drawn, actor="t")
    record = client.get(f"/api/v1/public/rounds/{drawn.id}").get_json()
    pool_text = client.get(f"/api/v1/public/rounds/{drawn.id}/pool.csv").get_data(as_text=True)
    out = verify_publication(record, parse_pool_csv(pool_text))
    assert out["seed_matches_commitment"] and out["pool_digest_matches"] and out["draw_matches"]
    assert out["replayed"] == out["drawn"] == len(record["entities"]) > 0
    (tmp_path / "round.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "pool.csv").write_text(pool_text, encoding="utf-8")
    result = runner.invoke(args=["draw", "verify", str(tmp_path / "round.json"), str(tmp_path / "pool.csv")])
    assert result.exit_code == 0 and "抽取名单一致" in result.output
    # a list naming someone else, or a regraded pool row, is caught
    forged = dict(record, entities=[dict(record["entities"][0], uscc=record["entities"][1]["uscc"]),
                                    *record["entities"][1:]])
    assert not verify_publication(forged, parse_pool_csv(pool_text))["draw_matches"]
    lines = pool_text.splitlines()
    key, stratum, *rest = lines[1].split(",")
    lines[1] = ",".join([key, str((int(stratum) + 1) % 4), *rest])
    assert not verify_publication(record, parse_pool_csv("\n".join(lines) + "\n"))["pool_digest_matches"]
    (tmp_path / "pool.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(args=["draw", "verify", str(tmp_path / "round.json"), str(tmp_path / "pool.csv")])
    assert result.exit_code == 1 and "名录库摘要不一致" in result.output


@pytest.mark.parametrize(("design", "ratios"), [("uniform", {"overall": 0.3}), ("pps", {"overall": 0.3})])
def test_offline_verification_covers_every_design(drawn, client, tmp_path, design, ratios):
    from sampling.replay import parse_pool_csv, verify_publication

    rnd = services.create_round(db.session, {
        "name": f"{design} 抽查", "channel": "random" if design == "uniform" else "credit_weighted",
        "design": design, "department_codes": ["330100-FOOD"], "check_item_codes": [],
        "scope": {"regions": ["330100"]}, "period_start": "2026-09-01", "period_end": "2026-11-30",
        "ratios": ratios}, actor="t")
    services.run_draw(db.session, rnd, actor="t", today=DRAW_DAY, pool_dir=tmp_path / design)
    services.publish(db.session, rnd, actor="t")
    record = client.get(f"/api/v1/public/rounds/{rnd.id}").get_json()
    pool = parse_pool_csv(client.get(f"/api/v1/public/rounds/{rnd.id}/pool.csv").get_data(as_text=True))
    out = verify_publication(record, pool)
    assert out["seed_matches_commitment"] and out["pool_digest_matches"] and out["draw_matches"]
    assert out["drawn"] > 0
