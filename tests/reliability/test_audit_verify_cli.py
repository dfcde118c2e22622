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


@pytest.fixture
def checkpointed(runner, chain):
    """The chain with a signed checkpoint of its head (the operator's periodic job)."""
    result = runner.invoke(args=["audit", "checkpoint"])
    assert result.exit_code == 0, result.output
    assert f"{len(chain)} events" in result.output
    return chain


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


def test_rehashed_tampered_event_is_caught_by_its_mac(runner, chain):
    """A forger who also recomputes the tampered event's own hash cannot recompute its MAC."""
    from server.audit.services import _digest, _payload

    target = chain[3]
    event = db.session.get(AuditEvent, target)
    event.actor = "mallory"
    event.hash = _digest(event.prev_hash, _payload(event))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1
    assert f"BROKEN at event id {chain[3]}" in out
    assert "MAC" in out


def rebuild_chain_from(target: int, **change) -> None:
    """What the issue reproduced: change an event in the database and recompute every hash
    from there on with the project's own digest function (no MAC key: it is not in the
    database)."""
    from server.audit.services import _digest, _payload

    db.session.execute(update(AuditEvent).where(AuditEvent.id == target).values(**change))
    db.session.commit()
    prev = db.session.scalar(select(AuditEvent.prev_hash).where(AuditEvent.id == target))
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.id >= target).order_by(AuditEvent.id)):
        event.prev_hash = prev
        event.hash = prev = _digest(prev, _payload(event))
    db.session.commit()


def test_rebuilt_chain_with_recomputed_hashes_is_reported(runner, chain):
    target = chain[len(chain) // 2]
    rebuild_chain_from(target, actor="mallory")
    code, out = verify_cli(runner)
    assert code == 1, out
    assert f"BROKEN at event id {target}" in out
    assert "MAC" in out


def test_rebuilt_chain_with_forged_macs_fails_the_signed_checkpoint(runner, checkpointed, app):
    """Even a forger who somehow had the MAC key cannot match the signed checkpoint."""
    from server.audit.anchor import mac, mac_key

    target = checkpointed[2]
    rebuild_chain_from(target, actor="mallory")
    key = mac_key()
    for event in db.session.scalars(select(AuditEvent)):
        event.mac = mac(key, event.hash)
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1, out
    assert f"BROKEN at event id {checkpointed[-1]}" in out
    assert "checkpoint" in out


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


@pytest.mark.parametrize("cut", [1, 3])
def test_truncated_tail_is_reported(runner, checkpointed, cut):
    """The newest events deleted: the chain falls short of the latest signed checkpoint."""
    db.session.execute(delete(AuditEvent).where(AuditEvent.id.in_(checkpointed[-cut:])))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1, out
    assert "truncated" in out


def test_checkpoints_are_written_after_audited_commits(app, client, auth, users, runner):
    """With the period at 0, every audited commit is checkpointed: a cut tail is caught
    without anyone running `audit checkpoint`."""
    app.config["AUDIT_CHECKPOINT_SECONDS"] = 0
    assert client.get("/api/v1/me", headers=auth.headers("analyst")).status_code == 200
    code, out = verify_cli(runner)
    assert code == 0 and "0 newer events not yet checkpointed" in out, out
    last = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == last))
    db.session.commit()
    code, out = verify_cli(runner)
    assert code == 1 and "truncated" in out, out


def test_a_checkpoint_with_a_forged_signature_is_not_trusted(app, runner, checkpointed):
    """Appending a made-up checkpoint (say, of a shortened chain) to the file does not
    help a forger: only checkpoints signed with the instance's key count."""
    import json
    from pathlib import Path

    path = Path(app.instance_path) / "audit_checkpoints.jsonl"
    body = json.loads(path.read_text().splitlines()[-1])
    db.session.execute(delete(AuditEvent).where(AuditEvent.id == checkpointed[-1]))
    db.session.commit()
    head = db.session.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    body.update(events=len(checkpointed) - 1, head_id=head.id, head_hash=head.hash)
    with path.open("a") as fh:
        fh.write(json.dumps(body) + "\n")
    code, out = verify_cli(runner)
    assert code == 1 and "truncated" in out, out


def test_the_latest_checkpoint_is_public(client, checkpointed, app):
    page = client.get("/public/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "审计日志校验点" in text and "BEGIN PUBLIC KEY" in text
    data = client.get("/public/audit.json").get_json()
    assert data["checkpoint"]["events"] == len(checkpointed)
    from server.audit.anchor import signature_ok

    assert signature_ok(data["checkpoint"], data["public_key"])
