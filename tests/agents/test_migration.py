from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from callcontrol.agents.models import AgentStatusRow
from callcontrol.crm.models import Base


async def test_agent_status_model_and_migration_0002ag_agree(db) -> None:
    def diff(sync_conn):
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(ctx, Base.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    table = AgentStatusRow.__tablename__

    def about_agent_status(d) -> bool:
        text = repr(d)
        return f"'{table}'" in text or f"name='{table}'" in text or f"{table}." in text

    assert [d for d in differences if about_agent_status(d)] == []
    assert table in Base.metadata.tables
