"""processed updates keyed by bot id and update id

Revision ID: 0005
Revises: 0004

Rows recorded before carry bot id 0 (``storage.models.BEFORE_KEYING``): no bot has that id,
so they never match a new update, and the daily purge removes them after 72 hours.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bot_id", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.drop_constraint("pk_processed_update", type_="primary")
        batch_op.create_primary_key("pk_processed_update", ["bot_id", "update_id"])
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.alter_column("bot_id", server_default=None)


def downgrade() -> None:
    # Ids of different bots may coincide: one row of each id is kept.
    op.execute(
        "DELETE FROM processed_update WHERE bot_id <> "
        "(SELECT MIN(p.bot_id) FROM processed_update p "
        "WHERE p.update_id = processed_update.update_id)"
    )
    with op.batch_alter_table("processed_update", schema=None) as batch_op:
        batch_op.drop_constraint("pk_processed_update", type_="primary")
        batch_op.create_primary_key("pk_processed_update", ["update_id"])
        batch_op.drop_column("bot_id")
