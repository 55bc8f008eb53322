"""Customer events: what a customer did (a purchase, a referral, ...) that a reward scheme
may award points for; listed in the contact's Rewards section.

Revision ID: 0004ce
Revises: 0003fd
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcontrol.crm.models.base import UTCDateTime

revision = "0004ce"
down_revision = "0003fd"
branch_labels = None
depends_on = None

TYPES = ("purchase", "referral", "achievement", "web_visit", "social_share")


def upgrade() -> None:
    op.create_table(
        "customer_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("points_awarded", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("type IN (" + ", ".join(f"'{t}'" for t in TYPES) + ")",
                           name=op.f("ck_customer_events_type")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"],
                                name=op.f("fk_customer_events_contact_id_contacts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["reward_participants.id"],
            name=op.f("fk_customer_events_participant_id_reward_participants"),
            ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_events")),
    )
    with op.batch_alter_table("customer_events") as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_events_contact_id"), ["contact_id"])
        batch_op.create_index(batch_op.f("ix_customer_events_participant_id"),
                              ["participant_id"])


def downgrade() -> None:
    op.drop_table("customer_events")
