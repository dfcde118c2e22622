"""Append to and verify the hash-chained audit log.

Each event's hash is ``sha256(prev_hash || canonical JSON of the event)``; the chain
starts at 64 zeros. Tampering with an event changes its hash; deleting or reordering
events breaks the ``prev_hash`` links. Appends are serialised (an advisory lock on
PostgreSQL; SQLite serialises writers anyway) so two transactions never fork the chain.

The chain is anchored outside the database (:mod:`server.audit.anchor`): each event's
``mac`` is a keyed MAC of its hash (a chain rebuilt with recomputed hashes fails it),
and signed checkpoints of the head (a cut tail falls short of the latest one).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from flask import has_app_context
from sqlalchemy import event as sa_event
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.audit import anchor
from server.audit.models import AuditEvent
from server.db import utcnow

GENESIS = "0" * 64
_TAIL = "shuangsui.audit_tail"


@sa_event.listens_for(Session, "after_transaction_end")
def _forget_tail(session: Session, transaction: object) -> None:
    """A new transaction (or after a savepoint) re-reads the tail: others may have appended."""
    session.info.pop(_TAIL, None)
_LOCK_KEY = 0x5A5E  # advisory lock id for the audit chain
#: the chain's newest hash (built once: every audited transaction reads it)
TAIL_HASH = select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)


def _digest(prev_hash: str, payload: dict[str, Any]) -> str:
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def _payload(event: AuditEvent) -> dict[str, Any]:
    data = event.canonical()
    data.pop("id")
    return data


def _locked_tail(session: Session) -> str:
    """Read the chain's newest hash under the PostgreSQL advisory lock.

    The lock is held until the transaction ends, so no other writer appends meanwhile.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    return session.scalars(TAIL_HASH).first() or GENESIS


def record(
    session: Session,
    actor: str,
    action: str,
    object_type: str,
    object_id: Any = None,
    **data: Any,
) -> AuditEvent:
    """Append an event in the caller's transaction (committed with the change it records).

    The chain's tail is read once per transaction (under the PostgreSQL advisory lock,
    held until the transaction ends) and then kept in ``session.info``; events of one
    transaction are inserted in the order they were recorded.
    """
    last = session.info.get(_TAIL) or _locked_tail(session)
    entry = AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        data=json.loads(json.dumps(data, ensure_ascii=False, default=str)),
        prev_hash=last,
    )
    entry.hash = _digest(entry.prev_hash, _payload(entry))
    key = anchor.mac_key()
    entry.mac = anchor.mac(key, entry.hash) if key else None
    session.add(entry)
    session.info[_TAIL] = entry.hash
    anchor.note_recorded(session)
    return entry


@dataclass
class VerifyReport:
    ok: bool
    events: int
    broken_at: int | None = None
    reason: str | None = None
    #: the latest valid checkpoint the chain was checked against (``None``: none yet)
    checkpoint: dict[str, Any] | None = None
    #: events after that checkpoint (not yet anchored by one)
    unanchored: int = 0
    notes: list[str] = field(default_factory=list)


def verify(
    session: Session,
    *,
    batch: int = 5000,
    key: bytes | None | object = ...,
    checkpoint: dict[str, Any] | None | object = ...,
) -> VerifyReport:
    """Walk the chain in id order and report the first broken link.

    Checks each ``prev_hash`` link, each hash, each MAC (with ``key``, by default the
    instance's) and finally the chain against ``checkpoint`` (by default the latest
    validly signed one): its head event must be there with the same hash and the same
    number of events up to it.
    """
    if key is ...:
        key = anchor.mac_key()
    notes: list[str] = []
    if checkpoint is ...:
        checkpoint, problem = anchor.latest_checkpoint() if has_app_context() else (None, None)
        if problem:
            notes.append(problem)
    assert key is None or isinstance(key, bytes)
    assert checkpoint is None or isinstance(checkpoint, dict)
    prev = GENESIS
    count = 0
    last_id = 0
    at_head: int | None = None
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for event in rows:
            count += 1
            if event.prev_hash != prev:
                return VerifyReport(
                    False, count, event.id,
                    "prev_hash does not match the previous event (deleted or reordered events)",
                )
            if _digest(event.prev_hash, _payload(event)) != event.hash:
                return VerifyReport(False, count, event.id, "event content does not match its hash (tampered)")
            if key is not None and (event.mac is None or not hmac.compare_digest(event.mac, anchor.mac(key, event.hash))):
                return VerifyReport(
                    False, count, event.id,
                    "MAC missing or wrong: the event was rewritten and its hash recomputed without the audit key "
                    "(tampered, chain rebuilt)",
                )
            if checkpoint is not None and event.id == checkpoint["head_id"]:
                at_head = count
                if event.hash != checkpoint["head_hash"]:
                    return VerifyReport(False, count, event.id,
                                        "hash differs from the signed checkpoint's head (chain rewritten)",
                                        checkpoint=checkpoint)
            prev = event.hash
            last_id = event.id
        session.expunge_all()
    if checkpoint is not None and checkpoint["events"]:
        if at_head is None or at_head != checkpoint["events"]:
            return VerifyReport(
                False, count, checkpoint["head_id"],
                f"the chain does not reach the signed checkpoint of {checkpoint['at']} "
                f"({checkpoint['events']} events up to id {checkpoint['head_id']}; found {at_head or count}): "
                "events deleted from the tail (truncated)",
                checkpoint=checkpoint,
            )
        return VerifyReport(True, count, checkpoint=checkpoint, unanchored=count - at_head, notes=notes)
    return VerifyReport(True, count, checkpoint=checkpoint, unanchored=count, notes=notes)


def record_many(session: Session, actor: str, events: list[tuple[str, str, Any, dict[str, Any]]]) -> int:
    """Append several events (action, object_type, object_id, data) in one chain segment."""
    if not events:
        return 0
    prev = _locked_tail(session)
    key = anchor.mac_key()
    rows = []
    for action, object_type, object_id, data in events:
        event = AuditEvent(
            at=utcnow(), actor=actor, action=action, object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            data=json.loads(json.dumps(data, ensure_ascii=False, default=str)), prev_hash=prev,
        )
        event.hash = prev = _digest(event.prev_hash, _payload(event))
        event.mac = anchor.mac(key, event.hash) if key else None
        rows.append(event)
    session.add_all(rows)
    session.flush()
    session.info[_TAIL] = prev
    anchor.note_recorded(session)
    return len(rows)
