"""The ADBC SQLite driver, run in a process of its own.

The ADBC driver (column-wise Arrow reads and writes: no Python object per value) carries
its own copy of the SQLite library, next to the one Python's ``sqlite3`` uses. Two copies
of SQLite in one process corrupt databases (https://www.sqlite.org/howtocorrupt.html,
"Multiple copies of SQLite linked into the same application"): POSIX locks belong to the
process, so each copy takes the other's locks for its own. Checked on this machine: a
``sqlite3`` connection open, an ADBC connection opened, read and closed in the same
process — the ADBC copy, seeing no other connection, checkpointed and *deleted* the WAL
and its index under the open ``sqlite3`` connection, whose later writes another process
then did not see; a scoring run writing through ADBC next to the session left a
malformed database (``PRAGMA quick_check``: invalid page numbers).

So ADBC only ever runs here, in one helper process per server process (started on first
use, ``spawn``: nothing inherited), where its copy of SQLite is the only one and locks
work between processes as SQLite expects. Arrow tables cross the process boundary as
Arrow IPC files in shared memory (``/dev/shm``), memory-mapped by the reader: one copy,
against three for a pickle through a pipe (61 MB of price reports: 0.3–0.8 s less). Writers keep taking the write gate (:mod:`server.sqlite_gate`)
in the calling process, around the helper's transaction.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import tempfile
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

__all__ = ["AdbcError", "read", "submit_read", "unspool", "write"]

#: milliseconds an ADBC statement waits for SQLite's lock (a writer outside the gate)
BUSY_TIMEOUT_MS = 30_000

#: where Arrow tables are handed over (memory, not disk, where the system has it)
SPOOL_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


class AdbcError(RuntimeError):
    """A statement failed in the helper (the driver's own exceptions cannot be unpickled)."""


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_watch_parent, initargs=(os.getpid(),))
            atexit.register(_pool.shutdown, wait=True)
        return _pool


def _forget(pool: ProcessPoolExecutor) -> None:
    """The helper died (killed, out of memory): the next call starts another."""
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None


def _submit(fn: Any, *args: Any) -> Future[Any]:
    pool = _executor()
    try:
        future = pool.submit(fn, *args)
    except BrokenProcessPool:
        _forget(pool)
        raise
    future.add_done_callback(
        lambda f: not f.cancelled() and isinstance(f.exception(), BrokenProcessPool) and _forget(pool))
    return future


def _call(fn: Any, *args: Any) -> Any:
    pool = _executor()
    try:
        return pool.submit(fn, *args).result()
    except BrokenProcessPool:
        _forget(pool)
        raise


def _spool(table: Any) -> str:
    """Write ``table`` to an Arrow IPC file in the spool directory; return its path."""
    import pyarrow as pa

    fd, path = tempfile.mkstemp(prefix="shuangsui-", suffix=".arrow", dir=SPOOL_DIR)
    try:
        with os.fdopen(fd, "wb") as sink, pa.ipc.new_file(sink, table.schema) as out:
            out.write_table(table)
    except BaseException:
        os.unlink(path)
        raise
    return path


def unspool(path: str) -> Any:
    """The table of a spooled file, memory-mapped (the mapping outlives the file's name)."""
    import pyarrow as pa

    try:
        return pa.ipc.open_file(pa.memory_map(path)).read_all()
    finally:
        os.unlink(path)


def read(database: str, sql: str) -> Any:
    """The result of ``sql`` on the SQLite file ``database`` as a ``pyarrow.Table``."""
    return unspool(_call(_read, database, sql))


def submit_read(database: str, sql: str) -> Future[Any]:
    """Start :func:`read`; the future's result is a spooled file: pass it to :func:`unspool`
    (which deletes it) — every one, even a result not wanted.
    """
    return _submit(_read, database, sql)


def write(database: str, operations: list[tuple[Any, ...]]) -> None:
    """Run ``operations`` in one transaction on ``database``: all commit, or none.

    Each is ``("execute", sql)``, ``("insert", table, arrow_table)`` (append) or
    ``("temporary", name, arrow_table)`` (a temporary table of this transaction's
    connection, replaced if it exists).
    """
    spooled: list[tuple[Any, ...]] = []
    try:
        for op in operations:
            spooled.append(op[:2] + (_spool(op[2]),) if len(op) > 2 else op)
        _call(_write, database, spooled)
    finally:
        for op in spooled:
            if len(op) > 2:
                os.unlink(op[2])


# --------------------------------------------------------------------- in the helper
#: seconds between the helper's checks that its parent is alive
PARENT_POLL_SECONDS = 0.5


def _watch_parent(parent_pid: int) -> None:
    """Make the helper end when the process that started it dies, even by ``kill -9``
    (a killed ``simulate`` must not leave helpers behind holding the database open).

    A daemon thread polls the parent's id: once the parent is gone the helper is
    re-parented (``os.getppid()`` changes) and exits at once. (Linux's
    ``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that started the helper
    ends, and a pool may start its helper from any request thread.)
    """
    import time

    def watch() -> None:
        while True:
            if os.getppid() != parent_pid:
                os._exit(0)
            time.sleep(PARENT_POLL_SECONDS)

    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(0)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _plain_errors(fn: Any) -> Any:
    import functools

    @functools.wraps(fn)
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - re-raised as an error that crosses processes
            raise AdbcError(f"{type(exc).__name__}: {exc}") from None

    return call


@_plain_errors
def _read(database: str, sql: str) -> Any:
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    with adbc_sqlite.connect(database) as conn, conn.cursor() as cur:
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute(sql)
        return _spool(cur.fetch_arrow_table())


@_plain_errors
def _write(database: str, operations: list[tuple[Any, ...]]) -> None:
    import adbc_driver_sqlite.dbapi as adbc_sqlite

    with adbc_sqlite.connect(database) as conn:
        try:
            with conn.cursor() as cur:
                cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                for op in operations:
                    if op[0] == "execute":
                        cur.execute(op[1])
                    elif op[0] == "insert":
                        cur.adbc_ingest(op[1], _mapped(op[2]), mode="append")
                    elif op[0] == "temporary":
                        cur.execute(f"DROP TABLE IF EXISTS temp.{op[1]}")
                        cur.adbc_ingest(op[1], _mapped(op[2]), mode="create", temporary=True)
                    else:
                        raise ValueError(f"unknown operation {op[0]!r}")
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def _mapped(path: str) -> Any:
    import pyarrow as pa

    return pa.ipc.open_file(pa.memory_map(path)).read_all()
