"""Task-list versions: ``task_list_changes`` (appended by triggers), ``task_list_epoch``
(the database's generation) and the triggers (see ``server.tasks.feed``).

Revision ID: 3b7d0c9e2f41
Revises: 85e52586d54c
Create Date: 2026-11-25 18:10:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '3b7d0c9e2f41'
down_revision = '85e52586d54c'
branch_labels = None
depends_on = None


def upgrade():
    from server.tasks.feed import install_triggers

    op.create_table('task_list_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspector_id', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), server_default='1', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_list_changes'))
    )
    with op.batch_alter_table('task_list_changes', schema=None) as batch_op:
        batch_op.create_index('ix_task_list_changes_inspector', ['inspector_id', 'id'], unique=False)
    op.create_table('task_list_epoch',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_task_list_epoch'))
    )
    install_triggers(op.get_bind())


def downgrade():
    from server.tasks.feed import drop_triggers

    drop_triggers(op.get_bind())
    op.drop_table('task_list_epoch')
    with op.batch_alter_table('task_list_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_task_list_changes_inspector')
    op.drop_table('task_list_changes')
