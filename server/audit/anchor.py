"""What anchors the audit chain outside the database: a MAC key and signed checkpoints.

A hash chain alone proves nothing to someone who can write the database: they can
change an event and recompute every hash after it, or cut the newest events off. Two
things kept *outside* the database close both gaps:

* **a MAC key** (``SHUANGSUI_AUDIT_KEY``, or ``<instance>/audit_mac.key``, made once,
  mode 0600): every event carries ``mac = HMAC-SHA256(key, hash)``. Without the key no
  one can produce a valid MAC for a recomputed hash, so a rebuilt chain is detected at
  the first rewritten event;
* **signed checkpoints**: the chain's length, head id and head hash, and the time, signed
  with an Ed25519 key (``<instance>/audit_signing.pem``, 0600; its public half in
  ``audit_signing.pub`` and on the public page ``/public/audit``), appended to
  ``<instance>/audit_checkpoints.jsonl``. A chain shorter than the latest checkpoint, or
  whose event at the checkpoint's head has another hash, has lost its tail or been
  rewritten. Checkpoints are written at most every ``AUDIT_CHECKPOINT_SECONDS`` after a
  commit that recorded events (and by ``shuangsui audit checkpoint``); since they are
  published, anyone who kept a copy can hold the office to them.

What remains open: events after the latest checkpoint can be cut without a trace until
the next one (at most ``AUDIT_CHECKPOINT_SECONDS``); someone holding both the database
and the instance folder (the keys) can rewrite everything. Keep the instance folder
(and backups, which carry the keys for restore) apart from database access.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

MAC_FILE = "audit_mac.key"
SIGNING_FILE = "audit_signing.pem"
PUBLIC_FILE = "audit_signing.pub"
CHECKPOINT_FILE = "audit_checkpoints.jsonl"
#: the instance files backups carry so a restored instance can verify its chain
FILES = (MAC_FILE, SIGNING_FILE, PUBLIC_FILE, CHECKPOINT_FILE)
_CACHE = "shuangsui.audit_anchor"
_RECORDED = "shuangsui.audit_recorded"


def _instance(app: Flask | None = None) -> Path:
    return Path((app or current_app).instance_path)


def _cache(app: Flask | None = None) -> dict[str, Any]:
    return (app or current_app).extensions.setdefault(_CACHE, {})


def forget_keys(app: Flask | None = None) -> None:
    """Drop the keys read so far (after a restore wrote the archive's)."""
    (app or current_app).extensions.pop(_CACHE, None)


def mac_key(app: Flask | None = None) -> bytes | None:
    """The MAC key, or ``None`` outside an app (library use: events then carry no MAC)."""
    if app is None and not has_app_context():
        return None
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache = _cache(app)
    if "mac" not in cache:
        from server.config import instance_secret

        configured = app.config.get("AUDIT_KEY")
        cache["mac"] = (configured or instance_secret(_instance(app) / MAC_FILE)).encode("utf-8")
    return cache["mac"]  # type: ignore[no-any-return]


def mac(key: bytes, event_hash: str) -> str:
    return hmac.new(key, event_hash.encode("ascii"), hashlib.sha256).hexdigest()


# --------------------------------------------------------------------- signing
def _signing_key(app: Flask | None = None) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    cache = _cache(app)
    if "signing" in cache:
        return cache["signing"]
    folder = _instance(app)
    path = folder / SIGNING_FILE
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs below
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    public = folder / PUBLIC_FILE
    if not public.exists():
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                         serialization.PublicFormat.SubjectPublicKeyInfo))
    cache["signing"] = key
    return key


def public_key_pem(app: Flask | None = None) -> str | None:
    path = _instance(app) / PUBLIC_FILE
    return path.read_text(encoding="ascii") if path.exists() else None


def _message(body: dict[str, Any]) -> bytes:
    fields = {k: body[k] for k in ("events", "head_id", "head_hash", "at")}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def write_checkpoint(session_or_conn: Any, app: Flask | None = None, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Sign the chain's current head and append it to the checkpoint file; return it."""
    from server.audit.models import AuditEvent

    head = session_or_conn.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    if head is None:
        count, head_id, head_hash = 0, 0, "0" * 64
    else:
        head_id, head_hash = int(head[0]), str(head[1])
        count = int(session_or_conn.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.id <= head_id)).scalar_one())
    body: dict[str, Any] = {
        "events": count, "head_id": head_id, "head_hash": head_hash,
        "at": (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds"),
    }
    body["signature"] = base64.b64encode(_signing_key(app).sign(_message(body))).decode("ascii")
    path = _instance(app) / CHECKPOINT_FILE
    with open(path, "a", encoding="utf-8") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps(body, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(path, 0o644)
    _cache(app)["last_checkpoint"] = time.monotonic()
    return body


def checkpoints(app: Flask | None = None) -> list[dict[str, Any]]:
    path = _instance(app) / CHECKPOINT_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def signature_ok(body: dict[str, Any], public_pem: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    try:
        key.verify(base64.b64decode(body["signature"]), _message(body))  # type: ignore[union-attr]
    except (InvalidSignature, KeyError, ValueError):
        return False
    return True


def latest_checkpoint(app: Flask | None = None) -> tuple[dict[str, Any] | None, str | None]:
    """The newest checkpoint whose signature holds (and a problem, if one did not)."""
    public = public_key_pem(app)
    problem = None
    for body in reversed(checkpoints(app)):
        if public and signature_ok(body, public):
            return body, problem
        problem = "签名无效的检查点 (a checkpoint's signature does not verify)"
    return None, problem


# --------------------------------------------------------------------- periodic writing
def note_recorded(session: Session) -> None:
    """Called by ``record``: this transaction appends to the chain."""
    session.info[_RECORDED] = True


@sa_event.listens_for(Session, "after_commit")
def _checkpoint_after_commit(session: Session) -> None:
    if not session.info.pop(_RECORDED, False) or not has_app_context():
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    interval = float(app.config.get("AUDIT_CHECKPOINT_SECONDS", 300))
    if interval < 0:
        return
    last = _cache(app).get("last_checkpoint")
    if last is not None and time.monotonic() - last < interval:
        return
    try:
        with session.get_bind().connect() as conn:
            write_checkpoint(conn, app)
    except Exception:  # noqa: BLE001 - a checkpoint is a safeguard; the commit has happened
        _cache(app)["last_checkpoint"] = time.monotonic()
        app.logger.warning("audit checkpoint not written", exc_info=True)


@sa_event.listens_for(Session, "after_rollback")
def _forget_recorded(session: Session) -> None:
    session.info.pop(_RECORDED, None)
