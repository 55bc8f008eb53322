"""agent status: the current state of each agent, wrap-up deadline, pop preference,
the state a cancelled click-to-call returns to

Revision ID: 0002ag
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcontrol.crm.models.base import UTCDateTime

revision = "0002ag"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_status",
        sa.Column("user_id", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=True),
        sa.Column("extension", sa.String(length=16), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.Column("idle_since", UTCDateTime(), nullable=True),
        sa.Column("wrapup_until", UTCDateTime(), nullable=True),
        sa.Column("pop_preference", sa.String(length=8), nullable=False),
        sa.Column("resume_state", sa.String(length=16), nullable=True),
        sa.Column("resume_reason", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('logged_out', 'ready', 'not_ready', 'ringing', 'on_call', 'wrap_up')",
            name=op.f("ck_agent_status_state"),
        ),
        sa.CheckConstraint(
            "pop_preference IN ('ring', 'answer', 'never')",
            name=op.f("ck_agent_status_pop_preference"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_agent_status_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_agent_status")),
    )
    with op.batch_alter_table("agent_status", schema=None) as batch_op:
        batch_op.create_index("ix_agent_status_state_idle", ["state", "idle_since"])
        batch_op.create_index(batch_op.f("ix_agent_status_extension"), ["extension"])


def downgrade() -> None:
    with op.batch_alter_table("agent_status", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_status_extension"))
        batch_op.drop_index("ix_agent_status_state_idle")
    op.drop_table("agent_status")
