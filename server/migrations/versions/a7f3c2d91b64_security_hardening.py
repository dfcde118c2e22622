"""Security hardening: session versions, audit MACs, throttle counters, relative pool paths.

Revision ID: a7f3c2d91b64
Revises: 5e8a2d71c4b9
Create Date: 2026-12-06 03:30:00

* ``users.session_version``: console sessions carry it instead of a fragment of the
  password hash; rotated on a password change, disabling or "log out everywhere";
* ``audit_events.mac``: HMAC of each event's hash with the key kept outside the database;
  existing events get theirs here, with the instance's key (server/audit/anchor.py);
* ``login_attempts.remote_addr`` indexed (throttling per address) and ``rate_counters``
  (per-address limits on public endpoints), both in the database so every server process
  shares them;
* ``sampling_rounds.pool_path`` made relative to POOL_DIR (a copied instance replays its
  own pool files).
"""
import hashlib
import hmac
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7f3c2d91b64'
down_revision = '5e8a2d71c4b9'
branch_labels = None
depends_on = None


def _app():
    try:
        from flask import current_app

        return current_app._get_current_object()
    except RuntimeError:  # alembic run without the Flask app
        return None


def upgrade():
    # Plain ADD COLUMN (no batch rebuild: the task-list triggers name sampling_rounds).
    op.add_column('users', sa.Column('session_version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('audit_events', sa.Column('mac', sa.String(length=64), nullable=True))
    op.create_index('ix_login_attempts_remote_addr', 'login_attempts', ['remote_addr'], unique=False)
    op.create_table(
        'rate_counters',
        sa.Column('key', sa.String(length=128), nullable=False),
        sa.Column('window_start', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters')),
    )
    bind = op.get_bind()
    app = _app()
    if app is None:
        return
    from server.audit.anchor import mac_key

    key = mac_key(app)
    events = sa.table('audit_events', sa.column('id', sa.Integer), sa.column('hash', sa.String),
                      sa.column('mac', sa.String))
    rows = bind.execute(sa.select(events.c.id, events.c.hash).where(events.c.mac.is_(None))).all()
    for i in range(0, len(rows), 5000):
        bind.execute(events.update().where(events.c.id == sa.bindparam('b_id')).values(mac=sa.bindparam('b_mac')),
                     [{'b_id': r.id, 'b_mac': hmac.new(key, r.hash.encode('ascii'), hashlib.sha256).hexdigest()}
                      for r in rows[i:i + 5000]])
    pool_dir = app.config.get('POOL_DIR')
    if pool_dir:
        base = Path(pool_dir).resolve()
        rounds = sa.table('sampling_rounds', sa.column('id', sa.Integer), sa.column('pool_path', sa.String))
        for rid, path in bind.execute(sa.select(rounds.c.id, rounds.c.pool_path)
                                      .where(rounds.c.pool_path.is_not(None))).all():
            if not os.path.isabs(path):
                continue
            try:
                relative = Path(path).resolve().relative_to(base).as_posix()
            except ValueError:
                continue  # outside POOL_DIR: left absolute (still read as is)
            bind.execute(rounds.update().where(rounds.c.id == rid).values(pool_path=relative))


def downgrade():
    app = _app()
    bind = op.get_bind()
    if app is not None and app.config.get('POOL_DIR'):
        base = Path(app.config['POOL_DIR']).resolve()
        rounds = sa.table('sampling_rounds', sa.column('id', sa.Integer), sa.column('pool_path', sa.String))
        for rid, path in bind.execute(sa.select(rounds.c.id, rounds.c.pool_path)
                                      .where(rounds.c.pool_path.is_not(None))).all():
            if not os.path.isabs(path):
                bind.execute(rounds.update().where(rounds.c.id == rid).values(pool_path=str(base / path)))
    op.drop_table('rate_counters')
    op.drop_index('ix_login_attempts_remote_addr', table_name='login_attempts')
    op.drop_column('audit_events', 'mac')
    op.drop_column('users', 'session_version')
