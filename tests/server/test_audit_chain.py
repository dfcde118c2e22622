from __future__ import annotations

from sqlalchemy import delete, select, update

from server.audit.models import AuditEvent
from server.audit.services import record, verify
from server.extensions import db


def _chain(n: int = 5) -> list[int]:
    events = [record(db.session, "tester", "thing.change", "thing", i, value=i) for i in range(n)]
    db.session.commit()
    return [e.id for e in events]


def test_intact_chain_verifies(app):
    _chain()
    report = verify(db.session)
    assert report.ok and report.events == 5


def test_tampered_event_is_detected(app):
    ids = _chain()
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(data={"value": 999}))
    db.session.commit()
    report = verify(db.session)
    assert not report.ok
    assert report.broken_at == ids[2]
    assert "tampered" in report.reason


def test_deleted_event_is_detected(app):
    ids = _chain()
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == ids[1]))
    db.session.commit()
    report = verify(db.session)
    assert not report.ok
    assert report.broken_at == ids[2]


def test_reordered_events_are_detected(app):
    ids = _chain()
    a, b = (db.session.get(AuditEvent, i) for i in ids[1:3])
    fields = ("at", "actor", "action", "object_type", "object_id", "data", "prev_hash", "hash")
    va, vb = ({f: getattr(e, f) for f in fields} for e in (a, b))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(hash="x" * 64))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[2]).values(**va))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[1]).values(**vb))
    db.session.commit()
    report = verify(db.session)
    assert not report.ok
    assert report.broken_at == ids[1]


def test_cli_audit_verify_exit_codes(app, runner):
    ids = _chain(3)
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "OK: 3 events" in ok.output
    db.session.execute(update(AuditEvent).where(AuditEvent.id == ids[0]).values(actor="mallory"))
    db.session.commit()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    assert f"BROKEN at event id {ids[0]}" in broken.output


def test_login_and_user_creation_are_audited(client, users):
    client.post("/api/v1/auth/token", json={"username": "admin", "password": "password123"})
    actions = db.session.scalars(select(AuditEvent.action)).all()
    assert actions.count("user.create") == 5
    assert "login" in actions and "token.issue" in actions
