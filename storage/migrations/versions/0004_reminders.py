"""reminders of unfinished assessments; coordinators named by the settings

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("respondent", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("reminders", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("coordinator", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("from_settings", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("coordinator", schema=None) as batch_op:
        batch_op.drop_column("from_settings")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_column("reminded_at")
    with op.batch_alter_table("respondent", schema=None) as batch_op:
        batch_op.drop_column("reminders")
