from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.reference.models import Department
from server.rounds import services
from server.rounds.models import DrawnEntity, SamplingRound
from server.simulation.loop import SimulationConfig
from server.simulation.run import build_province
from server.tasks.models import Task, TaskAssignment

TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def province(reference, app):
    build_province(db.session, SimulationConfig(entities=400, seed=3, start=TODAY), data_dir=Path(__file__).resolve().parents[2] / "data")
    return app


def _body(**over):
    body = {
        "name": "杭州市餐饮食品安全双随机抽查", "channel": "credit_weighted", "design": "stratified",
        "department_codes": ["330100-FOOD", "330100-PRICE"], "check_item_codes": ["FS09", "PR01"],
        "scope": {"regions": ["330100"]}, "period_start": "2026-03-02", "period_end": "2026-04-30",
        "ratios": {"A": 0.2, "B": 0.3, "C": 0.5, "D": 1.0}, "inspectors_per_task": 2,
    }
    body.update(over)
    return body


@pytest.mark.parametrize(("change", "field", "fragment"), [
    ({"inspectors_per_task": 1}, "inspectors_per_task", "至少两名"),
    ({"ratios": {"A": 0.2, "B": 1.5, "C": 0.5, "D": 1.0}}, "ratios.B", "0 到 1"),
    ({"department_codes": ["999999-XX"]}, "department_codes", "未知部门"),
    ({"check_item_codes": ["NOPE"]}, "check_item_codes", "未知检查事项"),
    ({"period_end": "2026-01-01"}, "period_end", "早于"),
    ({"scope": {"regions": ["110101"]}}, "scope.regions", "未知代码"),
])
def test_bad_round_definitions_are_refused_and_nothing_is_written(reference, client, auth, users, change, field,
                                                                   fragment):
    r = client.post("/api/v1/rounds", json=_body(**change), headers=auth.headers("supervisor"))
    assert r.status_code == 422, r.get_json()
    assert fragment in r.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(SamplingRound)) == 0


def test_only_supervisors_define_and_draw(province, client, auth, users):
    assert client.post("/api/v1/rounds", json=_body(), headers=auth.headers("analyst")).status_code == 403
    assert client.post("/api/v1/rounds", json=_body(), headers=auth.headers("inspector")).status_code == 403
    r = client.post("/api/v1/rounds", json=_body(), headers=auth.headers("supervisor"))
    assert r.status_code == 201
    assert r.get_json()["seed"] is None and len(r.get_json()["seed_commitment"]) == 64
    rid = r.get_json()["id"]
    assert client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("analyst")).status_code == 403


def test_draw_stores_exact_inclusion_probabilities_assigns_two_inspectors_and_replays(province, client, auth,
                                                                                      users):
    rid = client.post("/api/v1/rounds", json=_body(), headers=auth.headers("supervisor")).get_json()["id"]
    preview = client.get(f"/api/v1/rounds/{rid}/preview?today=2026-03-02",
                         headers=auth.headers("supervisor")).get_json()
    assert preview["pool"] > 0 and set(preview["by_grade"]) == {"A", "B", "C", "D"}
    summary = client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor")).get_json()
    drawn = db.session.scalars(select(DrawnEntity).where(DrawnEntity.round_id == rid)).all()
    assert summary["drawn"] == len(drawn) > 0
    ratios = {"A": 0.2, "B": 0.3, "C": 0.5, "D": 1.0}
    for d in drawn:
        assert d.inclusion_probability == pytest.approx(ratios[d.stratum])
    # one task per assigned entity, each with two distinct inspectors of Hangzhou's round departments
    tasks = db.session.scalars(select(Task).where(Task.round_id == rid)).all()
    assert len(tasks) + summary["unassigned"] == len(drawn)
    for t in tasks:
        inspectors = [a.inspector for a in t.assignments]
        assert len({i.id for i in inspectors}) == 2
        assert {i.department_code for i in inspectors} <= {"330100-FOOD", "330100-PRICE"}
        assert t.check_items and set(t.check_items) <= {"FS09", "PR01"}
    # a second draw is refused; the first is untouched
    again = client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor"))
    assert again.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(DrawnEntity)) == len(drawn)
    detail = client.get(f"/api/v1/rounds/{rid}", headers=auth.headers("analyst")).get_json()
    assert detail["seed"] is not None and detail["pool_digest"]
    rnd = db.session.get(SamplingRound, rid)
    check = services.replay(db.session, rnd)
    assert check["seed_matches_commitment"] and check["pool_digest_matches"] and check["draw_matches"]


