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
@pytest.mark.parametrize("call_path", [False, True], ids=["pinged", "call-path"])
async def test_a_connection_the_server_closed_is_replaced_before_anyone_uses_it(
        postgres_database, call_path):
    engine = crm_db.create_engine(postgres_database, call_path=call_path)
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


@pytest.mark.postgres
async def test_call_path_checkouts_of_quiet_connections_send_nothing(postgres_database,
                                                                     monkeypatch):
    engine = crm_db.create_engine(postgres_database, call_path=True)
    sessions = crm_db.session_factory(engine)
    pings: list[str] = []
    real_execute = asyncpg.Connection.execute

    async def execute(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if query == "SELECT 1":
            pings.append(query)
        return await real_execute(self, query, *args, **kwargs)
    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    try:
        pids = {await _pid(sessions) for _ in range(3)}
        assert len(pids) == 1 and pings == []    # the same connection, never pinged
    finally:
        await engine.dispose()


def _goodbye() -> bytes:
    """The ErrorResponse a server sends a connection it terminates."""
    fields = b"SFATAL\0C57P01\0Mterminating connection due to administrator command\0\0"
    return b"E" + (len(fields) + 4).to_bytes(4, "big") + fields


@pytest.mark.postgres
@pytest.mark.parametrize("call_path", [False, True])
async def test_a_goodbye_read_before_the_close_is_a_disconnect(postgres_database, call_path):
    """The server's goodbye read, its close not yet (what no checkout check can see): the
    next statement fails in the driver before anything is sent; it must count as a
    disconnect (so the pool replaces the connection and the call path's writers, which
    retry disconnects, do), not as a statement error."""
    from sqlalchemy.exc import DBAPIError

    engine = crm_db.create_engine(postgres_database, call_path=call_path)
    sessions = crm_db.session_factory(engine)
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            first = int(await connection.scalar(text("SELECT pg_backend_pid()")))
            await connection.commit()   # idle, as in the pool; the connection kept
            raw.dbapi_connection.driver_connection._protocol.data_received(_goodbye())
            with pytest.raises(DBAPIError) as failed:
                await connection.scalar(text("SELECT pg_backend_pid()"))
        assert failed.value.connection_invalidated
        assert await _pid(sessions) != first      # a new connection next time
    finally:
        await engine.dispose()
