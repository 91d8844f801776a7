"""one-time codes: a revision moved on by every write of the draft (compare-and-swap
saves instead of a row lock)

Revision ID: b3c1d2e4f5a6
Revises: 7e5182c78341
Create Date: 2026-12-06 14:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b3c1d2e4f5a6'
down_revision = '7e5182c78341'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('one_time_code', schema=None) as batch_op:
        batch_op.add_column(sa.Column('revision', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('one_time_code', schema=None) as batch_op:
        batch_op.drop_column('revision')
