"""Submissions complete only with their attachments: a pending state, the original
photo's digest, the refusal shown to the inspector, one live submission per task.

Revision ID: e4a71c3b9d52
Revises: a7f3c2d91b64
Create Date: 2026-12-06 03:05:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4a71c3b9d52'
down_revision = 'a7f3c2d91b64'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no batch rebuild); every stored submission so far had its result
    # recorded on arrival, hence 'complete'.
    op.add_column('submissions', sa.Column('state', sa.String(length=16), nullable=False,
                                           server_default='complete'))
    op.add_column('submissions', sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('attachments', sa.Column('original_checksum', sa.String(length=64), nullable=True))
    op.add_column('attachments', sa.Column('original_size', sa.Integer(), nullable=True))
    op.add_column('attachments', sa.Column('refusal', sa.String(length=300), nullable=True))
    op.create_index('uq_submissions_live_task', 'submissions', ['task_id'], unique=True,
                    sqlite_where=sa.text("state != 'superseded'"),
                    postgresql_where=sa.text("state != 'superseded'"))


def downgrade():
    op.drop_index('uq_submissions_live_task', table_name='submissions')
    op.drop_column('attachments', 'refusal')
    op.drop_column('attachments', 'original_size')
    op.drop_column('attachments', 'original_checksum')
    op.drop_column('submissions', 'completed_at')
    op.drop_column('submissions', 'state')
