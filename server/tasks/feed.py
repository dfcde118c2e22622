"""Versions of each inspector's task list, kept by the database, and a cache keyed by them.

The handheld polls ``GET /api/v1/tasks`` many times a day and the answer rarely changes
between two polls. Every write that changes what an inspector's list shows appends a row
for each inspector concerned to ``task_list_changes``, in the same transaction, through
**database triggers**: a submission, a draw, a reassignment, a renamed entity, a new
credit grade, a handled warning, a renamed round. Writes that could concern any list (a
co-inspector renamed, a check item or its legal reference edited) append a row for
inspector 0, "every list". Triggers see every writer (ORM, Core bulk statements, the raw
``executemany`` of the credit run, another process, ``psql``), so no write path can forget
to invalidate. The log is append-only, so concurrent writers never wait for one another
on it (on PostgreSQL a counter row per inspector would be locked by every writer, in
whatever order its statement met them: a deadlock waiting to happen).

An inspector's version counts their rows and the "every list" rows (the sum of their
weights), prefixed by the database's random generation (``task_list_epoch``: an ``ETag``
from another database — a rebuilt demo, a restored copy — cannot match). A count, not
the newest id: PostgreSQL hands out ids when rows are inserted, not when they commit, so
a change committed after a newer id was seen would not move the newest id; it always
raises the count. ``compact`` folds each inspector's old rows into one row of the same
weight, so versions survive it. A list built after reading version *v*
can only be newer than *v*, so a cached list is served only while *v* is still the
current version. The version also makes the list's ``ETag``: a handheld that already holds
it gets ``304 Not Modified`` and downloads nothing.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from cachetools import LRUCache
from sqlalchemy import bindparam, event, func, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from server.db import Base
from server.tasks.models import TaskListChange, TaskListEpoch

#: (trigger name, table, event clause, bump) — ``bump`` is the SQL run for each row.
_BUMP_TASK = (
    "INSERT INTO task_list_changes (inspector_id) "
    "SELECT inspector_id FROM task_assignments WHERE task_id = {task}"
)
_BUMP_TASKS_OF = (
    "INSERT INTO task_list_changes (inspector_id) "
    "SELECT a.inspector_id FROM task_assignments a JOIN tasks t ON t.id = a.task_id "
    "WHERE t.{column} = NEW.id"
)
_HAS_TASKS = "EXISTS (SELECT 1 FROM tasks WHERE {column} = NEW.id)"
_BUMP_EVERY_LIST = "INSERT INTO task_list_changes (inspector_id) VALUES (0)"
#: entity columns a task list shows
_ENTITY_COLUMNS = (
    "uscc", "name", "address", "region_code", "credit_grade", "credit_score", "business_type",
)


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    on: str  # "INSERT", "DELETE", "UPDATE" or "UPDATE OF a, b"
    body: str
    when: tuple[str, ...] = ()  # columns: fire only when one of them really changed
    #: run the body only if this holds (checked first: a bulk update of a million entities
    #: without tasks then costs one index probe per row, not an UPDATE statement per row)
    guard: str | None = None

    def ddl(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            conditions = []
            if self.when:
                conditions.append("(" + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in self.when)
                                  + ")")
            if self.guard:
                conditions.append(self.guard)
            when = " WHEN " + " AND ".join(conditions) if conditions else ""
            return [
                f"DROP TRIGGER IF EXISTS {self.name}",
                f"CREATE TRIGGER {self.name} AFTER {self.on} ON {self.table} FOR EACH ROW{when} "
                f"BEGIN {self.body}; END",
            ]
        if dialect == "postgresql":
            when = (" WHEN (" + " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in self.when)
                    + ")" if self.when else "")
            # PostgreSQL's WHEN admits no subquery: the guard goes into the function
            body = f"IF {self.guard} THEN {self.body}; END IF" if self.guard else self.body
            return [
                f"CREATE OR REPLACE FUNCTION {self.name}() RETURNS trigger LANGUAGE plpgsql AS "
                f"$$ BEGIN {body}; RETURN NULL; END $$",
                f"DROP TRIGGER IF EXISTS {self.name} ON {self.table}",
                f"CREATE TRIGGER {self.name} AFTER {self.on} ON {self.table} FOR EACH ROW{when} "
                f"EXECUTE FUNCTION {self.name}()",
            ]
        raise NotImplementedError(f"task-list triggers for {dialect}")

    def drop(self, dialect: str) -> list[str]:
        if dialect == "postgresql":
            return [f"DROP TRIGGER IF EXISTS {self.name} ON {self.table}",
                    f"DROP FUNCTION IF EXISTS {self.name}()"]
        return [f"DROP TRIGGER IF EXISTS {self.name}"]


TRIGGERS: tuple[Trigger, ...] = (
    Trigger("tl_task_update", "tasks", "UPDATE", _BUMP_TASK.format(task="NEW.id")),
    Trigger("tl_task_delete", "tasks", "DELETE", _BUMP_TASK.format(task="OLD.id")),
    Trigger("tl_assignment_insert", "task_assignments", "INSERT",
            _BUMP_TASK.format(task="NEW.task_id")),
    Trigger("tl_assignment_delete", "task_assignments", "DELETE",
            _BUMP_TASK.format(task="OLD.task_id") + " UNION SELECT OLD.inspector_id"),
    Trigger("tl_assignment_move", "task_assignments", "UPDATE OF task_id, inspector_id",
            _BUMP_TASK.format(task="NEW.task_id") + " UNION SELECT OLD.inspector_id UNION "
            "SELECT inspector_id FROM task_assignments WHERE task_id = OLD.task_id"),
    Trigger("tl_entity_update", "entities", "UPDATE OF " + ", ".join(_ENTITY_COLUMNS),
            _BUMP_TASKS_OF.format(column="entity_id"), when=_ENTITY_COLUMNS,
            guard=_HAS_TASKS.format(column="entity_id")),
    Trigger("tl_warning_update", "warnings", "UPDATE", _BUMP_TASKS_OF.format(column="warning_id"),
            guard=_HAS_TASKS.format(column="warning_id")),
    Trigger("tl_round_rename", "sampling_rounds", "UPDATE OF name",
            _BUMP_TASKS_OF.format(column="round_id"), when=("name",),
            guard=_HAS_TASKS.format(column="round_id")),
    # shown in other inspectors' lists, or in every list that has the item: bump them all
    Trigger("tl_inspector_rename", "inspectors", "UPDATE OF name", _BUMP_EVERY_LIST,
            when=("name",)),
    *(Trigger(f"tl_{table}_{op.lower()}", table, op, _BUMP_EVERY_LIST)
      for table in ("check_items", "legal_references") for op in ("INSERT", "UPDATE", "DELETE")),
)


def install_triggers(connection: Connection) -> int:
    """Create (or replace) the triggers on the tables that exist; returns how many."""
    dialect = connection.dialect.name
    tables = set(inspect(connection).get_table_names())
    if "task_list_changes" not in tables:
        return 0
    if "task_list_epoch" in tables:
        # a fresh database's generation is random, so that an ETag a handheld kept from
        # another database (a rebuilt demo, a restored copy) cannot match
        connection.execute(
            text("INSERT INTO task_list_epoch (id, value) SELECT 1, :v "
                 "WHERE NOT EXISTS (SELECT 1 FROM task_list_epoch)"),
            {"v": secrets.randbelow(2**30)})
    n = 0
    for trigger in TRIGGERS:
        if trigger.table in tables:
            for statement in trigger.ddl(dialect):
                connection.exec_driver_sql(statement)
            n += 1
    return n


def drop_triggers(connection: Connection) -> None:
    for trigger in TRIGGERS:
        for statement in trigger.drop(connection.dialect.name):
            connection.exec_driver_sql(statement)


@event.listens_for(Base.metadata, "after_create")
def _after_create(target: Any, connection: Connection, **kw: Any) -> None:
    install_triggers(connection)


# ------------------------------------------------------------------------- reading versions
_CHANGES = TaskListChange.__table__


def _weight(inspector: Any) -> Any:
    return (select(func.coalesce(func.sum(_CHANGES.c.weight), 0))
            .where(_CHANGES.c.inspector_id == inspector).scalar_subquery())


_VERSION = select(
    select(TaskListEpoch.value).where(TaskListEpoch.id == 1).scalar_subquery(),
    _weight(bindparam("inspector_id")),
    _weight(0),
)


def list_version(session: Session, inspector_id: int) -> str:
    """Read the inspector's list version, ``"<generation>.<theirs>.<everyone's>"``."""
    row = session.connection().execute(_VERSION, {"inspector_id": inspector_id}).one()
    return ".".join(str(v or 0) for v in row)


