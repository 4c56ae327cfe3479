"""initial schema

Revision ID: 0001
Revises: 
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _answer_columns() -> list[sa.Column[Any]]:
    """The columns an answer and a line of the answer log share, new for each table."""
    return [
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('assessment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('criterion', sa.String(length=8), nullable=False),
        sa.Column('value', sa.SmallInteger(), nullable=True),
        sa.Column('aspects', sa.JSON(), nullable=False),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('revision', sa.Integer(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table('processed_update',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('update_id', name=op.f('pk_processed_update'))
    )
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_processed_update_at'), ['at'], unique=False)

    op.create_table('respondent',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('platform', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('consent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('start_payload', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_respondent')),
    sa.UniqueConstraint('platform', 'external_id', name=op.f('uq_respondent_platform'))
    )
    op.create_table('assessment',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('respondent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('checklist_version', sa.SmallInteger(), nullable=False),
    sa.Column('state', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('practice_name', sa.String(length=200), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('organisation', sa.String(length=200), nullable=True),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['respondent_id'], ['respondent.id'], name=op.f('fk_assessment_respondent_id_respondent'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assessment'))
    )
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.create_index('ix_assessment_respondent_status', ['respondent_id', 'status'], unique=False)

    op.create_table('answer',
    *_answer_columns(),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], name=op.f('fk_answer_assessment_id_assessment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer')),
    sa.UniqueConstraint('assessment_id', 'criterion', name=op.f('uq_answer_assessment_id'))
    )
    op.create_table('answer_log',
    *_answer_columns(),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessment.id'], name=op.f('fk_answer_log_assessment_id_assessment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answer_log'))
    )
    with op.batch_alter_table('answer_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_answer_log_assessment_id'), ['assessment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_answer_log_at'), ['at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('answer_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_answer_log_at'))
        batch_op.drop_index(batch_op.f('ix_answer_log_assessment_id'))

    op.drop_table('answer_log')
    op.drop_table('answer')
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.drop_index('ix_assessment_respondent_status')

    op.drop_table('assessment')
    op.drop_table('respondent')
    with op.batch_alter_table('processed_update', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_processed_update_at'))

    op.drop_table('processed_update')
