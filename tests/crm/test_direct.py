"""The call path's direct database access (callcontrol.crm.direct) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import select

from callcontrol.calls.records import DraftOp, UpdateOp
from callcontrol.crm.direct import Disconnected, SqliteDirect, open_direct
from callcontrol.crm.models import Communication


async def test_rows_written_directly_read_back_through_the_orm_as_its_own(db):
    direct = open_direct(db.url)
    now = datetime(2026, 12, 4, 10, 30, 15, 123456, tzinfo=UTC)
    try:
        comm_id = await direct.run(DraftOp("app:1", {"direction": "incoming", "started_at": now,
                                                     "caller_number": "+35799123456"}))
        assert await direct.run(DraftOp("app:1", {"direction": "incoming"})) == comm_id
        pauses = [{"start": now.isoformat(), "end": None, "by": 3}]
        assert await direct.run(UpdateOp("app:1", {"answered_at": now,
                                                   "recording_pauses": pauses})) == 1
        assert await direct.run(UpdateOp("app:none", {"state": "completed"})) == 0
    finally:
        await direct.close()
    async with db.sessions() as session:
        comm = (await session.execute(select(Communication))).scalar_one()
    assert (comm.id, comm.call_id, comm.media, comm.state, comm.subject) == (
        comm_id, "app:1", "phone", "draft", "")
    assert comm.started_at == now and comm.answered_at == now       # aware, exact
    assert comm.recording_pauses == pauses and comm.transfers is None
    assert comm.created_at is not None and comm.created_at.tzinfo is not None


async def test_several_operations_share_one_transaction_or_none_lands(db):
    direct = open_direct(db.url)
    now = datetime.now(UTC)
    try:
        ids = await direct.run_all([DraftOp("app:a", {"direction": "incoming"}),
                                    DraftOp("app:b", {"direction": "incoming"})])
        assert len(set(ids)) == 2
        with pytest.raises(Exception):  # noqa: B017 - the driver's own integrity error
            await direct.run_all([DraftOp("app:c", {"direction": "incoming"}),
                                  DraftOp("app:d", {"direction": "incoming",
                                                    "contact_id": 987654})])  # no contact
        await direct.run(UpdateOp("app:a", {"ended_at": now}))
    finally:
        await direct.close()
    async with db.sessions() as session:
        calls = (await session.execute(select(Communication.call_id))).scalars().all()
    assert sorted(calls) == ["app:a", "app:b"]       # neither app:c nor app:d


async def test_sqlite_runs_on_the_loop_and_waits_for_a_lock_in_its_thread(tmp_path):
    from callcontrol.crm.migrate import upgrade_async

    path = tmp_path / "x.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    direct = open_direct(f"sqlite:///{path}")
    assert isinstance(direct, SqliteDirect)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        await direct.run(DraftOp("app:1", {"direction": "incoming"}))
        assert direct.moved == 0                      # on the loop
        holder.execute("BEGIN IMMEDIATE")             # another writer holds the lock
        release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
        release.start()
        loop = asyncio.get_running_loop()
        started = loop.time()
        beats = 0

        async def heartbeat() -> None:
            nonlocal beats
            while loop.time() - started < 0.25:
                beats += 1
                await asyncio.sleep(0.01)
        pulse = asyncio.create_task(heartbeat())
        await direct.run(UpdateOp("app:1", {"state": "completed"}))
        await pulse
        assert direct.moved == 1 and loop.time() - started >= 0.25
        assert beats >= 10                            # the loop kept running meanwhile
        state = holder.execute("SELECT state FROM communications").fetchone()[0]
        assert state == "completed"
    finally:
        holder.close()
        await direct.close()


async def test_sqlite_work_over_the_loop_budget_is_rolled_back_and_moved(tmp_path):
    from callcontrol.crm.migrate import upgrade_async

    path = tmp_path / "x.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    direct = open_direct(f"sqlite:///{path}")
    assert isinstance(direct, SqliteDirect)
    runs: list[str] = []

    class Slow:
        writes = True

        def sqlite(self, conn: sqlite3.Connection) -> int:
            runs.append(threading.current_thread().name)
            conn.execute("INSERT INTO communications (direction, media, state, subject, "
                         "call_id, created_at, updated_at) VALUES ('incoming', 'phone', "
                         "'draft', '', 'app:slow', '2026-01-01', '2026-01-01')")
            # a long statement: the progress handler stops it on the loop
            return conn.execute("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                                "FROM n WHERE i < 3000000) SELECT count(*) FROM n").fetchone()[0]

        async def pg(self, conn: object) -> None:  # pragma: no cover - SQLite only
            raise AssertionError
    try:
        assert await direct.run(Slow()) == 3000000
        assert direct.moved == 1 and len(runs) == 2
        assert runs[0] == threading.current_thread().name      # tried on the loop first
        assert runs[1].startswith("callcontrol-sqlite")
        check = sqlite3.connect(path)
        count = check.execute("SELECT count(*) FROM communications").fetchone()[0]
        check.close()
        assert count == 1                  # the loop's attempt was rolled back
    finally:
        await direct.close()


@pytest.mark.postgres
async def test_postgres_connection_killed_is_a_disconnect_then_replaced(postgres_database):
    from callcontrol.crm.migrate import upgrade_async

    await upgrade_async(postgres_database)
    direct = open_direct(postgres_database)
    admin = await asyncpg.connect(postgres_database.replace("+asyncpg", ""))

    class Pid:
        writes = False

        async def pg(self, conn: asyncpg.Connection) -> int:
            return await conn.fetchval("SELECT pg_backend_pid()")

        def sqlite(self, conn: object) -> None:  # pragma: no cover - PostgreSQL only
            raise AssertionError
    try:
        first = await direct.run(Pid())
        assert await direct.run(Pid()) == first        # reused
        await admin.execute("SELECT pg_terminate_backend($1)", first)
        await asyncio.sleep(0.2)
        second = await direct.run(Pid())               # replaced at checkout: no error
        assert second != first
        await admin.execute("SELECT pg_terminate_backend($1)", second)
        try:
            third = await direct.run(Pid())
        except Disconnected:                           # if the goodbye came late
            third = await direct.run(Pid())
        assert third not in (first, second)
    finally:
        await admin.close()
        await direct.close()


async def test_postgres_away_is_a_disconnect_soon(unused_tcp_port):
    """A PostgreSQL that does not answer: Disconnected (which callers retry) within the
    connect timeout, not a call path stuck for a minute."""
    import time

    from callcontrol.crm import direct as direct_module

    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", unused_tcp_port)
    direct = open_direct(f"postgresql+asyncpg://postgres@127.0.0.1:{unused_tcp_port}/x")
    old = direct_module.CONNECT_TIMEOUT
    direct_module.CONNECT_TIMEOUT = 0.3

    class One:
        writes = False

        async def pg(self, conn: asyncpg.Connection) -> int:  # pragma: no cover
            return 1

        def sqlite(self, conn: object) -> None:  # pragma: no cover
            raise AssertionError
    try:
        started = time.monotonic()
        with pytest.raises(Disconnected):
            await direct.run(One())
        assert time.monotonic() - started < 2.0
    finally:
        direct_module.CONNECT_TIMEOUT = old
        server.close()
        await direct.close()


async def test_sqlite_a_transaction_left_open_by_a_failed_operation_does_not_block_the_next(
        tmp_path):
    from callcontrol.crm.migrate import upgrade_async

    path = tmp_path / "x.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    direct = open_direct(f"sqlite:///{path}")
    assert isinstance(direct, SqliteDirect)
    try:
        await direct.run(DraftOp("app:1", {"direction": "incoming"}))
        assert direct._loop_conn is not None
        direct._loop_conn.execute("BEGIN")    # as a failed COMMIT and ROLLBACK would leave it
        assert await direct.run(UpdateOp("app:1", {"state": "completed"})) == 1
        assert not direct._loop_conn.in_transaction
    finally:
        await direct.close()


class _Setting:
    """Reads one server setting on the connection an operation gets."""

    writes = False

    def __init__(self, name: str) -> None:
        self.name = name

    async def pg(self, conn: asyncpg.Connection) -> str:
        return await conn.fetchval("SELECT current_setting($1)", self.name)

    def sqlite(self, conn: sqlite3.Connection) -> str:
        return str(conn.execute(f"PRAGMA {self.name}").fetchone()[0])


async def test_postgres_relaxed_access_commits_without_waiting_for_the_disk(postgres_database):
    """Agent states go through the relaxed access: their commits do not wait for the WAL
    flush; the journal's stay durable, and both see each other's writes at once."""
    from callcontrol.crm.migrate import upgrade_async

    await upgrade_async(postgres_database)
    durable = open_direct(postgres_database)
    relaxed = durable.relaxed()
    try:
        assert relaxed is not durable
        assert await durable.run(_Setting("synchronous_commit")) == "on"
        assert await relaxed.run(_Setting("synchronous_commit")) == "off"
        comm_id = await relaxed.run(DraftOp("app:r", {"direction": "incoming"}))
        assert await durable.run(DraftOp("app:r", {"direction": "incoming"})) == comm_id
    finally:
        await relaxed.close()
        await durable.close()


async def test_sqlite_relaxed_access_is_the_same_single_writer(tmp_path):
    from callcontrol.crm.migrate import upgrade_async

    path = tmp_path / "x.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    direct = open_direct(f"sqlite:///{path}")
    try:
        assert direct.relaxed() is direct
        assert await direct.run(_Setting("synchronous")) == "1"    # NORMAL: no flush a commit
    finally:
        await direct.close()
