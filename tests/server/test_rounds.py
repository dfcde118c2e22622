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
