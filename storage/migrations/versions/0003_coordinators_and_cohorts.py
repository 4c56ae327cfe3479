"""coordinators, cohorts and the pseudonym key

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "coordinator",
        sa.Column("id", ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("notify_completed", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coordinator")),
        sa.UniqueConstraint("platform", "external_id", name=op.f("uq_coordinator_platform")),
    )
    op.create_table(
        "cohort",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["coordinator.id"],
            name=op.f("fk_cohort_created_by_coordinator"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cohort")),
        sa.UniqueConstraint("code", name=op.f("uq_cohort_code")),
    )
    op.create_table(
        "instance_secret",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_instance_secret")),
    )
    for table in ("respondent", "assessment"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("cohort_id", ID, nullable=True))
            batch_op.create_index(batch_op.f(f"ix_{table}_cohort_id"), ["cohort_id"])
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_cohort_id_cohort"),
                "cohort",
                ["cohort_id"],
                ["id"],
                ondelete="SET NULL",
            )


def downgrade() -> None:
    for table in ("assessment", "respondent"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f"fk_{table}_cohort_id_cohort"), type_="foreignkey")
            batch_op.drop_index(batch_op.f(f"ix_{table}_cohort_id"))
            batch_op.drop_column("cohort_id")
    op.drop_table("instance_secret")
    op.drop_table("cohort")
    op.drop_table("coordinator")
