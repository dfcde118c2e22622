"""The device's SQLite store under the app's user data directory.

What lives here: the settings (server, token, user), the tasks, forms, entity profiles
and laws last downloaded (so the app works offline), the drafts (saved on every
answer, so a crash or a flat battery loses nothing), the attachments' files, the
outbox of finished submissions and the sync log.

A submission's body is stored as the exact JSON that will be sent, once, at
finalisation: every retry then sends the same body under the same ``instance_id``,
which is what lets the server recognise a retry (200) instead of a conflict (409).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mobile.core.photos import prepare_photo

__all__ = ["Attachment", "Draft", "OutboxEntry", "Store", "now_iso"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY, state TEXT NOT NULL, due_on TEXT, data TEXT NOT NULL, fetched_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS forms (
    code TEXT PRIMARY KEY, version TEXT NOT NULL, data TEXT NOT NULL, fetched_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (uscc TEXT PRIMARY KEY, data TEXT NOT NULL, fetched_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS laws (
    id TEXT PRIMARY KEY, title TEXT NOT NULL, version_date TEXT, fetched_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    law TEXT NOT NULL, number INTEGER NOT NULL, label TEXT, chapter TEXT, text TEXT NOT NULL,
    PRIMARY KEY (law, number));
CREATE TABLE IF NOT EXISTS drafts (
    task_id INTEGER PRIMARY KEY, instance_id TEXT NOT NULL UNIQUE, form_code TEXT NOT NULL,
    form_version TEXT NOT NULL, answers TEXT NOT NULL, started_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    deprecated_id TEXT);
CREATE TABLE IF NOT EXISTS attachments (
    instance_id TEXT NOT NULL, checksum TEXT NOT NULL, item_id TEXT NOT NULL, kind TEXT NOT NULL,
    filename TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL, uploaded INTEGER NOT NULL DEFAULT 0,
    original_checksum TEXT, original_size INTEGER, error TEXT,
    PRIMARY KEY (instance_id, checksum));
CREATE TABLE IF NOT EXISTS outbox (
    instance_id TEXT PRIMARY KEY, task_id INTEGER NOT NULL, body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending', submission_id INTEGER, attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0, last_error TEXT, error_items TEXT,
    created_at TEXT NOT NULL, sent_at TEXT);
CREATE TABLE IF NOT EXISTS sync_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, instance_id TEXT, event TEXT NOT NULL,
    detail TEXT);
"""

#: ``blocked``: the server keeps the result but refused an attachment (too large, not a
#: photo, damaged, or the file is gone from the device): the inspector re-sends or
#: re-takes it; nothing is retried on its own until then.
OUTBOX_STATES = ("pending", "uploading", "blocked", "sent", "rejected")
#: columns added after the first release: (table, column, declaration), added on open
_ADDED_COLUMNS = (
    ("attachments", "original_checksum", "TEXT"),
    ("attachments", "original_size", "INTEGER"),
    ("attachments", "error", "TEXT"),
    ("drafts", "deprecated_id", "TEXT"),
)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@dataclass
class Draft:
    task_id: int
    instance_id: str
    form_code: str
    form_version: str
    answers: dict[str, Any]
    started_at: str
    updated_at: str
    #: the server's pending submission this draft will replace (a reopened, blocked entry)
    deprecated_id: str | None = None


@dataclass
class Attachment:
    instance_id: str
    checksum: str
    item_id: str
    kind: str
    filename: str
    path: str
    size: int
    uploaded: bool
    #: SHA-256 and size of the camera's file before it was downscaled (photos)
    original_checksum: str | None = None
    original_size: int | None = None
    #: why the server refused it, with what to do (None: not refused)
    error: str | None = None


@dataclass
class OutboxEntry:
    instance_id: str
    task_id: int
    body: dict[str, Any]
    state: str
    submission_id: int | None
    attempts: int
    next_attempt_at: float
    last_error: str | None
    error_items: dict[str, str]
    created_at: str
    sent_at: str | None


