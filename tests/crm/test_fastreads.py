"""The caller look-ups' fast reads: the same answers as a session, straight on the driver
(a read-only sqlite3 connection on the loop, plain asyncpg connections), with what bounds
and repairs them: SQLite reads moved off the loop when slow or locked, PostgreSQL reads run
once more on a new connection when theirs is gone, no check before each use."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from sqlalchemy import bindparam, event, func, literal, select, text

from callcontrol.agi.crm import find_callers
from callcontrol.calls.records import Records
from callcontrol.crm import fastreads
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.fastreads import FastReads, fast_reads
from callcontrol.crm.lookup import find_contacts_by_phone
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import AccountReceivable, Contact, FlashNote, Phone, ServiceRequest
from callcontrol.crm.seed import seed

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = "+35799111222"
_PROBE = select(Phone.contact_id).where(Phone.e164 == bindparam("e164"))


def _engine_statements(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cu, statement, *_a: seen.append(statement))
    return seen


async def _anna(db) -> Contact:
    async with db.sessions.begin() as s:
        anna = Contact(kind="person", first_name="Anna", last_name="Nowak", vip=True)
        s.add(anna)
        await s.flush()
        s.add(Phone(contact_id=anna.id, raw=NUMBER, e164=NUMBER))
        account = AccountReceivable(contact_id=anna.id, number="A-1",
                                    balance=Decimal("12.50"), currency="EUR")
        s.add(account)
        await s.flush()
        s.add_all([
            ServiceRequest(contact_id=anna.id, number="SR-1", state="Pending"),
            FlashNote(contact_id=anna.id, text='Said "no", \\ then\nŁódź ✓'),
            FlashNote(contact_id=anna.id, text="Expired", expires_at=NOW - timedelta(days=1)),
            FlashNote(account_id=account.id, text="Account blocked"),
        ])
    return anna


async def test_the_same_answers_as_a_session_without_the_engine(db) -> None:
    await seed(db.engine, 120, progress=False)
    await _anna(db)
    async with db.sessions() as s:
        numbers = list((await s.execute(
            select(Phone.e164).where(Phone.e164.is_not(None)).limit(40))).scalars())
    numbers += [NUMBER, "+447700900123"]
    reads = fast_reads(db.sessions)
    assert reads.mode == ("sqlite3" if db.engine.dialect.name == "sqlite" else "asyncpg")
    expected = []
    async with db.sessions() as s:
        for e164 in numbers:
            expected.append((await find_contacts_by_phone(s, e164, now=NOW),
                             await find_contacts_by_phone(s, e164, limit=1, now=NOW),
                             await find_callers(s, e164)))
    seen = _engine_statements(db.engine)
    got = [(await find_contacts_by_phone(reads, e164, now=NOW),
            await find_contacts_by_phone(reads, e164, limit=1, now=NOW),
            await find_callers(reads, e164)) for e164 in numbers]
    assert got == expected
    assert sum(bool(pop) for pop, _one, _agi in got) > 30
    anna = got[-2][0][0]
    assert (anna.vip, anna.open_service_requests, anna.balance_due, anna.currency,
            anna.flash_notes) == (True, 1, Decimal("12.50"), "EUR",
                                  ("Account blocked", 'Said "no", \\ then\nŁódź ✓'))
    assert type(anna.vip) is bool and type(anna.balance_due) is Decimal
    assert seen == [] and reads.fallbacks == 0   # not one statement through the engine


async def test_one_per_engine_shared_by_call_control_and_fastagi(db) -> None:
    anna = await _anna(db)
    records = Records(db.sessions)
    assert records.reads is fast_reads(db.sessions) is fast_reads(db.engine)
    assert [m.id for m in await records.lookup(NUMBER)] == [anna.id]
    other = create_engine(db.url)
    try:
        assert fast_reads(other) is not records.reads
    finally:
        await other.dispose()
    with pytest.raises(TypeError, match="AsyncEngine"):
        fast_reads(session_factory(None))  # type: ignore[arg-type]


async def test_a_commit_is_seen_by_the_next_read(db) -> None:
    reads = fast_reads(db.sessions)
    assert await find_contacts_by_phone(reads, NUMBER) == []
    async with db.sessions() as writer:          # an open write transaction
        await writer.begin()
        contact = Contact(kind="person", first_name="Nikos")
        writer.add(contact)
        await writer.flush()
        writer.add(Phone(contact_id=contact.id, raw=NUMBER, e164=NUMBER))
        await writer.flush()
        # the reader neither waits for the writer nor sees what it has not committed
        assert await asyncio.wait_for(find_contacts_by_phone(reads, NUMBER), 1) == []
        await writer.commit()
    assert [m.id for m in await find_contacts_by_phone(reads, NUMBER)] == [contact.id]
    assert reads.fallbacks == 0


async def test_dispose_closes_the_connections_and_reads_open_them_again(db) -> None:
    await _anna(db)
    reads = fast_reads(db.sessions)
    assert len(await find_callers(reads, NUMBER)) == 1
    backend = reads._sqlite or reads._postgres
    assert (backend.conn if reads._sqlite else backend.idle)
    await db.engine.dispose()
    assert not (backend.conn if reads._sqlite else backend.idle)
    assert len(await find_callers(reads, NUMBER)) == 1


# --- SQLite --------------------------------------------------------------------------


@pytest.fixture
async def sqlite_db(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    await upgrade_async(url)
    engine = create_engine(url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_sqlite_reads_are_read_only_on_their_own_connection(sqlite_db) -> None:
    reads = fast_reads(sqlite_db)
    assert await reads.rows(_PROBE, {"e164": NUMBER}) == []
    conn = reads._sqlite.conn
    assert conn.execute("PRAGMA query_only").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 0
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        conn.execute("DELETE FROM contacts")
    assert not conn.in_transaction                 # no snapshot held between reads


async def test_sqlite_read_over_its_loop_budget_moves_to_a_session(sqlite_db, monkeypatch) -> None:
    sessions = session_factory(sqlite_db)
    async with sessions.begin() as s:
        contact = Contact(kind="person", first_name="Eleni")
        s.add(contact)
        await s.flush()
        s.add(Phone(contact_id=contact.id, raw=NUMBER, e164=NUMBER))
    monkeypatch.setattr(fastreads, "SQLITE_PROGRESS_STEPS", 1)    # checked at every step
    monkeypatch.setattr(fastreads, "SQLITE_LOOP_BUDGET", -1.0)    # and always over
    reads = fast_reads(sqlite_db)
    seen = _engine_statements(sqlite_db)
    assert [m.id for m in await find_contacts_by_phone(reads, NUMBER)] == [contact.id]
    assert reads.fallbacks == 1 and len(seen) == 1                # through the engine
    assert reads._sqlite.conn is not None                          # kept for the next read
    monkeypatch.setattr(fastreads, "SQLITE_LOOP_BUDGET", 1.0)
    assert [m.id for m in await find_contacts_by_phone(reads, NUMBER)] == [contact.id]
    assert reads.fallbacks == 1 and len(seen) == 1


class _Failing:
    def __init__(self, message: str) -> None:
        self.message = message
        self.closed = False

    def execute(self, *_args):
        raise sqlite3.OperationalError(self.message)

    def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(("message", "kept"), [
    ("database is locked", True), ("interrupted", True), ("disk I/O error", False)])
async def test_sqlite_errors_move_the_read_to_a_session(sqlite_db, message, kept) -> None:
    reads = fast_reads(sqlite_db)
    await reads.rows(_PROBE, {"e164": NUMBER})
    failing = reads._sqlite.conn = _Failing(message)
    assert await reads.rows(_PROBE, {"e164": NUMBER}) == []
    assert reads.fallbacks == 1
    assert (reads._sqlite.conn is failing) is kept and failing.closed is not kept
    failing.execute = lambda *_a: (_ for _ in ()).throw(AssertionError("not used"))
    if not kept:   # a new connection the next time
        assert await reads.rows(_PROBE, {"e164": NUMBER}) == []
        assert reads.fallbacks == 1 and isinstance(reads._sqlite.conn, sqlite3.Connection)


async def test_sqlite_without_wal_or_in_memory_keeps_the_sessions(sqlite_db, tmp_path) -> None:
    async with sqlite_db.connect() as conn:   # a pooled connection sets WAL again
        await conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    await sqlite_db.dispose()
    plain = sqlite3.connect(tmp_path / "crm.db")
    assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    plain.close()
    reads = FastReads(sqlite_db)
    assert await reads.rows(_PROBE, {"e164": NUMBER}) == []
    assert reads.mode == "session" and reads.fallbacks == 1 and reads._sqlite.conn is None
    memory = create_engine("sqlite+aiosqlite://")
    try:
        reads = fast_reads(memory)
        assert reads.mode == "session"
        assert [tuple(r) for r in await reads.rows(select(literal(7).label("n")), {})] == [(7,)]
    finally:
        await memory.dispose()


# --- PostgreSQL ----------------------------------------------------------------------


@pytest.fixture
async def pg(postgres_database):
    await upgrade_async(postgres_database)
    engine = create_engine(postgres_database)
    try:
        yield engine
    finally:
        await engine.dispose()


_PID = select(func.pg_backend_pid().label("pid"))


async def _pid(reads: FastReads) -> int:
    return (await reads.rows(_PID, {}))[0].pid


@pytest.mark.postgres
async def test_postgres_reads_reuse_a_connection_without_checking_it(pg, monkeypatch) -> None:
    executed: list[str] = []
    real = asyncpg.Connection.execute

    async def execute(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        executed.append(query)
        return await real(self, query, *args, **kwargs)
    monkeypatch.setattr(asyncpg.Connection, "execute", execute)
    reads = fast_reads(pg)
    pids = {await _pid(reads) for _ in range(5)}
    assert len(pids) == 1 and executed == []        # one connection, no SELECT 1, no BEGIN
    now = (await reads.rows(select(func.now().label("t")), {}))[0].t
    later = (await reads.rows(select(func.now().label("t")), {}))[0].t
    assert later > now                              # no transaction kept around reads


@pytest.mark.postgres
async def test_postgres_read_on_a_killed_connection_runs_once_more_on_a_new_one(pg) -> None:
    reads = fast_reads(pg)
    killed = await _pid(reads)
    admin = await asyncpg.connect(pg.url.render_as_string(False).replace("+asyncpg", ""))
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", killed)
    finally:
        await admin.close()
    assert await _pid(reads) != killed              # no error for the caller
    assert reads.reconnects in (0, 1)               # 0: the loop saw the socket close first
    # the server kills it while the loop is busy: the read itself meets the dead connection
    pid = await _pid(reads)
    killer = threading.Thread(target=_terminate, args=(pg, pid))
    killer.start()
    killer.join()                                    # blocks the loop: nothing noticed yet
    assert not reads._postgres.idle[0].is_closed()
    before = reads.reconnects
    assert await _pid(reads) not in (pid, killed)
    assert reads.reconnects == before + 1


def _terminate(engine, pid: int) -> None:
    async def go() -> None:
        admin = await asyncpg.connect(engine.url.render_as_string(False).replace("+asyncpg", ""))
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", pid)
            for _ in range(500):   # until the backend is gone
                if not await admin.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                    break
                await asyncio.sleep(0.01)
        finally:
            await admin.close()
    asyncio.run(go())


@pytest.mark.postgres
async def test_postgres_errors_and_cancellation(pg) -> None:
    reads = fast_reads(pg)
    pid = await _pid(reads)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await reads.rows(select((literal(1) / bindparam("zero")).label("x")), {"zero": 0})
    assert await _pid(reads) == pid                  # a failed statement keeps its connection
    with pytest.raises(TimeoutError):                # the caller's budget runs out half way
        await asyncio.wait_for(reads.rows(select(func.pg_sleep(5)), {}), 0.1)
    assert reads._postgres.idle == []                # that connection is closed, not reused
    assert await _pid(reads) != pid


@pytest.mark.postgres
async def test_postgres_concurrent_reads_share_a_few_connections(pg) -> None:
    reads = fast_reads(pg)
    pids = await asyncio.gather(*(
        reads.rows(select(func.pg_backend_pid().label("pid"), func.pg_sleep(0.02)), {})
        for _ in range(20)))
    assert len({rows[0].pid for rows in pids}) == fastreads.POSTGRES_CONNECTIONS


@pytest.mark.postgres
async def test_postgres_away_fails_fast_for_the_caller_to_handle() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:9/nowhere")
    try:
        with pytest.raises(OSError):
            await asyncio.wait_for(fast_reads(engine).rows(_PID, {}), 5)
    finally:
        await engine.dispose()


async def test_sessions_still_work_with_the_same_functions(db) -> None:
    anna = await _anna(db)
    async with db.sessions() as s:
        assert [m.id for m in await find_contacts_by_phone(s, NUMBER)] == [anna.id]
        assert [m.id for m in await find_callers(s, NUMBER)] == [anna.id]
        assert (await s.execute(text("SELECT 1"))).scalar() == 1
