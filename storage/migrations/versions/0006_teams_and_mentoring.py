"""teams assessing one practice together; assessments shared with a mentor, and feedback

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "team",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("practice_name", sa.String(length=200), nullable=True),
        sa.Column("checklist_version", sa.SmallInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["respondent.id"], name=op.f("fk_team_owner_id_respondent"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("code", name=op.f("uq_team_code")),
    )
    op.create_index(op.f("ix_team_owner_id"), "team", ["owner_id"])
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("team_id", ID, nullable=True))
        batch_op.create_index(batch_op.f("ix_assessment_team_id"), ["team_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_assessment_team_id_team"), "team", ["team_id"], ["id"],
            ondelete="SET NULL",
        )
    op.create_table(
        "mentor_share",
        sa.Column("assessment_id", ID, nullable=False),
        sa.Column("coordinator_id", ID, nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"],
            name=op.f("fk_mentor_share_assessment_id_assessment"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"], ["coordinator.id"],
            name=op.f("fk_mentor_share_coordinator_id_coordinator"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("assessment_id", name=op.f("pk_mentor_share")),
    )
    op.create_index(op.f("ix_mentor_share_coordinator_id"), "mentor_share", ["coordinator_id"])
    op.create_table(
        "mentor_feedback",
        sa.Column("id", ID, nullable=False),
        sa.Column("assessment_id", ID, nullable=False),
        sa.Column("criterion", sa.String(length=8), nullable=False),
        sa.Column("coordinator_id", ID, nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"], ["assessment.id"],
            name=op.f("fk_mentor_feedback_assessment_id_assessment"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["coordinator_id"], ["coordinator.id"],
            name=op.f("fk_mentor_feedback_coordinator_id_coordinator"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentor_feedback")),
        sa.UniqueConstraint(
            "assessment_id", "criterion", name=op.f("uq_mentor_feedback_assessment_id")
        ),
    )


def downgrade() -> None:
    op.drop_table("mentor_feedback")
    op.drop_index(op.f("ix_mentor_share_coordinator_id"), table_name="mentor_share")
    op.drop_table("mentor_share")
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_assessment_team_id_team"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_assessment_team_id"))
        batch_op.drop_column("team_id")
    op.drop_index(op.f("ix_team_owner_id"), table_name="team")
    op.drop_table("team")
