"""A scoring run's bulk writes on a SQLite file, column-wise through the ADBC driver (Arrow).

Scoring a province writes a row per entity to ``risk_scores`` and ``credit_scores`` and
updates every entity's current grade. Through the ``sqlite3`` driver each of those rows
is a Python tuple whose values are bound one by one: on 1,000,000 entities the inserts
and the update took 17.8 s for the credit run and 11.0 s for the warning scores
(measured on the bench province). The ADBC SQLite driver binds whole Arrow columns in C:
6.6 s and 5.2 s for the same rows, indexes, triggers and commit.

ADBC runs in a helper process (:mod:`server.adbc_process`: two copies of SQLite in one
process corrupt the database) with its own connection, so a write here is its own
transaction:

* the session commits what it holds first (its connection must not keep SQLite's lock
  while ADBC waits for it);
* the write gate (:mod:`server.sqlite_gate`) is held, in this process, for the whole of the
  helper's transaction, as for any other writer of the server;
* everything given to one :func:`arrow_transaction` is sent to the helper when the block
  ends, and commits together or not at all;
* afterwards the session's objects are expired: the rows changed under them.

On PostgreSQL, SQLite in memory, or without the driver, :func:`arrow_transaction`
yields ``None`` and the caller writes through the session (``COPY`` on PostgreSQL).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
from sqlalchemy import JSON, Boolean, Date, Float, Integer, String, Table
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from server import adbc_process, sqlite_gate

__all__ = ["ArrowWriter", "arrow_transaction"]

def _arrow_type(column_type: Any) -> Any:
    import pyarrow as pa

    if isinstance(column_type, Boolean | Integer):
        return pa.int64()
    if isinstance(column_type, Float):
        return pa.float64()
    if isinstance(column_type, String | Date | JSON):
        return pa.string()
    raise TypeError(f"no Arrow type for a {column_type!r} column")


def _array(value: Any, column_type: Any, n: int) -> Any:
    """One column of ``n`` values as an Arrow array, stored the way SQLAlchemy stores it on
    SQLite (:func:`server.risk.features.column_values`); numeric arrays go to Arrow as they
    are, NaN as NULL.
    """
    import pyarrow as pa

    from server.risk.features import column_values

    kind = _arrow_type(column_type)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub" and not isinstance(column_type, JSON | Date):
        return pa.array(value, type=kind, from_pandas=True)
    value, scalar = column_values(value, column_type, "sqlite")
    return pa.array([value] * n if scalar else value, type=kind, from_pandas=True)


class ArrowWriter:
    """Statements and column-wise inserts of one ADBC transaction (see :func:`arrow_transaction`)."""

    def __init__(self, dialect: Any) -> None:
        self._dialect = dialect
        self.operations: list[tuple[Any, ...]] = []

    def execute(self, statement: Executable | str) -> None:
        """Run ``statement`` (a Core statement, compiled with its values inline, or SQL text)."""
        sql = statement if isinstance(statement, str) else str(
            statement.compile(dialect=self._dialect, compile_kwargs={"literal_binds": True}))
        self.operations.append(("execute", sql))

    def insert(self, table: Table, columns: Mapping[str, Any], n: int) -> None:
        """Insert ``n`` rows into ``table``, given column by column (a sequence or array of
        ``n`` values, or one scalar for all), as :func:`server.risk.features.bulk_insert` takes them.
        """
        if n == 0:
            return
        import pyarrow as pa

        data = pa.table({name: _array(value, table.c[name].type, n) for name, value in columns.items()})
        self.operations.append(("insert", table.name, data))

    def temporary(self, name: str, columns: Mapping[str, np.ndarray]) -> None:
        """Create the temporary table ``temp.<name>`` holding ``columns`` (numpy arrays)."""
        import pyarrow as pa

        self.operations.append(("temporary", name, pa.table({k: pa.array(v) for k, v in columns.items()})))


@contextmanager
def arrow_transaction(session: Session) -> Iterator[ArrowWriter | None]:
    """One ADBC transaction on the session's SQLite file, holding the write gate; ``None``
    when the session's database is not a SQLite file (write through the session then).

    Commits the session first; the operations given in the block run when it ends (none
    if it raises), in one transaction.
    """
    engine = session.get_bind()
    database = sqlite_gate.database_file(engine)
    if database is None:
        yield None
        return
    writer = ArrowWriter(engine.dialect)
    yield writer
    session.commit()
    with sqlite_gate.held(engine):
        adbc_process.write(os.path.abspath(database), writer.operations)
    session.expire_all()
