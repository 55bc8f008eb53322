"""Communication Centre search indexes: trigram indexes for 'Like' on every quick field.

PostgreSQL: pg_trgm GIN indexes on the lower-cased columns the search compares
(contacts.search_name already has one from 0001). SQLite: an FTS5 trigram table over
contacts.search_name kept in step by triggers (external content, so names are not stored
twice).

Revision ID: 0002cc
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002cc"
down_revision = "0001"
branch_labels = None
depends_on = None

# index name -> (table, indexed expression)
PG_INDEXES = {
    "ix_cc_contacts_code_trgm": ("contacts", "lower(code)"),
    "ix_cc_phones_e164_trgm": ("phones", "e164"),
    "ix_cc_emails_address_trgm": ("emails", "lower(address)"),
    "ix_cc_accounts_number_trgm": ("accounts_receivable", "lower(number)"),
    "ix_cc_subscriptions_number_trgm": ("subscriptions", "lower(number)"),
    "ix_cc_access_tokens_number_trgm": ("access_tokens", "lower(number)"),
    "ix_cc_reward_participants_number_trgm": ("reward_participants", "lower(number)"),
    "ix_cc_addresses_city_trgm": ("addresses", "lower(city)"),
}

SQLITE_UP = [
    "CREATE VIRTUAL TABLE cc_contacts_fts USING fts5("
    "search_name, content='contacts', content_rowid='id', tokenize='trigram')",
    "INSERT INTO cc_contacts_fts(cc_contacts_fts) VALUES ('rebuild')",
    "CREATE TRIGGER cc_contacts_fts_ai AFTER INSERT ON contacts BEGIN "
    "INSERT INTO cc_contacts_fts(rowid, search_name) VALUES (new.id, new.search_name); END",
    "CREATE TRIGGER cc_contacts_fts_ad AFTER DELETE ON contacts BEGIN "
    "INSERT INTO cc_contacts_fts(cc_contacts_fts, rowid, search_name) "
    "VALUES ('delete', old.id, old.search_name); END",
    "CREATE TRIGGER cc_contacts_fts_au AFTER UPDATE OF search_name ON contacts BEGIN "
    "INSERT INTO cc_contacts_fts(cc_contacts_fts, rowid, search_name) "
    "VALUES ('delete', old.id, old.search_name); "
    "INSERT INTO cc_contacts_fts(rowid, search_name) VALUES (new.id, new.search_name); END",
]

SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS cc_contacts_fts_au",
    "DROP TRIGGER IF EXISTS cc_contacts_fts_ad",
    "DROP TRIGGER IF EXISTS cc_contacts_fts_ai",
    "DROP TABLE IF EXISTS cc_contacts_fts",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name, (table, expression) in PG_INDEXES.items():
            op.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} "
                       f"USING gin (({expression}) gin_trgm_ops)")
    elif dialect == "sqlite":
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name in PG_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    elif dialect == "sqlite":
        for statement in SQLITE_DOWN:
            op.execute(statement)
