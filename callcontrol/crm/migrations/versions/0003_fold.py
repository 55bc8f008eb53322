"""Re-fold contact names for letters decomposition keeps (Polish ł, Nordic ø, ...); joins the
agents' and the Communication Centre's branches.

``contacts.search_name`` is ``fold(display name + company)``; ``fold`` now maps ł to l, ø to
o and the like, so "Lukasz" finds "Łukasz". Only rows whose names contain such letters change;
on SQLite the FTS triggers of 0002cc keep the search table in step.

Revision ID: 0003fd
Revises: 0002ag, 0002cc
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from callcontrol.crm.models.contacts import FOLD_SPECIAL, search_name_of

revision = "0003fd"
down_revision = ("0002ag", "0002cc")
branch_labels = None
depends_on = None

NAME_COLUMNS = ("first_name", "middle_name", "last_name", "company_name")


CONTACTS = sa.table("contacts", sa.column("id"), sa.column("kind"), sa.column("search_name"),
                    *(sa.column(name) for name in NAME_COLUMNS))


def upgrade() -> None:
    conn = op.get_bind()
    c = CONTACTS.c
    special = sa.or_(*(c[col].like(f"%{ch}%") for col in NAME_COLUMNS for ch in FOLD_SPECIAL))
    rows = conn.execute(sa.select(c.id, c.kind, *(c[col] for col in NAME_COLUMNS))
                        .where(special)).all()
    for row in rows:
        conn.execute(CONTACTS.update().where(c.id == row.id).values(search_name=search_name_of(
            row.kind, row.first_name, row.middle_name, row.last_name, row.company_name)))


def downgrade() -> None:
    """Nothing to undo: the old fold matched fewer names, the data itself is unchanged."""
