"""integrity decisions: a group surveyed again gets its planned codes anew

Revision ID: e6f7a8b9c0d1
Revises: d5e6f7a8b9c0
Create Date: 2026-12-06 19:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6f7a8b9c0d1'
down_revision = 'd5e6f7a8b9c0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('integrity_decision', schema=None) as batch_op:
        batch_op.add_column(sa.Column('codes_answered_before', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('integrity_decision', schema=None) as batch_op:
        batch_op.drop_column('codes_answered_before')
