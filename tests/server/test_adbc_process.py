"""ADBC (Arrow) reads and writes on a SQLite file: in a helper process, never next to the
``sqlite3`` module's copy of SQLite; a scoring run's rows stored through it are the rows the
session would store, in one transaction, and the database stays sound."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from factories import sqlite_file_app
from sqlalchemy import delete, select, text

from server import adbc_process
from server.extensions import db

ROOT = Path(__file__).resolve().parents[2]
START = dt.date(2026, 1, 5)


def test_an_adbc_read_leaves_this_process_sqlite_connections_their_wal(tmp_path):
    """Run in this process, ADBC's copy of SQLite sees no other connection when it closes,
    checkpoints and deletes the WAL under the open ``sqlite3`` connection (the split that
    corrupted a database). From the helper process it sees ours and leaves it."""
    path = tmp_path / "wal.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=wal")
        conn.execute("CREATE TABLE t (x INTEGER)")
        conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
        assert Path(f"{path}-wal").exists()
        table = adbc_process.read(str(path), "SELECT x FROM t")
        assert table.column("x").to_pylist() == list(range(100))
        assert Path(f"{path}-wal").exists(), "the WAL was deleted under an open connection"
        conn.execute("INSERT INTO t VALUES (100)")
        other = sqlite3.connect(path)
        assert other.execute("SELECT count(*) FROM t").fetchone() == (101,)
        other.close()
    finally:
        conn.close()


def test_a_killed_helper_is_replaced(tmp_path):
    import os
    import signal
    from concurrent.futures.process import BrokenProcessPool

    path = tmp_path / "k.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (7)")
    conn.commit()
    assert adbc_process.read(str(path), "SELECT x FROM t").column("x").to_pylist() == [7]
    for pid in list(adbc_process._pool._processes):
        os.kill(pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        adbc_process.read(str(path), "SELECT x FROM t")
    assert adbc_process.read(str(path), "SELECT x FROM t").column("x").to_pylist() == [7]
    conn.close()


def test_a_failed_write_changes_nothing(tmp_path):
    path = tmp_path / "w.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=wal")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    import pyarrow as pa

    rows = pa.table({"x": np.arange(10, 20)})
    with pytest.raises(Exception, match="no_such_table"):
        adbc_process.write(str(path), [("execute", "DELETE FROM t"), ("insert", "t", rows),
                                       ("execute", "INSERT INTO no_such_table VALUES (1)")])
    assert conn.execute("SELECT count(*), sum(x) FROM t").fetchone() == (10, 45)
    adbc_process.write(str(path), [("execute", "DELETE FROM t WHERE x < 5"), ("insert", "t", rows)])
    assert conn.execute("SELECT count(*), sum(x) FROM t").fetchone() == (15, 35 + 145)
    conn.close()


@pytest.fixture
def file_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An app on a SQLite *file* with a small province and cold-start models."""
    from risk_models.registry import MODEL_NAMES
    from server.risk.features import build_features
    from server.risk.services import train_model
    from server.simulation.loop import SimulationConfig
    from server.simulation.run import build_province

    with sqlite_file_app(tmp_path, monkeypatch, "scores.db") as app:
        build_province(db.session, SimulationConfig(entities=1200, seed=3, start=START), data_dir=ROOT / "data")
        db.session.commit()
        frame = build_features(db.session, START)
        for name in MODEL_NAMES:
            train_model(db.session, name, until=START, model_dir=tmp_path / "models", population=frame)
        yield app


def _stored() -> dict[str, list[tuple[Any, ...]]]:
    from server.credit.models import CreditScore
    from server.risk.models import risk_scores

    s = db.session
    rs = [c for c in risk_scores.c if c.name != "id"]
    cs = [c for c in CreditScore.__table__.c if c.name != "id"]
    return {
        "risk": [tuple(r) for r in s.execute(select(*rs).order_by(risk_scores.c.entity_id))],
        "credit": [tuple(r) for r in s.execute(select(*cs).order_by(CreditScore.entity_id))],
        "entities": [tuple(r) for r in s.execute(text(
            "SELECT id, credit_score, credit_grade FROM entities ORDER BY id"))],
    }


def test_scores_stored_through_adbc_are_the_sessions_rows(file_app, monkeypatch):
    import server.arrow_writes as arrow_writes
    from server.audit.models import AuditEvent
    from server.credit.models import CreditScore
    from server.risk.distributed import score_and_store
    from server.risk.models import risk_scores

    writes: list[int] = []
    real = adbc_process.write

    def spy(database: str, operations: list[Any]) -> None:
        writes.append(len(operations))
        real(database, operations)

    monkeypatch.setattr(adbc_process, "write", spy)
    score_and_store(db.session, START)
    assert writes == [2, 5], "risk scores (delete, insert), credit (delete, insert, temp, update, drop)"
    arrow = _stored()
    assert len(arrow["risk"]) == len(arrow["credit"]) > 400
    assert {g for _, g in [e[1:] for e in arrow["entities"]] if g} <= set("ABCD")
    assert sum(1 for r in arrow["risk"] if r[2] is None) > 0, "NaN scores are stored as NULL"

    # the same run through the session's driver
    db.session.execute(delete(risk_scores))
    db.session.execute(delete(CreditScore))
    db.session.execute(text("UPDATE entities SET credit_score = NULL, credit_grade = NULL"))
    db.session.commit()
    monkeypatch.setattr(arrow_writes.sqlite_gate, "database_file", lambda engine: None)
    score_and_store(db.session, START)
    assert _stored() == arrow
    assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "credit.score").limit(1))
    assert db.session.execute(text("PRAGMA quick_check")).scalar() == "ok"


def test_a_store_that_fails_keeps_the_previous_scores(file_app, monkeypatch):
    from server.risk.distributed import score_and_store
    from server.risk.models import risk_scores

    score_and_store(db.session, START)
    before = _stored()

    real = adbc_process.write

    def broken(database: str, operations: list[Any]) -> None:  # fails after every row was sent
        real(database, [*operations, ("execute", "INSERT INTO no_such_table VALUES (1)")])

    monkeypatch.setattr(adbc_process, "write", broken)
    with pytest.raises(Exception, match="no_such_table"):
        score_and_store(db.session, START)
    db.session.rollback()
    assert _stored() == before
    assert db.session.scalar(select(risk_scores.c.as_of).limit(1)) == START
