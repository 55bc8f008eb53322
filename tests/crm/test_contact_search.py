"""PostgreSQL's ``cc_contacts_search`` (migration 0006cs) holds every contact's search name,
whatever wrote the contact: the ORM, Core statements, the seeder's COPY, the migration itself."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, insert, text, update

from callcontrol.crm.migrate import upgrade
from callcontrol.crm.models import Contact
from callcontrol.crm.seed import seed


@pytest.fixture
async def pg(postgres_database):
    from tests.conftest import MigratedDatabase

    await asyncio.to_thread(upgrade, postgres_database)
    database = MigratedDatabase(postgres_database)
    try:
        yield database
    finally:
        await database.engine.dispose()


async def _pairs(database, table: str) -> dict[int, str]:
    column = "id" if table == "contacts" else "contact_id"
    async with database.engine.connect() as conn:
        rows = await conn.execute(text(
            f"SELECT {column}, search_name FROM {table}"))  # noqa: S608 - two fixed names
        return {int(i): name for i, name in rows}


async def _in_step(database) -> dict[int, str]:
    contacts = await _pairs(database, "contacts")
    assert await _pairs(database, "cc_contacts_search") == contacts
    return contacts


async def test_orm_insert_rename_and_delete_keep_the_copy_in_step(pg) -> None:
    async with pg.sessions() as session, session.begin():
        anna = Contact(kind="person", first_name="Anna", last_name="Nowak")
        acme = Contact(kind="company", company_name="Acme Łódź")
        session.add_all([anna, acme])
    assert set((await _in_step(pg)).values()) == {"anna nowak", "acme lodz"}

    async with pg.sessions() as session, session.begin():
        (await session.get(Contact, anna.id)).last_name = "Kowalska"
        (await session.get(Contact, acme.id)).vip = True  # not a name change
    assert (await _in_step(pg))[anna.id] == "anna kowalska"

    async with pg.sessions() as session, session.begin():
        await session.delete(await session.get(Contact, acme.id))
    assert await _in_step(pg) == {anna.id: "anna kowalska"}


async def test_core_statements_keep_the_copy_in_step(pg) -> None:
    async with pg.engine.begin() as conn:
        await conn.execute(insert(Contact), [
            {"code": f"C-{i}", "kind": "person", "first_name": f"p{i}", "search_name": f"p{i}",
             "vip": False} for i in range(5)])
        await conn.execute(update(Contact).where(Contact.code == "C-3")
                           .values(search_name="renamed"))
        await conn.execute(delete(Contact).where(Contact.code == "C-4"))
    names = sorted((await _in_step(pg)).values())
    assert names == ["p0", "p1", "p2", "renamed"]


async def test_the_seeders_copy_keeps_the_copy_in_step(pg) -> None:
    await seed(pg.engine, 120, rng_seed=5, progress=False)
    assert len(await _in_step(pg)) == 120


async def test_the_migration_copies_existing_contacts_and_downgrades_cleanly(
        postgres_database) -> None:
    from alembic import command

    from callcontrol.crm.migrate import alembic_config
    from tests.conftest import MigratedDatabase

    await asyncio.to_thread(upgrade, postgres_database, "0005dr")
    database = MigratedDatabase(postgres_database)
    try:
        async with database.sessions() as session, session.begin():
            session.add_all([Contact(kind="person", first_name="Zoë", last_name="Marić"),
                             Contact(kind="company", company_name="50% Off_Deals")])
        await asyncio.to_thread(upgrade, postgres_database)
        assert set((await _in_step(database)).values()) == {"zoe maric", "50% off_deals"}

        await asyncio.to_thread(command.downgrade, alembic_config(postgres_database), "0005dr")
        async with database.engine.connect() as conn:
            left = (await conn.execute(text(
                "SELECT to_regclass('cc_contacts_search') IS NULL AND NOT EXISTS ("
                " SELECT 1 FROM pg_trigger WHERE tgname LIKE 'cc_contacts_search%')"))).scalar()
        assert left
        async with database.sessions() as session, session.begin():
            session.add(Contact(kind="person", first_name="After", last_name="Downgrade"))
    finally:
        await database.engine.dispose()


async def test_a_rename_brings_back_a_missing_row(pg) -> None:
    async with pg.sessions() as session, session.begin():
        lost = Contact(kind="person", first_name="Lost", last_name="Row")
        session.add(lost)
    async with pg.engine.begin() as conn:
        await conn.execute(text("DELETE FROM cc_contacts_search"))
    async with pg.sessions() as session, session.begin():
        (await session.get(Contact, lost.id)).last_name = "Found"
    assert await _in_step(pg) == {lost.id: "lost found"}
