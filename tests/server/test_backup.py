"""Backup → wipe → restore gives back every row, every file and an intact audit chain."""

from __future__ import annotations

import datetime as dt
import io
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from tests_helpers_backup import submission_for

from server.audit.services import verify
from server.backup import FILE_DIRS, NOT_BACKED_UP, backup, restore
from server.db import Base
from server.errors import Conflict, Invalid
from server.extensions import db
from server.inspections.models import Attachment
from server.rounds import services as rounds
from server.rounds.models import SamplingRound
from server.simulation.loop import SimulationConfig
from server.simulation.run import build_province
from server.tasks.models import Inspector

DATA = Path(__file__).resolve().parents[2] / "data"
TODAY = dt.date(2026, 3, 2)


def _counts():
    """Rows per backed-up table (the task lists' epoch belongs to each database: not backed up)."""
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables
            if t.name not in NOT_BACKED_UP}


@pytest.fixture
def populated(app, reference, users, client, auth, tmp_path):
    from factories import task

    build_province(db.session, SimulationConfig(entities=200, seed=2, start=TODAY), data_dir=DATA)
    rnd = rounds.create_round(db.session, {
        "name": "备份测试抽查", "channel": "random", "design": "uniform", "department_codes": ["330100-FOOD"],
        "period_start": TODAY, "period_end": TODAY + dt.timedelta(days=30), "ratios": {"overall": 0.2},
        "scope": {"regions": ["330100"]}}, actor="t")
    rounds.run_draw(db.session, rnd, actor="t", today=TODAY, pool_dir=app.config["POOL_DIR"])
    both = [db.session.get(Inspector, users["inspector"].inspector_id),
            db.session.get(Inspector, users["inspector2"].inspector_id)]
    t = task(both)
    headers = auth.headers("inspector")
    body, files = submission_for(t)
    sub = client.post("/api/v1/submissions", json=body, headers=headers)
    assert sub.status_code == 201, sub.get_json()
    for checksum, data in files:
        up = client.post(f"/api/v1/submissions/{sub.get_json()['id']}/attachments",
                         data={"file": (io.BytesIO(data), "file.png"), "checksum": checksum},
                         headers=headers, content_type="multipart/form-data")
        assert up.status_code in (200, 201), up.get_json()
    return rnd.id, {c: d for c, d in files}


def _dirs(app):
    return {k: app.config[k] for k in FILE_DIRS}


def test_round_trip_restores_rows_files_and_chain(app, populated, tmp_path):
    before = _counts()
    archive = tmp_path / "backup.tar.gz"
    manifest = backup(db.session, archive, _dirs(app))
    assert manifest["tables"]["entities"]["rows"] == before["entities"] == 201  # province + task factory
    # wipe the database and the files, as after a lost disk
    db.session.remove()
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    for key in FILE_DIRS:
        for p in Path(app.config[key]).rglob("*"):
            if p.is_file():
                p.unlink()
    restore(db.session, archive, _dirs(app))
    assert _counts() == before
    round_id, files = populated
    stored = db.session.scalars(select(Attachment).where(Attachment.path.is_not(None))).all()
    assert len(stored) == len(files) > 0
    for att in stored:
        assert Path(att.path).read_bytes() == files[att.checksum]
    assert verify(db.session).ok
    rnd = db.session.get(SamplingRound, round_id)
    assert rounds.replay(db.session, rnd)["draw_matches"]
    # new rows after a restore get fresh ids (PostgreSQL sequences moved past the restored ones)
    from factories import entity

    fresh = entity()
    db.session.commit()
    assert fresh.id > max(db.session.scalars(select(func.max(Base.metadata.tables["entities"].c.id)
                                                     ).where(Base.metadata.tables["entities"].c.id != fresh.id)))


def test_restore_refuses_a_non_empty_database_and_a_damaged_archive(app, populated, tmp_path):
    archive = tmp_path / "b.tar.gz"
    backup(db.session, archive, _dirs(app))
    before = _counts()
    with pytest.raises(Conflict):
        restore(db.session, archive, _dirs(app))
    assert _counts() == before
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(damaged, "w:gz") as dst:
        for m in src.getmembers():
            data = src.extractfile(m).read()
            if m.name == "tables/entities.jsonl":
                data = data.replace("杭州".encode(), "北京".encode(), 1)
            m.size = len(data)
            dst.addfile(m, io.BytesIO(data))
    db.session.remove()
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    with pytest.raises(Invalid, match="校验失败"):
        restore(db.session, damaged, _dirs(app))
    assert sum(_counts().values()) == 0


def test_cli_backup_and_restore(app, populated, runner, tmp_path):
    archive = tmp_path / "cli.tar.gz"
    out = runner.invoke(args=["backup", str(archive)])
    assert out.exit_code == 0, out.output
    refused = runner.invoke(args=["restore", str(archive)])
    assert refused.exit_code != 0 and "非空" in refused.output


def test_a_restored_database_starts_a_new_task_list_epoch(app, populated, tmp_path):
    """No handheld's ETag from before a restore may match a list of the restored database."""
    def epoch() -> int:
        return int(db.session.execute(text("SELECT value FROM task_list_epoch")).scalar_one())

    before = epoch()
    archive = tmp_path / "backup.tar.gz"
    backup(db.session, archive, _dirs(app))
    db.session.remove()
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    restore(db.session, archive, _dirs(app))
    assert epoch() != before
