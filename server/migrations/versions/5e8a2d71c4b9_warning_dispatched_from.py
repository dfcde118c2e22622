"""The department that dispatched a warning keeps a read-only view of it; licence number formats.

Revision ID: 5e8a2d71c4b9
Revises: e4f1a2b3c5d6
Create Date: 2026-12-06 03:00:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '5e8a2d71c4b9'
down_revision = 'e4f1a2b3c5d6'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN (SQLite >= 3.35): batch mode would rebuild ``warnings`` under
    # the task-list trigger that names it.
    op.add_column('warnings', sa.Column('dispatched_from', sa.String(length=32), nullable=True))
    op.create_index(op.f('ix_warnings_dispatched_from'), 'warnings', ['dispatched_from'], unique=False)
    # Warnings dispatched before this column existed: the dispatcher is the user who made
    # the move, if that user belongs to a department.
    op.execute(
        "UPDATE warnings SET dispatched_from = ("
        " SELECT u.department_code FROM warning_transitions t JOIN users u ON u.username = t.actor"
        " WHERE t.warning_id = warnings.id AND t.to_state = 'dispatched' ORDER BY t.id LIMIT 1)"
        " WHERE department_code IS NOT NULL"
    )
    op.add_column('licence_kinds', sa.Column('number_format', sa.String(length=200), nullable=True))


def downgrade():
    op.drop_column('licence_kinds', 'number_format')
    op.drop_index(op.f('ix_warnings_dispatched_from'), table_name='warnings')
    op.drop_column('warnings', 'dispatched_from')
