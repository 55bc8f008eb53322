"""Search folding: case and accents away, Greek, Polish and Cyrillic names included, and the
migration that re-folds names stored before ł and friends were folded."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select, text

from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade
from callcontrol.crm.models import Contact
from callcontrol.crm.models.contacts import fold


@pytest.mark.parametrize("raw, folded", [
    ("Łukasz Wróbel", "lukasz wrobel"),
    ("Małgorzata Łódź", "malgorzata lodz"),
    ("Μαρία Παπαδοπούλου", "μαρια παπαδοπουλου"),
    ("ΟΔΥΣΣΕΑΣ", "οδυσσεασ"),          # capital and final sigma fold alike
    ("Ёлкин Пётр", "елкин петр"),
    ("Søren Ærø", "soren aero"),
    ("José-María O'Neil", "jose-maria o'neil"),
    ("", ""),
    (None, ""),
])
def test_fold(raw, folded) -> None:
    assert fold(raw) == folded


async def test_contact_search_name_is_folded_on_write(db) -> None:
    async with db.sessions() as session, session.begin():
        session.add(Contact(kind="person", first_name="Paweł", last_name="Łęcki"))
    async with db.sessions() as session:
        assert await session.scalar(select(Contact.search_name)) == "pawel lecki"


def test_migration_refolds_names_stored_before(db_url: str) -> None:
    upgrade(db_url, "0002ag")
    upgrade(db_url, "0002cc")
    stale = "łukasz kowalski"  # what the old fold stored: ł kept

    async def insert_and_read(after_upgrade: bool) -> str:
        engine = create_engine(db_url)
        try:
            if not after_upgrade:
                async with engine.begin() as conn:
                    await conn.execute(text(
                        "INSERT INTO contacts (code, kind, first_name, last_name, search_name, "
                        "vip, created_at, updated_at) VALUES ('C-OLD', 'person', 'Łukasz', "
                        "'Kowalski', :s, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                        {"s": stale})
            async with session_factory(engine)() as session:
                return await session.scalar(select(Contact.search_name)
                                            .where(Contact.code == "C-OLD"))
        finally:
            await engine.dispose()

    assert asyncio.run(insert_and_read(False)) == stale
    upgrade(db_url)
    assert asyncio.run(insert_and_read(True)) == "lukasz kowalski"


async def test_search_name_is_the_same_whoever_writes_it(db) -> None:
    """The ORM, the seeder and migration 0003fd share ``search_name_of``."""
    from callcontrol.crm.models.contacts import search_name_of

    async with db.sessions() as session, session.begin():
        session.add(Contact(kind="company", company_name="Άλφα Łódź Ltd"))
        session.add(Contact(kind="person", first_name="Maria", last_name="Georgiou",
                            company_name="Acme"))
    async with db.sessions() as session:
        names = (await session.scalars(select(Contact.search_name).order_by(Contact.id))).all()
    assert names == ["αλφα lodz ltd", "maria georgiou acme"]
    assert search_name_of("company", None, None, None, "Άλφα Łódź Ltd") == names[0]
    assert search_name_of("person", "Maria", None, "Georgiou", "Acme") == names[1]
