"""Communications say incoming/outgoing (the CRM's words); migration 0005dr converts rows
stored with the call words and the database refuses anything else."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from callcontrol.crm.db import create_engine
from callcontrol.crm.migrate import upgrade
from callcontrol.crm.models.comms import call_direction, communication_direction


def test_call_and_communication_directions_map_both_ways() -> None:
    assert communication_direction("inbound") == "incoming"
    assert communication_direction("outbound") == "outgoing"
    assert communication_direction("incoming") == "incoming"
    assert call_direction("outgoing") == "outbound"
    assert call_direction("incoming") == "inbound"


def test_migration_converts_stored_directions(db_url: str) -> None:
    upgrade(db_url, "0004ce")

    async def run(sql: str, fetch: bool = False):
        engine = create_engine(db_url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql))
                return sorted(result.scalars()) if fetch else None
        finally:
            await engine.dispose()

    insert = ("INSERT INTO communications (direction, media, state, subject, created_at, "
              "updated_at) VALUES ('{}', 'phone', 'completed', 'call', CURRENT_TIMESTAMP, "
              "CURRENT_TIMESTAMP)")
    asyncio.run(run(insert.format("inbound")))
    asyncio.run(run(insert.format("outbound")))
    upgrade(db_url)
    assert asyncio.run(run("SELECT direction FROM communications", fetch=True)) == [
        "incoming", "outgoing"]
    with pytest.raises(IntegrityError):
        asyncio.run(run(insert.format("inbound")))
