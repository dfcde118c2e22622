"""``shuangsui audit verify`` (the CLI, as an operator runs it) on a chain written by real
requests: a tampered, a deleted and a reordered event are each reported with the id
where the chain breaks and a non-zero exit code. (tests/server/test_audit_chain.py checks
the service on hand-made events; here the chain comes from the API.)"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from server.audit.models import AuditEvent
from server.extensions import db

FIELDS = ("at", "actor", "action", "object_type", "object_id", "data", "prev_hash", "hash")


@pytest.fixture
def chain(client, auth, users):
    """Events from real work: user creation, logins, token issue and revocation."""
    for role in ("inspector", "supervisor", "analyst"):
        headers = auth.headers(role)
        assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=auth.headers("admin")).status_code == 204
    ids = list(db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)))
    assert len(ids) >= 12
    return ids


def verify_cli(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_untouched_chain_verifies(runner, chain):
    code, out = verify_cli(runner)
    assert code == 0
    assert f"OK: {len(chain)} events" in out


@pytest.mark.parametrize(
    "change",
    [
        {"actor": "mallory"},
        {"data": {"forged": True}},
        {"action": "login.failed"},
        {"object_id": "999"},
    ],
)
def test_tampered_event_is_reported_where_it_is(runner, chain, change):
    target = chain[len(chain) // 2]
    db.session.execute(update(AuditEvent).where(AuditEvent.id == target).values(**change))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1
    assert f"BROKEN at event id {target}" in out
    assert "tampered" in out


def test_rehashed_tampered_event_is_caught_by_the_next_link(runner, chain):
    """A forger who also recomputes the tampered event's own hash breaks its successor."""
    from server.audit.services import _digest, _payload

    target = chain[3]
    event = db.session.get(AuditEvent, target)
    event.actor = "mallory"
    event.hash = _digest(event.prev_hash, _payload(event))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1
    assert f"BROKEN at event id {chain[4]}" in out


@pytest.mark.parametrize("position", ["first", "middle", "second_last"])
def test_deleted_event_is_reported(runner, chain, position):
    index = {"first": 0, "middle": len(chain) // 2, "second_last": len(chain) - 2}[position]
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == chain[index]))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1
    assert f"BROKEN at event id {chain[index + 1]}" in out
    assert "deleted or reordered" in out


def test_reordered_events_are_reported(runner, chain):
    a, b = chain[4], chain[5]
    values = {i: {f: getattr(db.session.get(AuditEvent, i), f) for f in FIELDS} for i in (a, b)}
    db.session.execute(update(AuditEvent).where(AuditEvent.id == a).values(hash="0" * 63 + "1"))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == b).values(**values[a]))
    db.session.execute(update(AuditEvent).where(AuditEvent.id == a).values(**values[b]))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1
    assert f"BROKEN at event id {a}" in out


@pytest.mark.xfail(
    strict=True,
    reason=(
        "a hash chain alone cannot notice its newest events being cut off: nothing records "
        "where the chain should end. Needs an anchor (e.g. the head hash published or kept "
        "outside the database). Remove this marker when `audit verify` checks one."
    ),
)
def test_truncated_tail_is_reported(runner, chain):
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == chain[-1]))
    db.session.commit()
    code, _ = verify_cli(runner)
    assert code == 1
