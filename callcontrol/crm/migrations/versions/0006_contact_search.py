"""PostgreSQL: a narrow copy of every contact's search name for 'Like' name searches.

A three-letter 'Like' term (``%ari%``) matches about 2 % of the contacts, and the first page
is in name order, so the search reads the name of every match before it can sort: from the
wide ``contacts`` table the matches of ``%ari%`` lie on 10,135 of its 14,225 heap pages at
a million contacts (111 MB, which PostgreSQL's default 128 MB of shared buffers do not hold
next to the rest). This table holds only ``(contact_id, search_name)``: 6,487 pages, with its
own trigram index; the search finds and sorts the matches there and reads ``contacts`` only
for the page it shows.

Triggers keep it in step with ``contacts.search_name`` on every write path (the ORM, Core
statements, the seeder's COPY, later migrations): a statement-level trigger with a
transition table on INSERT (one INSERT ... SELECT per statement, cheap for COPY), a row
trigger on UPDATE OF search_name when the name really changes (an upsert, so a missing row
comes back); deleting a contact deletes its row (foreign key, ON DELETE CASCADE). SQLite
keeps searching its FTS5 trigram table (0002cc).

Revision ID: 0006cs
Revises: 0005dr
"""

from __future__ import annotations

from alembic import op

revision = "0006cs"
down_revision = "0005dr"
branch_labels = None
depends_on = None

PG_UP = [
    "CREATE TABLE cc_contacts_search ("
    " contact_id integer NOT NULL,"
    " search_name varchar(400) NOT NULL,"
    " CONSTRAINT pk_cc_contacts_search PRIMARY KEY (contact_id),"
    " CONSTRAINT fk_cc_contacts_search_contact_id_contacts FOREIGN KEY (contact_id)"
    " REFERENCES contacts (id) ON DELETE CASCADE)",
    "INSERT INTO cc_contacts_search (contact_id, search_name)"
    " SELECT id, search_name FROM contacts",
    "CREATE INDEX ix_cc_contacts_search_name_trgm ON cc_contacts_search"
    " USING gin (search_name gin_trgm_ops)",
    "ANALYZE cc_contacts_search",
    "CREATE FUNCTION cc_contacts_search_added() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " INSERT INTO cc_contacts_search (contact_id, search_name)"
    " SELECT id, search_name FROM added;"
    " RETURN NULL;"
    " END $$",
    "CREATE TRIGGER cc_contacts_search_ai AFTER INSERT ON contacts"
    " REFERENCING NEW TABLE AS added"
    " FOR EACH STATEMENT EXECUTE FUNCTION cc_contacts_search_added()",
    "CREATE FUNCTION cc_contacts_search_renamed() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN"
    " INSERT INTO cc_contacts_search (contact_id, search_name)"
    " VALUES (NEW.id, NEW.search_name)"
    " ON CONFLICT (contact_id) DO UPDATE SET search_name = EXCLUDED.search_name;"
    " RETURN NULL;"
    " END $$",
    "CREATE TRIGGER cc_contacts_search_au AFTER UPDATE OF search_name ON contacts"
    " FOR EACH ROW WHEN (OLD.search_name IS DISTINCT FROM NEW.search_name)"
    " EXECUTE FUNCTION cc_contacts_search_renamed()",
]

PG_DOWN = [
    "DROP TRIGGER IF EXISTS cc_contacts_search_au ON contacts",
    "DROP TRIGGER IF EXISTS cc_contacts_search_ai ON contacts",
    "DROP FUNCTION IF EXISTS cc_contacts_search_renamed()",
    "DROP FUNCTION IF EXISTS cc_contacts_search_added()",
    "DROP TABLE IF EXISTS cc_contacts_search",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in PG_DOWN:
            op.execute(statement)
