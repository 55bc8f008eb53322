"""Alembic environment: async engine, our metadata, run from callcontrol.crm.migrate."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from callcontrol.crm.db import create_engine
from callcontrol.crm.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


def _in_thread() -> None:
    asyncio.run(_main())


try:
    asyncio.get_running_loop()
except RuntimeError:
    asyncio.run(_main())
else:  # called from inside a loop: run in a separate thread with its own loop
    import threading

    t = threading.Thread(target=_in_thread)
    t.start()
    t.join()
