"""Communications say "incoming" and "outgoing", as the CRM (and its users) do.

Call control keeps the telephony words internally (an inbound channel, an outbound dial);
the communication is the customer record and uses the Communications module's vocabulary.
Existing rows are converted; the check constraint follows.

Revision ID: 0005dr
Revises: 0004ce
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005dr"
down_revision = "0004ce"
branch_labels = None
depends_on = None

COMMS = sa.table("communications", sa.column("direction"))
NEW = {"inbound": "incoming", "outbound": "outgoing"}


def _convert(mapping: dict[str, str], allowed: tuple[str, str]) -> None:
    with op.batch_alter_table("communications") as batch:
        batch.drop_constraint(op.f("ck_communications_direction"), type_="check")
    for old, new in mapping.items():
        op.execute(COMMS.update().where(COMMS.c.direction == old).values(direction=new))
    with op.batch_alter_table("communications") as batch:
        batch.create_check_constraint(
            "direction", sa.column("direction").in_(allowed))


def upgrade() -> None:
    _convert(NEW, ("incoming", "outgoing"))


def downgrade() -> None:
    _convert({v: k for k, v in NEW.items()}, ("inbound", "outbound"))