def test_tampered_pool_is_detected_by_replay(province, client, auth, users):
    rid = client.post("/api/v1/rounds", json=_body(), headers=auth.headers("supervisor")).get_json()["id"]
    client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor"))
    rnd = db.session.get(SamplingRound, rid)
    with np.load(rnd.pool_path) as z:
        data = {k: z[k] for k in z.files}
    data["strata"][:5] = 0  # someone quietly regrades five entities to A (lower odds)
    np.savez_compressed(rnd.pool_path, **data)
    check = services.replay(db.session, rnd)
    assert not check["pool_digest_matches"]


def test_publication_is_public_and_replayable(province, client, auth, users):
    rid = client.post("/api/v1/rounds", json=_body(), headers=auth.headers("supervisor")).get_json()["id"]
    before = client.get(f"/api/v1/public/rounds/{rid}").get_json()  # committed: public, no seed, no list
    assert before["state"] == "committed" and before["seed"] is None and before["entities"] == []
    client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor"))
    assert client.post(f"/api/v1/rounds/{rid}/publish", headers=auth.headers("supervisor")).status_code == 200
    listing = client.get("/api/v1/public/rounds").get_json()["items"]
    assert [r["id"] for r in listing] == [rid]
    page = client.get(f"/api/v1/public/rounds/{rid}").get_json()
    assert page["seed"] and page["entities"] and all(e["uscc"] for e in page["entities"])
    replay = client.get(f"/api/v1/public/rounds/{rid}/replay").get_json()
    assert replay["draw_matches"] is True
    pool = client.get(f"/api/v1/public/rounds/{rid}/pool.csv")
    lines = pool.get_data(as_text=True).splitlines()
    assert lines[0] == "key,stratum,weight,forced,excluded" and len(lines) - 1 >= page["pool_size"]


def test_recusal_keeps_conflicted_inspectors_off_the_task(province, tmp_path):
    from server.tasks.models import Inspector, InspectorConflict

    dept = "330100-FOOD"
    rnd = services.create_round(db.session, _body(department_codes=[dept], check_item_codes=[],
                                                  ratios={"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0}),
                                actor="t")
    pool = services.build_pool(db.session, rnd, today=TODAY)
    inspectors = db.session.scalars(select(Inspector.id).where(Inspector.department_code == dept)).all()
    victim = int(pool.entity_ids[0])
    for ins in inspectors[:-2]:  # every inspector but two has a conflict with this entity
        db.session.add(InspectorConflict(inspector_id=ins, entity_id=victim, reason="近亲属"))
    db.session.commit()
    services.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=tmp_path)
    task = db.session.scalar(select(Task).where(Task.round_id == rnd.id, Task.entity_id == victim))
    assigned = set(db.session.scalars(select(TaskAssignment.inspector_id).where(TaskAssignment.task_id == task.id)))
    assert assigned == set(inspectors[-2:])
    assert db.session.scalar(select(func.count()).select_from(Department)) > 0


def test_a_draw_interrupted_by_the_worker_stopping_leaves_the_round_drawable(province, tmp_path,
                                                                            monkeypatch):
    """gunicorn ends a worker past its timeout with SystemExit: the round goes back to
    "committed" with nothing drawn, and the next attempt draws it."""
    rnd = services.create_round(db.session, _body(), actor="t")

    def stopped(*args, **kwargs):
        raise SystemExit(1)

    monkeypatch.setattr(services, "build_pool", stopped)
    with pytest.raises(SystemExit):
        services.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=tmp_path)
    db.session.refresh(rnd)
    assert rnd.state == "committed"
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.round_id == rnd.id)) == 0
    monkeypatch.undo()
    out = services.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=tmp_path)
    assert out["tasks"] > 0


# ---------------------------------------------------------------- jurisdiction (属地管辖)
def _drawn_regions(rid):
    from server.entities.models import Entity

    return db.session.scalars(select(Entity.region_code).join(DrawnEntity, DrawnEntity.entity_id == Entity.id)
                              .where(DrawnEntity.round_id == rid)).all()


