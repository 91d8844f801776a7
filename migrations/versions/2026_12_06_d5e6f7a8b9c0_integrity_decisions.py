"""integrity decisions: a person's call on a school's group the integrity checks flagged

Revision ID: d5e6f7a8b9c0
Revises: c4d5e6f7a8b9
Create Date: 2026-12-06 18:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5e6f7a8b9c0'
down_revision = 'c4d5e6f7a8b9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'integrity_decision',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('school_id', sa.Integer(), nullable=False),
        sa.Column('respondent_group', sa.String(length=12), nullable=False),
        sa.Column('decision', sa.String(length=12), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('decided_by', sa.String(length=254), nullable=False),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "decision IN ('keep', 'set_aside', 'resurvey')", name=op.f('ck_integrity_decision_decision')
        ),
        sa.CheckConstraint('length(reason) > 0', name=op.f('ck_integrity_decision_reason')),
        sa.CheckConstraint(
            "respondent_group IN ('student', 'parent', 'teacher', 'principal')",
            name=op.f('ck_integrity_decision_respondent_group'),
        ),
        sa.ForeignKeyConstraint(
            ['campaign_id'], ['campaign.id'], name=op.f('fk_integrity_decision_campaign_id_campaign')
        ),
        sa.ForeignKeyConstraint(
            ['school_id', 'campaign_id'],
            ['school.id', 'school.campaign_id'],
            name='fk_integrity_school_same_campaign',
        ),
        sa.ForeignKeyConstraint(
            ['school_id'], ['school.id'], name=op.f('fk_integrity_decision_school_id_school')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_integrity_decision')),
        sa.UniqueConstraint(
            'campaign_id', 'school_id', 'respondent_group', name='uq_integrity_cell'
        ),
    )
    with op.batch_alter_table('integrity_decision', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_integrity_decision_campaign_id'), ['campaign_id'], unique=False
        )


def downgrade():
    with op.batch_alter_table('integrity_decision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_integrity_decision_campaign_id'))
    op.drop_table('integrity_decision')
