"""The SQLite write gate: writers queue on a kernel lock, it is always handed back, and it
never waits on SQLite's own lock in a circle."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
    text,
)

from server import sqlite_gate

meta = MetaData()
notes = Table("notes", meta, Column("id", Integer, primary_key=True), Column("body", String(50)))


@pytest.fixture
def engine(tmp_path: Path):
    eng = create_engine(f"sqlite:///{tmp_path / 'gate.db'}", connect_args={"timeout": 30})
    with eng.begin() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    meta.create_all(eng)
    assert sqlite_gate.install(eng) is not None
    yield eng
    eng.dispose()


def _gate_is_free(db: Path) -> bool:
    fd = os.open(f"{db}.write-lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_taken_at_the_first_write_and_handed_back_at_commit_and_rollback(engine, tmp_path):
    db = tmp_path / "gate.db"
    with engine.connect() as conn:
        conn.execute(select(func.count()).select_from(notes))
        assert _gate_is_free(db), "reads do not take the gate"
        conn.execute(insert(notes).values(body="a"))
        assert not _gate_is_free(db)
        conn.commit()
        assert _gate_is_free(db)
        conn.execute(insert(notes).values(body="b"))
        assert not _gate_is_free(db)
        conn.rollback()
        assert _gate_is_free(db)
        conn.execute(insert(notes).values(body="c"))
    # closing without commit returns the connection to the pool, which rolls back
    assert _gate_is_free(db)
    with engine.connect() as conn:
        assert conn.scalars(select(notes.c.body).order_by(notes.c.id)).all() == ["a"]


def test_concurrent_writers_all_get_through(engine):
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(25):
                with engine.begin() as conn:
                    conn.execute(insert(notes).values(body=f"{k}-{i}"))
                    conn.execute(select(func.count()).select_from(notes))
                    conn.execute(insert(notes).values(body=f"{k}-{i}b"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(notes)) == 8 * 25 * 2


def test_a_writer_already_holding_sqlites_lock_does_not_wait_for_the_gate(engine, tmp_path):
    """A raw cursor wrote without the gate (it holds SQLite's lock); a second connection takes
    the gate and waits for SQLite; the first must then write on without waiting for the gate."""
    db = tmp_path / "gate.db"
    first = engine.connect()
    raw = first.connection.dbapi_connection
    raw.cursor().execute("INSERT INTO notes (body) VALUES ('raw')")  # no SQLAlchemy hook sees this
    assert raw.in_transaction and _gate_is_free(db)
    done = threading.Event()

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(insert(notes).values(body="second"))
        done.set()

    t = threading.Thread(target=second)
    t.start()
    deadline = time.monotonic() + 5
    while _gate_is_free(db) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _gate_is_free(db), "the second writer holds the gate, waiting for SQLite"
    started = time.monotonic()
    first.execute(insert(notes).values(body="first again"))
    first.commit()
    assert time.monotonic() - started < 5
    t.join(30)
    assert done.is_set()
    first.close()
    with engine.connect() as conn:
        assert sorted(conn.scalars(select(notes.c.body))) == ["first again", "raw", "second"]


def test_memory_databases_and_postgresql_get_no_gate():
    assert sqlite_gate.install(create_engine("sqlite://")) is None
    assert sqlite_gate.install(create_engine("postgresql+psycopg://u@localhost/x")) is None


def test_the_app_installs_it_on_a_sqlite_file(tmp_path, monkeypatch):
    from server import create_app
    from server.extensions import db

    monkeypatch.setenv("SHUANGSUI_INSTANCE", str(tmp_path / "instance"))
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'app.db'}"})
    with app.app_context():
        assert sqlite_gate._GATES.get(db.engine) is not None
        db.session.execute(text("CREATE TABLE t (x integer)"))
        db.session.execute(text("INSERT INTO t VALUES (1)"))
        assert not _gate_is_free(tmp_path / "app.db")
        db.session.commit()
        assert _gate_is_free(tmp_path / "app.db")
        db.engine.dispose()
