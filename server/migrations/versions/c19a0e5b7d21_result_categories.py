"""Published result categories and follow-up on results; why a task is infeasible.

Revision ID: c19a0e5b7d21
Revises: 3b7d0c9e2f41
Create Date: 2026-12-06 02:55:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c19a0e5b7d21'
down_revision = '3b7d0c9e2f41'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN (SQLite >= 3.35 has both): batch mode would rebuild ``tasks``
    # under the task-list triggers, which name it.
    op.add_column('inspection_results', sa.Column('result_category', sa.String(length=32), nullable=True))
    op.add_column('inspection_results', sa.Column('follow_up', sa.String(length=32), nullable=True))
    op.add_column('tasks', sa.Column('state_reason', sa.String(length=200), nullable=True))


def downgrade():
    op.drop_column('tasks', 'state_reason')
    op.drop_column('inspection_results', 'follow_up')
    op.drop_column('inspection_results', 'result_category')
