"""responses: their answers packed one byte per item, read by the analysis

Revision ID: c4d5e6f7a8b9
Revises: b3c1d2e4f5a6
Create Date: 2026-12-06 16:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d5e6f7a8b9'
down_revision = 'b3c1d2e4f5a6'
branch_labels = None
depends_on = None


def upgrade():
    # Nullable: responses stored before have no packed form and are read from the
    # answer table (results/loader.py).
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.add_column(sa.Column('answer_codes', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('response', schema=None) as batch_op:
        batch_op.drop_column('answer_codes')
