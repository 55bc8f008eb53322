from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import callcontrol.agents.models  # noqa: F401 - agent_status: a domain table the migrations create
from callcontrol.crm.models import Base


async def test_migrations_create_every_model_table(db) -> None:
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def _search_machinery(obj, name, type_, reflected, compare_to) -> bool:
    """Objects the migrations create for search that no ORM model describes: SQLite FTS5
    tables (the virtual table and its shadow tables), PostgreSQL's copy of the search names
    (``cc_contacts_search``, kept by triggers) and PostgreSQL trigram indexes."""
    if type_ == "table" and name and ("_fts" in name or name == "cc_contacts_search"):
        return False
    return not (type_ == "index" and name and name.endswith("_trgm"))


async def test_models_and_migrations_agree(db) -> None:
    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={
            "compare_type": True, "include_object": _search_machinery})
        return compare_metadata(ctx, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_upgrading_twice_is_harmless(db) -> None:
    from alembic.script import ScriptDirectory

    from callcontrol.crm.migrate import alembic_config, upgrade_async

    await upgrade_async(db.url)
    async with db.engine.connect() as conn:
        versions = set((await conn.execute(
            text("SELECT version_num FROM alembic_version"))).scalars())
    heads = set(ScriptDirectory.from_config(alembic_config(db.url)).get_heads())
    assert versions == heads and heads
