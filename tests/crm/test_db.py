"""Pooled connections: checked before use in one round trip; look-ups without a transaction
on PostgreSQL."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from callcontrol.crm import db as crm_db


async def _pid(sessions) -> int:  # noqa: ANN001
    async with sessions() as session:
        return int(await session.scalar(text("SELECT pg_backend_pid()")))


@pytest.mark.postgres
async def test_a_connection_the_server_closed_is_replaced_before_anyone_uses_it(
        postgres_database):
    engine = crm_db.create_engine(postgres_database)
    sessions = crm_db.session_factory(engine)
    try:
        killed = await _pid(sessions)
        admin = await asyncpg.connect(postgres_database.replace("+asyncpg", ""))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", killed)
        finally:
            await admin.close()
        await asyncio.sleep(0.2)                 # the loop sees the socket close
        assert await _pid(sessions) != killed    # no error: a new connection
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_checkouts_ping_with_one_query_not_a_transaction(postgres_database, monkeypatch):
    from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection as Adapted

    engine = crm_db.create_engine(postgres_database)
    sessions = crm_db.session_factory(engine)
    three_trip_pings: list[object] = []
    pings: list[str] = []
    real_ping, real_execute = Adapted.ping, asyncpg.Connection.execute

    def counted(self):  # noqa: ANN001, ANN202
        three_trip_pings.append(self)
        return real_ping(self)

    async def execute(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if query == "SELECT 1":
            pings.append(query)
        return await real_execute(self, query, *args, **kwargs)
    monkeypatch.setattr(Adapted, "ping", counted)
    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    try:
        for _ in range(3):
            await _pid(sessions)
        assert three_trip_pings == [] and len(pings) == 3   # one SELECT 1 per checkout
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_look_up_sessions_run_their_statement_outside_a_transaction(postgres_database):
    engine = crm_db.create_engine(postgres_database)
    sessions = crm_db.session_factory(engine)
    reads = crm_db.reading(sessions)

    async def two_nows(factory) -> tuple[object, object]:  # noqa: ANN001
        async with factory() as session:
            first = await session.scalar(text("SELECT now()"))
            await asyncio.sleep(0.01)
            return first, await session.scalar(text("SELECT now()"))
    try:
        first, second = await two_nows(sessions)
        assert first == second              # one transaction: now() stands still
        first, second = await two_nows(reads)
        assert first < second               # each statement on its own
    finally:
        await engine.dispose()


def test_sqlite_look_ups_keep_the_ordinary_sessions(tmp_path):
    engine = crm_db.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    sessions = crm_db.session_factory(engine)
    assert crm_db.reading(sessions) is sessions
