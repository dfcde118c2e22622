"""Form versions that stay as loaded, and refuse submissions once superseded; the quoted
legal basis of each check item.

Revision ID: e4f1a2b3c5d6
Revises: c19a0e5b7d21
Create Date: 2026-12-06 03:20:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'e4f1a2b3c5d6'
down_revision = 'c19a0e5b7d21'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD/DROP COLUMN (SQLite >= 3.35), as c19a0e5b7d21.
    op.add_column('form_templates', sa.Column('content_hash', sa.String(length=64), nullable=True))
    op.add_column('form_templates', sa.Column('accepts_submissions', sa.Boolean(), server_default=sa.true(),
                                              nullable=False))
    op.add_column('form_templates', sa.Column('retired_reason', sa.String(length=300), nullable=True))
    op.add_column('check_items', sa.Column('basis_quote', sa.Text(), nullable=True))


def downgrade():
    op.drop_column('check_items', 'basis_quote')
    op.drop_column('form_templates', 'retired_reason')
    op.drop_column('form_templates', 'accepts_submissions')
    op.drop_column('form_templates', 'content_hash')