def compact(session: Session) -> int:
    """Fold each inspector's change rows into one row of the same total weight.

    Versions are unchanged (readers see the old rows or the folded one, never both, nor
    neither). Rows appended meanwhile have larger ids and are left alone; should two
    compactions overlap on PostgreSQL, a weight may be counted twice, which only raises a
    version (one spurious rebuild), never lowers it. Returns the rows removed; the caller
    commits (the credit run, which writes most of them, calls it).
    """
    top = session.scalar(select(func.max(_CHANGES.c.id)))
    if top is None:
        return 0
    old = _CHANGES.c.id <= top
    crowded = (select(_CHANGES.c.inspector_id).where(old).group_by(_CHANGES.c.inspector_id)
               .having(func.count() > 1))
    session.execute(_CHANGES.insert().from_select(
        ["inspector_id", "weight"],
        select(_CHANGES.c.inspector_id, func.sum(_CHANGES.c.weight))
        .where(old, _CHANGES.c.inspector_id.in_(crowded)).group_by(_CHANGES.c.inspector_id)))
    removed = session.execute(
        _CHANGES.delete().where(old, _CHANGES.c.inspector_id.in_(crowded))).rowcount
    return int(removed or 0)


def etag(inspector_id: int, version: str, *params: Any) -> str:
    # parameters percent-encoded: a query value may hold any character, an ETag header
    # may not (gunicorn refused the response: a 500)
    return "-".join(["tasks", str(inspector_id), version, *(quote(str(p), safe="") for p in params)])


# --------------------------------------------------------------------- the process's cache
@dataclass(frozen=True)
class Entry:
    version: str
    body: bytes


class ListCache:
    """Serialised task lists of this process, least recently used dropped beyond ``max_bytes``."""

    def __init__(self, max_bytes: int = 32 * 2**20) -> None:
        self._lru: LRUCache[Any, Entry] = LRUCache(max_bytes, getsizeof=lambda e: len(e.body) + 200)
        self._lock = threading.Lock()

    def get(self, key: Any, version: str) -> bytes | None:
        with self._lock:
            entry = self._lru.get(key)
        return entry.body if entry is not None and entry.version == version else None

    def put(self, key: Any, version: str, body: bytes) -> None:
        with self._lock:
            if len(body) + 200 <= self._lru.maxsize:
                self._lru[key] = Entry(version, body)


cache = ListCache()
