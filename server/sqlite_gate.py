"""One writer at a time on a SQLite file, handed over without sleeping.

SQLite lets one transaction write at a time. A writer that finds the file locked is
retried by SQLite's busy handler, which *sleeps* 1, 2, 5, 10, 15, 20, 25… ms between
attempts: with eight handhelds syncing at once, a profile of the server (py-spy,
``--idle``) showed two thirds of each submission's time spent asleep there while the
lock was already free. The gate puts writers in a queue the kernel wakes at once: an
exclusive ``flock`` on ``<database>.write-lock``, taken just before a transaction's
first write and released right after its commit or rollback, by every thread and
process of the server (and the command line).

Reads never take it (WAL readers do not block). A connection that already holds
SQLite's write lock (it wrote through a raw DBAPI cursor) does not wait for the gate,
so the two locks can never wait on each other for good. PostgreSQL needs none of this.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

_DML = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_GATES: weakref.WeakKeyDictionary[Any, WriteGate] = weakref.WeakKeyDictionary()


def database_file(engine: Any) -> str | None:
    """The file of a SQLite engine, or ``None`` (another database, or SQLite in memory)."""
    url = engine.url
    database = url.database
    if (engine.dialect.name != "sqlite" or not database or database == ":memory:"
            or "mode=memory" in database or url.query.get("mode") == "memory"):
        return None
    return str(database)


def _key(dbapi_connection: Any) -> int:
    # SQLAlchemy hands the dialect its pool's proxy, the events the driver's connection:
    # both are keyed by the driver's connection
    return id(getattr(dbapi_connection, "dbapi_connection", dbapi_connection))


class WriteGate:
    def __init__(self, database: str, *, timeout: float = 30.0) -> None:
        self.path = f"{database}.write-lock"
        self.timeout = timeout
        self._held: dict[int, int] = {}  # id(DBAPI connection) -> open lock file descriptor
        self._mutex = threading.Lock()

    def enter(self, dbapi_connection: Any) -> None:
        """Wait for the gate unless this connection holds it or already writes."""
        key = _key(dbapi_connection)
        if key in self._held or dbapi_connection.in_transaction:
            return
        fd = self._acquire()
        with self._mutex:
            self._held[key] = fd

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the gate for a writer SQLAlchemy does not see (another driver's connection)."""
        fd = self._acquire()
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _acquire(self) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + self.timeout
        pause = 0.0002
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except BlockingIOError:
                if time.monotonic() > deadline:
                    os.close(fd)
                    raise sqlite3.OperationalError("database is locked (write gate)") from None
                time.sleep(pause)
                pause = min(pause * 2, 0.002)

    def leave(self, dbapi_connection: Any) -> None:
        with self._mutex:
            fd = self._held.pop(_key(dbapi_connection), None)
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def install(engine: Any) -> WriteGate | None:
    """Attach a gate to a SQLite-file engine."""
    from sqlalchemy import event

    database = database_file(engine)
    if database is None:
        return None
    gate = WriteGate(os.path.abspath(database))
    dialect = engine.dialect
    real_commit, real_rollback = dialect.do_commit, dialect.do_rollback

    def do_commit(dbapi_connection: Any) -> None:
        try:
            real_commit(dbapi_connection)
        finally:
            gate.leave(dbapi_connection)

    def do_rollback(dbapi_connection: Any) -> None:
        try:
            real_rollback(dbapi_connection)
        finally:
            gate.leave(dbapi_connection)

    # the dialect's own methods, wrapped on this engine's instance: the gate must open
    # *after* SQLite has committed (an event before the commit would let the next writer
    # in too early, straight into SQLite's sleeping busy handler)
    dialect.do_commit, dialect.do_rollback = do_commit, do_rollback

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip()[:7].upper().startswith(_DML):
            gate.enter(conn.connection.dbapi_connection)

    @event.listens_for(engine, "close")
    def _closed(dbapi_connection: Any, record: Any) -> None:
        gate.leave(dbapi_connection)

    _GATES[engine] = gate
    return gate


def enter(connection: Any) -> None:
    """Take the gate before writing through a raw DBAPI cursor of ``connection`` (bulk paths)."""
    gate = _GATES.get(connection.engine)
    if gate is not None:
        gate.enter(connection.connection.dbapi_connection)


def held(engine: Any) -> Any:
    """A context holding ``engine``'s gate (none to hold: PostgreSQL, SQLite in memory)."""
    gate = _GATES.get(engine)
    return nullcontext() if gate is None else gate.held()
