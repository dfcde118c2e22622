"""Backup and restore carry what ``audit verify`` needs (issue 27, finding 3): a restored
instance — a new machine with its own instance folder — verifies the chain's MACs and the
signed checkpoint, and still notices a cut tail."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, select

from server.audit import anchor
from server.audit.models import AuditEvent
from server.audit.services import verify
from server.backup import FILE_DIRS, backup, restore
from server.db import Base
from server.extensions import db


def test_restore_into_a_new_instance_keeps_the_chain_verifiable(app, client, auth, users, runner, tmp_path):
    for role in ("inspector", "analyst", "admin"):
        assert client.get("/api/v1/me", headers=auth.headers(role)).status_code == 200
    assert runner.invoke(args=["audit", "checkpoint"]).exit_code == 0
    events = db.session.scalar(select(AuditEvent.id).order_by(AuditEvent.id.desc()).limit(1))
    archive = tmp_path / "b.tar.gz"
    backup(db.session, archive, {k: app.config[k] for k in FILE_DIRS})

    # a new machine: empty database, and an instance folder with keys of its own
    db.session.remove()
    Base.metadata.drop_all(db.engine)
    Base.metadata.create_all(db.engine)
    folder = Path(app.instance_path)
    for name in anchor.FILES:
        (folder / name).unlink(missing_ok=True)
    anchor.forget_keys()
    anchor.mac_key()  # the new instance made its own MAC key (say, while migrating)

    restore(db.session, archive, {k: app.config[k] for k in FILE_DIRS})
    report = verify(db.session)
    assert report.ok, report.reason
    assert report.checkpoint is not None and report.checkpoint["head_id"] == events
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output

    db.session.execute(delete(AuditEvent).where(AuditEvent.id == events))
    db.session.commit()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "truncated" in result.output, result.output