def test_a_city_division_draws_only_in_its_city(province, tmp_path):
    """Issue 19: Hangzhou's food division drew 50 of 62 entities outside Hangzhou."""
    rnd = services.create_round(db.session, _body(department_codes=["330100-FOOD"], check_item_codes=["FS09"],
                                                  scope={}, ratios={"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0}),
                                actor="t")
    from server.entities.models import Entity

    everyone = db.session.scalar(select(func.count()).select_from(Entity))
    hangzhou = db.session.scalar(select(func.count()).select_from(Entity).where(Entity.region_code.like("3301%")))
    assert 0 < hangzhou < everyone
    out = services.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=tmp_path)
    regions = _drawn_regions(rnd.id)
    assert out["pool"] == hangzhou == len(regions)
    assert all(r.startswith("3301") for r in regions)


def test_a_county_bureau_draws_in_its_county_and_a_provincial_department_in_the_province(province, tmp_path):
    from factories import department, inspector

    from server.entities.models import Entity

    department("330106-SAMR", kind="FOOD")  # 西湖区市场监督管理局
    department("330000-FOOD", kind="FOOD")  # 浙江省市场监督管理局
    for k in range(2):
        inspector(f"西湖{k}", "330106-SAMR")
        inspector(f"省局{k}", "330000-FOOD")
    db.session.commit()
    every = {"A": 1.0, "B": 1.0, "C": 1.0, "D": 1.0}
    county = services.create_round(db.session, _body(department_codes=["330106-SAMR"], check_item_codes=["FS09"],
                                                     scope={}, ratios=every), actor="t")
    services.run_draw(db.session, county, actor="t", today=TODAY, pool_dir=tmp_path)
    xihu = db.session.scalar(select(func.count()).select_from(Entity).where(Entity.region_code == "330106"))
    assert sorted(set(_drawn_regions(county.id))) == ["330106"] and len(_drawn_regions(county.id)) == xihu
    provincial = services.create_round(db.session, _body(department_codes=["330000-FOOD"], check_item_codes=["FS09"],
                                                         scope={"regions": ["330200"]}, ratios=every), actor="t")
    services.run_draw(db.session, provincial, actor="t", today=TODAY, pool_dir=tmp_path)
    ningbo = db.session.scalar(select(func.count()).select_from(Entity).where(Entity.region_code.like("3302%")))
    assert len(_drawn_regions(provincial.id)) == ningbo > 0  # the province, narrowed by the round's scope


@pytest.mark.parametrize(("change", "field", "fragment"), [
    ({"scope": {"regions": ["330200"]}}, "scope.regions", "宁波市 不在所选实施部门的管辖范围内"),
    ({"check_item_codes": ["FS09", "DR01"]}, "check_item_codes", "DR01 不属于所选实施部门的职责范围"),
])
def test_rounds_outside_the_departments_remit_are_refused(reference, client, auth, users, change, field, fragment):
    r = client.post("/api/v1/rounds", json=_body(**change), headers=auth.headers("supervisor"))
    assert r.status_code == 422, r.get_json()
    assert fragment in r.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(SamplingRound)) == 0


# ---------------------------------------------------------------- joint inspections (联合抽查)
def _crew(task):
    return [(a.inspector.department_code, set(a.inspector.domains)) for a in task.assignments]


def test_each_joint_task_has_an_inspector_of_every_department_with_level_loads(province, client, auth, users):
    """Issue 19: 3 of 53 joint tasks had both departments; price 14–15 tasks per inspector, food 4–5."""
    rid = client.post("/api/v1/rounds", json=_body(), headers=auth.headers("supervisor")).get_json()["id"]
    summary = client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor")).get_json()
    tasks = db.session.scalars(select(Task).where(Task.round_id == rid)).all()
    assert summary["unassigned"] == 0 and len(tasks) == summary["drawn"] > 10
    per_inspector: dict[str, dict[int, int]] = {"330100-FOOD": {}, "330100-PRICE": {}}
    for t in tasks:
        crew = _crew(t)
        assert {d for d, _ in crew} == {"330100-FOOD", "330100-PRICE"}
        assert all(("food_safety" in dom) if d == "330100-FOOD" else ("price_violation" in dom) for d, dom in crew)
        assert set(t.check_items) <= {"FS09", "PR01"} and sorted(t.domains) == ["food_safety", "price_violation"]
        assert t.department_code == "330100-FOOD"  # the round's first department leads
        for a in t.assignments:
            counts = per_inspector[a.inspector.department_code]
            counts[a.inspector_id] = counts.get(a.inspector_id, 0) + 1
    from server.tasks.models import Inspector

    for dept, counts in per_inspector.items():
        staff = db.session.scalars(select(Inspector.id).where(Inspector.department_code == dept)).all()
        loads = [counts.get(i, 0) for i in staff]
        assert max(loads) - min(loads) <= 1, (dept, loads)  # levelled within each department
    assert sum(per_inspector["330100-FOOD"].values()) == sum(per_inspector["330100-PRICE"].values()) == len(tasks)


def test_joint_round_with_another_agency_sends_its_own_inspectors_for_its_own_items(province, tmp_path):
    rnd = services.create_round(db.session, _body(department_codes=["330100-FOOD", "330100-FIRE"],
                                                  check_item_codes=["FS09", "FI02"]), actor="t")
    out = services.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=tmp_path)
    tasks = db.session.scalars(select(Task).where(Task.round_id == rnd.id)).all()
    assert out["unassigned"] == 0 and len(tasks) == out["drawn"] > 0
    assert len({t.entity_id for t in tasks}) == len(tasks)  # one visit per entity
    for t in tasks:
        crew = _crew(t)
        assert ("330100-FIRE", {"fire_safety"}) in crew
        assert any(d == "330100-FOOD" and "food_safety" in dom for d, dom in crew)


