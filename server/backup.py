"""Backup and restore: the whole database and the files the records point to, in one archive.

The archive (``.tar.gz``) holds ``manifest.json`` (format version, Alembic revision, row
count of every table, SHA-256 of every file, the audit chain's last hash), one JSON-Lines
file per table (database-neutral: a SQLite backup restores into PostgreSQL and back), and
the attachment, model and draw-pool directories, and the audit chain's anchor (its MAC
key, checkpoint signing key and signed checkpoints, from the instance folder). Restore refuses a database that already
holds data, checks every checksum before writing anything, inserts tables in foreign-key
order in one transaction, moves PostgreSQL sequences past the restored ids, and verifies
the audit chain afterwards.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, func, select, text
from sqlalchemy.orm import Session

from server.db import Base
from server.errors import Conflict, Invalid

FORMAT = 1
FILE_DIRS = ("ATTACHMENT_DIR", "MODEL_DIR", "POOL_DIR")


#: Tables that belong to the database they live in, not to its data: the task lists'
#: generation and change log (``server.tasks.feed``) start anew, the generation at a random
#: value, in a restored database, so that no handheld's ``ETag`` from before the restore
#: can match a restored list.
NOT_BACKED_UP = frozenset({"task_list_epoch", "task_list_changes"})


def _tables() -> list[Any]:
    return [t for t in Base.metadata.sorted_tables if t.name not in NOT_BACKED_UP]


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _decode(column: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return dt.datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return dt.date.fromisoformat(value)
    return value


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def backup(session: Session, out: Path, dirs: dict[str, str], *, chunk: int = 20_000) -> dict[str, Any]:
    """Write the archive; return its manifest."""
    from server.audit.services import TAIL_HASH

    manifest: dict[str, Any] = {"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(),
                                "dialect": session.get_bind().dialect.name, "tables": {}, "files": {}}
    manifest["alembic_revision"] = _revision(session)
    manifest["dirs"] = {k: str(Path(v).resolve()) for k, v in dirs.items() if v}
    manifest["audit_tail"] = session.scalar(TAIL_HASH)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w:gz") as tar:
        for table in _tables():
            cols = list(table.columns)
            lines = []
            order = [c for c in table.primary_key.columns] or cols[:1]
            result = session.execute(select(*cols).order_by(*order)).yield_per(chunk)
            for row in result:
                lines.append(json.dumps([_encode(v) for v in row], ensure_ascii=False, default=str))
            data = ("\n".join(lines) + ("\n" if lines else "")).encode("utf-8")
            _add(tar, f"tables/{table.name}.jsonl", data)
            manifest["tables"][table.name] = {"rows": len(lines), "columns": [c.name for c in cols],
                                              "sha256": _sha256(data)}
        for name, data in _audit_files().items():
            _add(tar, f"{AUDIT_PREFIX}{name}", data)
            manifest["files"][f"{AUDIT_PREFIX}{name}"] = _sha256(data)
        for key, directory in dirs.items():
            root = Path(directory)
            if not root.is_dir():
                continue
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                data = path.read_bytes()
                name = f"files/{key}/{path.relative_to(root).as_posix()}"
                _add(tar, name, data)
                manifest["files"][name] = _sha256(data)
        _add(tar, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8"))
    return manifest


#: where the audit chain's anchor (MAC key, signing key, checkpoints) goes in the archive:
#: a restored instance needs them to verify the chain it receives (and to go on signing
#: checkpoints under the same public key). The archive is therefore as secret as the
#: instance folder.
AUDIT_PREFIX = "files/AUDIT/"


def _audit_files() -> dict[str, bytes]:
    from flask import current_app, has_app_context

    from server.audit import anchor

    if not has_app_context():
        return {}
    folder = Path(current_app.instance_path)
    return {name: (folder / name).read_bytes() for name in anchor.FILES if (folder / name).is_file()}


def _restore_audit_files(blobs: dict[str, bytes]) -> None:
    import os

    from flask import current_app, has_app_context

    from server.audit import anchor

    if not has_app_context():
        return
    folder = Path(current_app.instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    for name in anchor.FILES:
        data = blobs.get(f"{AUDIT_PREFIX}{name}")
        if data is None:
            continue
        target = folder / name
        target.write_bytes(data)
        os.chmod(target, 0o644 if name in (anchor.PUBLIC_FILE, anchor.CHECKPOINT_FILE) else 0o600)
    anchor.forget_keys()


def _revision(session: Session) -> str | None:
    try:
        return session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception:  # noqa: BLE001 - a schema built without Alembic (tests, simulate)
        session.rollback()
        return None


#: Columns holding a path inside one of the file directories (rewritten on restore).
PATH_COLUMNS = (("attachments", "path"), ("sampling_rounds", "pool_path"), ("model_versions", "path"),
                ("feature_snapshots", "path"))


def _remap_paths(session: Session, old: dict[str, str], new: dict[str, str]) -> None:
    """Point stored file paths at the directories of the instance restored into."""
    pairs = [(old[k].rstrip("/") + "/", str(Path(new[k]).resolve()).rstrip("/") + "/")
             for k in old if k in new and new[k]]
    tables = {t.name: t for t in _tables()}
    for table_name, column in PATH_COLUMNS:
        table = tables[table_name]
        col = table.c[column]
        for pk, value in session.execute(select(table.primary_key.columns[0], col).where(col.is_not(None))).all():
            for before, after in pairs:
                if value.startswith(before):
                    session.execute(table.update().where(table.primary_key.columns[0] == pk)
                                    .values({column: after + value[len(before):]}))
                    break


def restore(session: Session, archive: Path, dirs: dict[str, str]) -> dict[str, Any]:
    """Load an archive into an empty database (schema already created); return its manifest."""
    from server.audit.services import verify

    for table in _tables():
        if session.scalar(select(func.count()).select_from(table)):
            raise Conflict(f"数据库非空（表 {table.name} 有数据），拒绝覆盖 (restore needs an empty database)")
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
        if "manifest.json" not in members:
            raise Invalid("不是双随备份文件：缺少 manifest.json (not a backup archive)")
        manifest = json.loads(tar.extractfile(members["manifest.json"]).read())  # type: ignore[union-attr]
        if manifest.get("format") != FORMAT:
            raise Invalid(f"备份格式 {manifest.get('format')} 不受支持 (unsupported format)")
        blobs: dict[str, bytes] = {}
        for name, member in members.items():
            if name == "manifest.json":
                continue
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            expected = (manifest["tables"].get(name[len("tables/"):-len(".jsonl")], {}).get("sha256")
                        if name.startswith("tables/") else manifest["files"].get(name))
            if expected != _sha256(data):
                raise Invalid(f"备份文件 {name} 校验失败 (checksum mismatch): the archive is damaged")
            blobs[name] = data
    known = {t.name for t in _tables()}
    missing = [t for t in manifest["tables"] if t not in known]
    if missing:
        raise Invalid(f"备份含有本版本没有的表 {', '.join(missing)} (archive from a newer version)")
    for table in _tables():
        meta = manifest["tables"].get(table.name)
        if not meta or not meta["rows"]:
            continue
        cols = [table.columns[c] for c in meta["columns"] if c in table.columns]
        names = meta["columns"]
        rows = []
        for line in blobs[f"tables/{table.name}.jsonl"].decode("utf-8").splitlines():
            values = dict(zip(names, json.loads(line), strict=True))
            rows.append({c.name: _decode(c, values[c.name]) for c in cols})
        for i in range(0, len(rows), 20_000):
            session.execute(table.insert(), rows[i:i + 20_000])
    if session.get_bind().dialect.name == "postgresql":
        for table in _tables():
            pk = list(table.primary_key.columns)
            if len(pk) == 1 and pk[0].autoincrement in (True, "auto") and pk[0].type.python_type is int:
                session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
                    f"COALESCE((SELECT MAX({pk[0].name}) FROM {table.name}), 0) + 1, false)"))
    _remap_paths(session, manifest.get("dirs") or {}, dirs)
    session.commit()
    _restore_audit_files(blobs)
    for name, data in blobs.items():
        if not name.startswith("files/") or name.startswith(AUDIT_PREFIX):
            continue
        _, key, rel = name.split("/", 2)
        if key not in dirs or ".." in Path(rel).parts:
            continue
        target = Path(dirs[key]) / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    report = verify(session)
    if not report.ok:
        raise Invalid(f"恢复后审计链校验失败：{report.reason} (audit chain broken after restore)")
    return manifest
