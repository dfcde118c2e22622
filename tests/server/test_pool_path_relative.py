"""``sampling_rounds.pool_path`` is stored relative to POOL_DIR (issue 27, finding 5): a
copied instance replays the draw from its own pool files, not the original's."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import select

from server.extensions import db
from server.rounds import services
from server.rounds.models import SamplingRound, relative_pool_path, resolve_pool_path
from server.simulation.loop import SimulationConfig
from server.simulation.run import build_province

TODAY = dt.date(2026, 3, 2)


def test_relative_and_resolved_paths(tmp_path):
    base = tmp_path / "pools"
    assert relative_pool_path(str(base / "round-1.npz"), base.resolve()) == "round-1.npz"
    assert relative_pool_path("/elsewhere/round-1.npz", base.resolve()) == "/elsewhere/round-1.npz"
    assert resolve_pool_path("round-1.npz", base) == str(base / "round-1.npz")
    assert resolve_pool_path("/legacy/round-1.npz", base) == "/legacy/round-1.npz"


def test_a_copied_instance_replays_its_own_pool(reference, app, client, auth, users, tmp_path):
    build_province(db.session, SimulationConfig(entities=300, seed=3, start=TODAY),
                   data_dir=Path(__file__).resolve().parents[2] / "data")
    body = {
        "name": "复制实例复核", "channel": "random", "design": "stratified",
        "department_codes": ["330100-FOOD"], "check_item_codes": ["FS09"],
        "scope": {"regions": ["330100"]}, "period_start": "2026-03-02", "period_end": "2026-04-30",
        "ratios": {"A": 0.2, "B": 0.3, "C": 0.5, "D": 1.0}, "inspectors_per_task": 2,
    }
    created = client.post("/api/v1/rounds", json=body, headers=auth.headers("supervisor"))
    assert created.status_code == 201, created.get_json()
    rid = created.get_json()["id"]
    assert client.post(f"/api/v1/rounds/{rid}/draw", headers=auth.headers("supervisor")).status_code == 200
    stored = db.session.scalar(select(SamplingRound.__table__.c.pool_path).where(SamplingRound.id == rid))
    assert stored and not Path(stored).is_absolute()
    original = Path(app.config["POOL_DIR"])
    copy = tmp_path / "copied-instance" / "pools"
    shutil.copytree(original, copy)
    shutil.rmtree(original)  # the original instance is gone (or changed): the copy must not need it
    app.config["POOL_DIR"] = str(copy)
    db.session.expire_all()
    rnd = db.session.get(SamplingRound, rid)
    assert rnd.pool_path == str(copy / stored)
    check = services.replay(db.session, rnd)
    assert check["pool_digest_matches"] and check["draw_matches"]