def test_only_qualified_inspectors_are_assigned(province, tmp_path):
    from server.tasks.models import Inspector

    food = db.session.scalars(select(Inspector).where(Inspector.department_code == "330100-FOOD")
                              .order_by(Inspector.id)).all()
    for ins in food[2:]:
        ins.domains = ["price_violation"]  # certified for other work only
    db.session.commit()
    rnd = services.create_round(db.session, _body(department_codes=["330100-FOOD"], check_item_codes=["FS09"]),
                                actor="t")
    services.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=tmp_path)
    assigned = set(db.session.scalars(select(TaskAssignment.inspector_id).join(Task).where(Task.round_id == rnd.id)))
    assert assigned == {food[0].id, food[1].id}


def test_an_entity_nobody_can_inspect_is_reported_and_stored_as_infeasible(province, client, auth, users):
    from server.tasks.models import Inspector

    for ins in db.session.scalars(select(Inspector).where(Inspector.department_code == "330100-PRICE")):
        ins.active = False  # the price division's staff are all away
    db.session.commit()
    rid = client.post("/api/v1/rounds", json=_body(), headers=auth.headers("supervisor")).get_json()["id"]
    summary = client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor")).get_json()
    tasks = db.session.scalars(select(Task).where(Task.round_id == rid)).all()
    assert summary["tasks"] == 0 and summary["unassigned"] == summary["drawn"] == len(tasks) > 0
    reason = "杭州市市场监督管理局价格监督检查和反不正当竞争处没有具备所查事项执法资格的人员"
    assert {i["reason"] for i in summary["infeasible"]} == {reason}
    assert all(i["uscc"] and i["name"] for i in summary["infeasible"])
    assert summary["infeasible_reasons"] == {reason: len(tasks)}
    assert {(t.state, t.state_reason) for t in tasks} == {("infeasible", reason)}
    assert not any(t.assignments for t in tasks)


def test_demo_hands_warnings_only_to_qualified_inspectors(province):
    """Warning-driven tasks too: inspectors named for a warning's task must hold its domain."""
    from factories import entity

    from server.errors import Invalid
    from server.tasks.models import Inspector
    from server.warnings import services as warnings
    from server.warnings.models import Warning

    e = entity(region_code="330106")
    w = Warning(entity_id=e.id, model="metrology", model_version="1", score=0.9, level="red", reasons=[],
                legal_basis=[], state="accepted", region_code="330106", issued_on=TODAY, due_on=TODAY,
                department_code="330100-METRO")
    db.session.add(w)
    db.session.commit()
    food = db.session.scalars(select(Inspector.id).where(Inspector.department_code == "330100-FOOD")).all()[:2]
    with pytest.raises(Invalid, match="不具备"):
        warnings.start_inspection(db.session, w, actor="t", today=TODAY, inspectors=food)
    db.session.rollback()
    task = warnings.start_inspection(db.session, w, actor="t", today=TODAY, rng=1)
    crew = [a.inspector for a in db.session.scalars(select(TaskAssignment).where(TaskAssignment.task_id == task.id))]
    assert len(crew) == 2 and all("metrology" in i.domains and i.department_code == "330100-METRO" for i in crew)


@pytest.mark.parametrize(("change", "fragment"), [
    ({"inspectors_per_task": 0}, "至少两名"),
    ({"ratios": {"A": 0, "B": 0, "C": 0, "D": 0}}, "不能全部为 0"),
    ({"design": "uniform", "ratios": {"overall": 0.0}}, "不能全部为 0"),
    ({"ratios": {"A": 0.1, "B": 0.1, "C": 0.1}}, "ratios.D: 请填写抽查比例"),
])
def test_the_api_refuses_what_the_console_refuses(reference, client, auth, users, change, fragment):
    r = client.post("/api/v1/rounds", json=_body(**change), headers=auth.headers("supervisor"))
    assert r.status_code == 422, r.get_json()
    assert fragment in r.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(SamplingRound)) == 0


def test_every_joint_department_draws_from_its_own_inspectors(reference, app):
    """A console form pre-fills the inspector pool with the supervisor's own division: a
    joint round still uses each participating department's inspector list."""
    rnd = services.create_round(db.session, _body(inspector_pool={"departments": ["330100-FOOD"]}), actor="t")
    assert rnd.inspector_pool["departments"] == ["330100-FOOD", "330100-PRICE"]