class Store:
    """One SQLite file plus an ``attachments/`` folder, both under ``directory``.

    Safe to share between the UI thread and the sync thread: one connection, one lock,
    each public method is one transaction.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.attachment_dir = self.directory / "attachments"
        self.attachment_dir.mkdir(exist_ok=True)
        self.path = self.directory / "shuangsui.sqlite3"
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a finished form must survive a power cut
        self._db.executescript(SCHEMA)
        self._add_columns()

    def _add_columns(self) -> None:
        """Bring a store written by an earlier version of the app up to this schema."""
        with self.tx() as db:
            for table, column, decl in _ADDED_COLUMNS:
                have = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    # -- settings ---------------------------------------------------------------------
    def setting(self, key: str, default: Any = None) -> Any:
        row = self._one("SELECT value FROM settings WHERE key = ?", key)
        return json.loads(row["value"]) if row else default

    def set_setting(self, key: str, value: Any) -> None:
        with self.tx() as db:
            if value is None:
                db.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                db.execute(
                    "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)",
                    (key, _dumps(value)),
                )

    def device_id(self) -> str:
        value = self.setting("device_id")
        if not value:
            value = f"dev-{uuid.uuid4().hex[:16]}"
            self.set_setting("device_id", value)
        return str(value)

    # -- downloaded reference ---------------------------------------------------------
    def save_tasks(self, tasks: list[dict[str, Any]], *, replace: bool = True) -> None:
        """Keep the server's task list; ``replace`` drops tasks no longer visible."""
        stamp = now_iso()
        with self.tx() as db:
            if replace:
                db.execute("DELETE FROM tasks")
            db.executemany(
                "INSERT OR REPLACE INTO tasks (id, state, due_on, data, fetched_at) VALUES (?, ?, ?, ?, ?)",
                [(t["id"], t["state"], t.get("due_on"), _dumps(t), stamp) for t in tasks],
            )

    def tasks(self) -> list[dict[str, Any]]:
        return [
            json.loads(r["data"]) for r in self._all("SELECT data FROM tasks ORDER BY due_on, id")
        ]

    def task(self, task_id: int) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM tasks WHERE id = ?", task_id)
        return json.loads(row["data"]) if row else None

    def save_form(self, form: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO forms (code, version, data, fetched_at) VALUES (?, ?, ?, ?)",
                (form["code"], str(form["version"]), _dumps(form), now_iso()),
            )

    def form(self, code: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM forms WHERE code = ?", code)
        return json.loads(row["data"]) if row else None

    def save_entity(self, profile: dict[str, Any]) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO entities (uscc, data, fetched_at) VALUES (?, ?, ?)",
                (profile["uscc"], _dumps(profile), now_iso()),
            )

    def entity(self, uscc: str) -> dict[str, Any] | None:
        row = self._one("SELECT data FROM entities WHERE uscc = ?", uscc)
        return json.loads(row["data"]) if row else None

    def save_law(self, law: dict[str, Any]) -> None:
        """Store a whole law as ``GET /laws/<id>`` returns it (every article)."""
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO laws (id, title, version_date, fetched_at) VALUES (?, ?, ?, ?)",
                (law["id"], law["title"], law.get("version_date"), now_iso()),
            )
            db.execute("DELETE FROM articles WHERE law = ?", (law["id"],))
            db.executemany(
                "INSERT INTO articles (law, number, label, chapter, text) VALUES (?, ?, ?, ?, ?)",
                [
                    (law["id"], a["number"], a.get("label"), a.get("chapter"), a["text"])
                    for a in law.get("articles") or []
                ],
            )

    def laws(self) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT l.id, l.title, l.version_date, l.fetched_at, COUNT(a.number) AS articles "
            "FROM laws l LEFT JOIN articles a ON a.law = l.id GROUP BY l.id ORDER BY l.id"
        )
        return [dict(r) for r in rows]

    def articles(self, law_id: str | None = None) -> list[dict[str, Any]]:
        if law_id is None:
            rows = self._all("SELECT * FROM articles ORDER BY law, number")
        else:
            rows = self._all("SELECT * FROM articles WHERE law = ? ORDER BY number", law_id)
        return [dict(r) for r in rows]

    def article(self, law_id: str, number: int) -> dict[str, Any] | None:
        row = self._one("SELECT * FROM articles WHERE law = ? AND number = ?", law_id, int(number))
        return dict(row) if row else None

    # -- drafts -----------------------------------------------------------------------
    def _draft(self, row: sqlite3.Row | None) -> Draft | None:
        if row is None:
            return None
        return Draft(
            row["task_id"],
            row["instance_id"],
            row["form_code"],
            row["form_version"],
            json.loads(row["answers"]),
            row["started_at"],
            row["updated_at"],
            row["deprecated_id"],
        )

    def draft(self, task_id: int) -> Draft | None:
        return self._draft(self._one("SELECT * FROM drafts WHERE task_id = ?", task_id))

    def open_draft(self, task_id: int, form_code: str, form_version: str) -> Draft:
        """Return the task's draft, created with a fresh instance id the first time."""
        with self.tx() as db:
            row = db.execute("SELECT * FROM drafts WHERE task_id = ?", (task_id,)).fetchone()
            if row is None:
                stamp = now_iso()
                db.execute(
                    "INSERT INTO drafts (task_id, instance_id, form_code, form_version, answers, started_at,"
                    " updated_at) VALUES (?, ?, ?, ?, '{}', ?, ?)",
                    (task_id, str(uuid.uuid4()), form_code, str(form_version), stamp, stamp),
                )
                row = db.execute("SELECT * FROM drafts WHERE task_id = ?", (task_id,)).fetchone()
        draft = self._draft(row)
        assert draft is not None
        return draft

    def rebase_draft(self, task_id: int, form_version: str, answers: dict[str, Any]) -> Draft:
        """Move a draft to another version of its form, with the answers that still fit."""
        with self.tx() as db:
            db.execute(
                "UPDATE drafts SET form_version = ?, answers = ?, updated_at = ? WHERE task_id = ?",
                (str(form_version), _dumps(answers), now_iso(), task_id),
            )
        draft = self.draft(task_id)
        assert draft is not None
        return draft

    def save_answer(self, task_id: int, item_id: str, value: Any) -> Draft:
        """Write one answer to the draft immediately (None or empty removes it)."""
        with self.tx() as db:
            row = db.execute("SELECT answers FROM drafts WHERE task_id = ?", (task_id,)).fetchone()
            if row is None:
                raise KeyError(f"no draft for task {task_id}")
            answers = json.loads(row["answers"])
            if value is None or value == "" or value == [] or value == {}:
                answers.pop(item_id, None)
            else:
                answers[item_id] = value
            db.execute(
                "UPDATE drafts SET answers = ?, updated_at = ? WHERE task_id = ?",
                (_dumps(answers), now_iso(), task_id),
            )
        draft = self.draft(task_id)
        assert draft is not None
        return draft

    def discard_draft(self, task_id: int) -> None:
        with self.tx() as db:
            row = db.execute(
                "SELECT instance_id FROM drafts WHERE task_id = ?", (task_id,)
            ).fetchone()
            if row:
                db.execute("DELETE FROM attachments WHERE instance_id = ?", (row["instance_id"],))
                db.execute("DELETE FROM drafts WHERE task_id = ?", (task_id,))

    # -- attachments ------------------------------------------------------------------
    def add_attachment(
        self,
        instance_id: str,
        item_id: str,
        kind: str,
        source: str | Path | bytes,
        filename: str | None = None,
    ) -> Attachment:
        """Copy a photo/signature into the store; identified by its SHA-256 checksum.

        A photo is downscaled first (:func:`mobile.core.photos.prepare_photo`), keeping its
        EXIF time and GPS; the original's digest and size are recorded with it. Raises
        :class:`mobile.core.photos.PhotoError` for a file that is not a photo.
        """
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        original_checksum: str | None = None
        original_size: int | None = None
        suffix = (
            Path(filename or (source if not isinstance(source, bytes) else "file.png")).suffix
            or ".bin"
        )
        name = filename or (
            Path(source).name if not isinstance(source, bytes) else f"{kind}{suffix}"
        )
        if kind == "photo":
            photo = prepare_photo(data)
            data, original_checksum, original_size = (
                photo.data,
                photo.original_checksum,
                photo.original_size,
            )
            if photo.downscaled or Path(name).suffix.lower() not in (".jpg", ".jpeg", ".png"):
                name, suffix = Path(name).stem + photo.suffix, photo.suffix
        checksum = hashlib.sha256(data).hexdigest()
        target = self.attachment_dir / f"{checksum}{suffix.lower()}"
        if not target.exists():
            tmp = target.with_suffix(target.suffix + ".part")
            tmp.write_bytes(data)
            tmp.replace(target)
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO attachments (instance_id, checksum, item_id, kind, filename, path, size,"
                " uploaded, original_checksum, original_size) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    instance_id,
                    checksum,
                    item_id,
                    kind,
                    name[:200],
                    str(target),
                    len(data),
                    original_checksum,
                    original_size,
                ),
            )
        return Attachment(
            instance_id,
            checksum,
            item_id,
            kind,
            name[:200],
            str(target),
            len(data),
            False,
            original_checksum,
            original_size,
        )

    def attachments(self, instance_id: str) -> list[Attachment]:
        rows = self._all(
            "SELECT * FROM attachments WHERE instance_id = ? ORDER BY item_id, checksum",
            instance_id,
        )
        return [
            Attachment(
                r["instance_id"],
                r["checksum"],
                r["item_id"],
                r["kind"],
                r["filename"],
                r["path"],
                r["size"],
                bool(r["uploaded"]),
                r["original_checksum"],
                r["original_size"],
                r["error"],
            )
            for r in rows
        ]

    def mark_uploaded(self, instance_id: str, checksum: str) -> None:
        with self.tx() as db:
            db.execute(
                "UPDATE attachments SET uploaded = 1, error = NULL WHERE instance_id = ? AND checksum = ?",
                (instance_id, checksum),
            )

    def set_attachment_error(self, instance_id: str, checksum: str, error: str | None) -> None:
        """Keep (or clear) the server's refusal of an attachment, for the inspector."""
        with self.tx() as db:
            db.execute(
                "UPDATE attachments SET error = ? WHERE instance_id = ? AND checksum = ?",
                (error, instance_id, checksum),
            )

    def copy_attachments(
        self, old_instance: str, new_instance: str, *, without: str | None = None
    ) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT OR IGNORE INTO attachments (instance_id, checksum, item_id, kind, filename, path, size,"
                " uploaded, original_checksum, original_size) SELECT ?, checksum, item_id, kind, filename,"
                " path, size, 0, original_checksum, original_size FROM attachments"
                " WHERE instance_id = ? AND checksum != ?",
                (new_instance, old_instance, without or ""),
            )

    def supersede(self, old_instance: str, body: dict[str, Any], *, dropped: str) -> OutboxEntry:
        """Queue ``body`` (a new instance naming ``old_instance`` as ``deprecated_id``) in
        place of the old entry, with the old entry's attachments but ``dropped``.
        """
        old = self.outbox_entry(old_instance)
        if old is None:
            raise KeyError(old_instance)
        self.copy_attachments(old_instance, body["instance_id"], without=dropped)
        with self.tx() as db:
            db.execute(
                "INSERT INTO outbox (instance_id, task_id, body, state, created_at) VALUES (?, ?, ?, 'pending', ?)",
                (body["instance_id"], old.task_id, _dumps(body), old.created_at),
            )
            db.execute("DELETE FROM outbox WHERE instance_id = ?", (old_instance,))
            db.execute(
                "INSERT INTO sync_log (at, instance_id, event, detail) VALUES (?, ?, 'retaken', ?)",
                (now_iso(), old_instance, f"新编号 {body['instance_id']}"),
            )
        entry = self.outbox_entry(body["instance_id"])
        assert entry is not None
        return entry

    # -- outbox -----------------------------------------------------------------------
    def finalize(self, task_id: int, body: dict[str, Any]) -> OutboxEntry:
        """Move a finished draft into the outbox, in one transaction."""
        with self.tx() as db:
            db.execute(
                "INSERT INTO outbox (instance_id, task_id, body, state, created_at) VALUES (?, ?, ?, 'pending', ?)",
                (body["instance_id"], task_id, _dumps(body), now_iso()),
            )
            db.execute("DELETE FROM drafts WHERE task_id = ?", (task_id,))
            db.execute(
                "INSERT INTO sync_log (at, instance_id, event, detail) VALUES (?, ?, 'finalized', ?)",
                (now_iso(), body["instance_id"], f"任务 {task_id}"),
            )
        entry = self.outbox_entry(body["instance_id"])
        assert entry is not None
        return entry

    def _entry(self, r: sqlite3.Row) -> OutboxEntry:
        return OutboxEntry(
            r["instance_id"],
            r["task_id"],
            json.loads(r["body"]),
            r["state"],
            r["submission_id"],
            r["attempts"],
            r["next_attempt_at"],
            r["last_error"],
            json.loads(r["error_items"]) if r["error_items"] else {},
            r["created_at"],
            r["sent_at"],
        )

    def outbox(self, *states: str) -> list[OutboxEntry]:
        if states:
            marks = ",".join("?" * len(states))
            rows = self._all(
                f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY created_at, rowid", *states
            )
        else:
            rows = self._all("SELECT * FROM outbox ORDER BY created_at, rowid")
        return [self._entry(r) for r in rows]

    def outbox_entry(self, instance_id: str) -> OutboxEntry | None:
        row = self._one("SELECT * FROM outbox WHERE instance_id = ?", instance_id)
        return self._entry(row) if row else None

    def outbox_for_task(self, task_id: int) -> OutboxEntry | None:
        row = self._one(
            "SELECT * FROM outbox WHERE task_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
            task_id,
        )
        return self._entry(row) if row else None

    def update_outbox(self, instance_id: str, **fields: Any) -> None:
        allowed = {
            "state",
            "submission_id",
            "attempts",
            "next_attempt_at",
            "last_error",
            "error_items",
            "sent_at",
        }
        if not fields or set(fields) - allowed:
            raise ValueError(f"bad outbox fields {sorted(fields)}")
        if "state" in fields and fields["state"] not in OUTBOX_STATES:
            raise ValueError(fields["state"])
        if "error_items" in fields:
            fields["error_items"] = _dumps(fields["error_items"]) if fields["error_items"] else None
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.tx() as db:
            db.execute(
                f"UPDATE outbox SET {sets} WHERE instance_id = ?", (*fields.values(), instance_id)
            )

    def reopen(self, instance_id: str) -> Draft:
        """Turn a rejected submission back into a draft (a new instance id) to correct it."""
        entry = self.outbox_entry(instance_id)
        if entry is None or entry.state not in ("rejected", "blocked"):
            raise ValueError(
                "只有被退回的提交可以重新编辑 (only rejected submissions can be reopened)"
            )
        body = entry.body
        # the conclusion (检查结论) travels beside the answers; the draft keeps it with them
        answers = {**body["answers"], **{k: body[k] for k in ("result_category", "follow_up") if body.get(k)}}
        # the server keeps a blocked entry as a pending submission: the edited one replaces it
        deprecated = instance_id if entry.state == "blocked" else None
        new_id = str(uuid.uuid4())
        stamp = now_iso()
        with self.tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO drafts (task_id, instance_id, form_code, form_version, answers, started_at,"
                " updated_at, deprecated_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    entry.task_id,
                    new_id,
                    body["form_code"],
                    str(body["form_version"]),
                    _dumps(answers),
                    body.get("started_at") or stamp,
                    stamp,
                    deprecated,
                ),
            )
            db.execute("DELETE FROM outbox WHERE instance_id = ?", (instance_id,))
            db.execute(
                "INSERT INTO sync_log (at, instance_id, event, detail) VALUES (?, ?, 'reopened', ?)",
                (stamp, instance_id, f"新编号 {new_id}"),
            )
        self.copy_attachments(instance_id, new_id)
        draft = self.draft(entry.task_id)
        assert draft is not None
        return draft

    # -- sync log ---------------------------------------------------------------------
    def log(self, event: str, detail: str = "", instance_id: str | None = None) -> None:
        with self.tx() as db:
            db.execute(
                "INSERT INTO sync_log (at, instance_id, event, detail) VALUES (?, ?, ?, ?)",
                (now_iso(), instance_id, event, detail),
            )

    def sync_log(self, limit: int = 100) -> list[dict[str, Any]]:
        return [
            dict(r) for r in self._all("SELECT * FROM sync_log ORDER BY id DESC LIMIT ?", limit)
        ]
