"""Direct database access for the call path: its few statements without SQLAlchemy's
machinery around each one.

Under the call storm one statement through an ``AsyncSession`` cost 400 to 700 us of CPU
(the session, the greenlet bridge, the execution context, the result objects) against
about 50 us through asyncpg itself, and on SQLite 430 us against 55 us for a whole
transaction run in one hop to a worker thread. A call runs about eight such statements:
the agent transitions, the reservation and the journal's writes. They run here:

- PostgreSQL: a small asyncpg connection pool of its own (asyncpg caches each statement's
  preparation per connection). A connection is checked out without a round trip: one the
  event loop knows is closed, or with something waiting on its socket (the server's
  goodbye), is replaced; a connection that fails in use is dropped and the failure raised
  as :class:`Disconnected`, which every caller retries.
- SQLite: an operation and its transaction (``BEGIN IMMEDIATE`` for writes, so a writer
  never has to upgrade a read lock) run on the event loop on a connection that never
  waits, and in one worker thread when the database is locked or the operation runs
  long (see :class:`SqliteDirect`); still locked there after ``busy_timeout`` is raised as
  :class:`Busy`, which every caller retries.

The statements are written per database (``Op.pg`` and ``Op.sqlite``) from the same
SQLAlchemy tables; :class:`Columns` gives each column its PostgreSQL cast and converts
values with the column type's own SQLite bind and result processors, so rows written here
read back through the ORM exactly as the ORM's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

_PG = postgresql.dialect()
CONNECT_TIMEOUT = 5.0   # seconds to open a PostgreSQL connection (a server away: retried)
_SQLITE = SQLiteDialect_pysqlite()


class Disconnected(ConnectionError):
    """The connection failed (the server restarted, killed it, or is away): retry."""


class Busy(Exception):
    """SQLite stayed locked by another writer beyond the busy timeout: retry."""


class Op(Protocol):
    """One operation of the call path, written for each database. ``writes``: run in a
    write transaction (SQLite ``BEGIN IMMEDIATE``; PostgreSQL ops are single statements or
    open their own transaction)."""

    writes: bool

    def pg(self, conn: Any) -> Awaitable[Any]: ...

    def sqlite(self, conn: sqlite3.Connection) -> Any: ...


class Columns:
    """Columns of a table as this module's statements use them (:meth:`of`: built once per
    table and set of columns, the types compiled once)."""

    _made: dict[tuple[str, tuple[str, ...]], Columns] = {}

    @classmethod
    def of(cls, table: Table, names: Sequence[str]) -> Columns:
        key = (table.name, tuple(names))
        made = cls._made.get(key)
        if made is None:
            made = cls._made[key] = cls(table, names)
        return made

    def __init__(self, table: Table, names: Sequence[str]) -> None:
        self.table = table
        self.names = tuple(names)
        cols = [table.c[name] for name in self.names]
        self.json = tuple(isinstance(col.type, JSON) for col in cols)
        self.pg_types = tuple(col.type.compile(dialect=_PG) for col in cols)
        sqlite_types = [col.type.dialect_impl(_SQLITE) for col in cols]
        self._binds = tuple(t.bind_processor(_SQLITE) for t in sqlite_types)
        self._results = tuple(t.result_processor(_SQLITE, None) for t in sqlite_types)

    @property
    def sql(self) -> str:
        return ", ".join(self.names)

    def pg_params(self, start: int = 1) -> list[str]:
        """``$n::TYPE`` placeholders, from ``$start``."""
        return [f"${start + i}::{t}" for i, t in enumerate(self.pg_types)]

    def assignments(self, dialect: str) -> str:
        """``name = <parameter>, ...`` for an UPDATE's SET, the parameters from the first."""
        params = self.pg_params() if dialect == "postgresql" else ["?"] * len(self.names)
        return ", ".join(f"{k} = {p}" for k, p in zip(self.names, params, strict=True))

    def pg_values(self, values: Sequence[Any]) -> list[Any]:
        return [json.dumps(v) if is_json and v is not None else v
                for v, is_json in zip(values, self.json, strict=True)]

    def sqlite_values(self, values: Sequence[Any]) -> list[Any]:
        return [bind(v) if bind is not None else v
                for v, bind in zip(values, self._binds, strict=True)]

    def sqlite_row(self, row: Sequence[Any]) -> list[Any]:
        """A row read from SQLite, as SQLAlchemy would return it (aware datetimes, ...)."""
        return [result(v) if result is not None else v
                for v, result in zip(row, self._results, strict=True)]


class Direct:
    dialect: str

    async def run(self, op: Op) -> Any:
        """Run one operation (in a transaction when it writes)."""
        raise NotImplementedError

    async def run_all(self, ops: Sequence[Op]) -> list[Any]:
        """Run operations in one transaction: all of them, or none (the error is raised)."""
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def relaxed(self) -> Direct:
        """The access for state that is not a record: agent states, which every change
        rewrites whole and call control re-reads. A write is atomic and seen by everyone at
        once as before, but does not wait for the disk: PostgreSQL with
        ``synchronous_commit`` off (its own pool; a crash of the database server, not of
        callcontrol, can lose the last few hundred milliseconds of changes), which is the
        guarantee SQLite's ``synchronous=NORMAL`` in WAL mode already gives, so on SQLite
        this is the same access (one writer per file). The journal of communications keeps
        the durable access."""
        return self


def open_direct(url: str, *, max_size: int = 8) -> Direct:
    """The direct access for a SQLAlchemy database URL (connections open on first use)."""
    from callcontrol.crm.db import async_url

    parsed = make_url(async_url(url))
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("direct access needs a SQLite file, not an in-memory database")
        return SqliteDirect(parsed.database)
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return PgDirect(dsn, max_size=max_size)


def open_direct_for(sessions: Any) -> Direct:
    """The direct access to the database of a SQLAlchemy session factory."""
    engine = sessions.kw["bind"]
    return open_direct(engine.url.render_as_string(hide_password=False))


# --- PostgreSQL ------------------------------------------------------------------------


class PgDirect(Direct):
    dialect = "postgresql"

    def __init__(self, dsn: str, *, max_size: int = 10,
                 settings: dict[str, str] | None = None) -> None:
        self._dsn = dsn
        self._max = max_size
        self._settings = dict(settings or {})   # server settings of its connections
        self._free: list[Any] = []
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def _acquire(self) -> Any:
        import asyncpg

        from callcontrol.crm.db import quiet

        if self._closed:
            raise Disconnected("the call path's database access is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._max)
        await self._slots.acquire()
        while self._free:
            conn = self._free.pop()
            if not conn.is_closed() and quiet(conn):
                return conn
            conn.terminate()   # closed, or the server said something: its goodbye
        try:
            conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT,
                                         server_settings=self._settings or None)
            logger.debug("call path: opened a PostgreSQL connection")
            return conn
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            self._slots.release()
            raise Disconnected(f"cannot connect to PostgreSQL: {exc}") from exc

    def _release(self, conn: Any) -> None:
        if self._closed or conn.is_closed() or conn.is_in_transaction():
            conn.terminate()
        else:
            self._free.append(conn)
        assert self._slots is not None
        self._slots.release()

    async def _with_connection(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        conn = await self._acquire()
        try:
            return await work(conn)
        except Exception as exc:
            if _pg_disconnect(conn, exc):
                conn.terminate()
                raise Disconnected(f"PostgreSQL connection lost: {exc}") from exc
            raise
        finally:
            self._release(conn)

    def relaxed(self) -> PgDirect:
        # the agent's reservation is on the way to the pop: at 100 calls/s with a million
        # contacts the pop's median went from 3.2-3.3 to 2.9-3.0 ms (three alternating
        # pairs), and no pop waits out a slow flush of the write-ahead log
        return PgDirect(self._dsn, max_size=self._max,
                        settings={**self._settings, "synchronous_commit": "off"})

    async def run(self, op: Op) -> Any:
        return await self._with_connection(op.pg)

    async def run_all(self, ops: Sequence[Op]) -> list[Any]:
        async def work(conn: Any) -> list[Any]:
            async with conn.transaction():
                return [await op.pg(conn) for op in ops]
        return await self._with_connection(work)

    async def close(self) -> None:
        self._closed = True
        free, self._free = self._free, []
        for conn in free:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)


def _pg_disconnect(conn: Any, exc: BaseException) -> bool:
    import asyncpg

    if conn.is_closed() or isinstance(exc, (OSError, asyncpg.PostgresConnectionError,
                                            asyncpg.exceptions.OperatorInterventionError,
                                            asyncpg.InterfaceError)):
        return True
    return isinstance(exc, asyncpg.exceptions.InternalClientError)


def pg_count(status: str) -> int:
    """The row count of an asyncpg command status (``UPDATE 1``, ``INSERT 0 1``)."""
    tail = status.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0


# --- SQLite ----------------------------------------------------------------------------


class SqliteDirect(Direct):
    """SQLite: each operation with its transaction runs on the event loop when it can, else
    in one worker thread.

    A thread hop cost 100 to 150 us of CPU here (waking the thread, handing back the
    result), twice what a small write transaction costs itself. So an operation first runs
    on the event loop, on a connection that never waits: ``busy_timeout`` 0 (another writer
    holding the lock fails ``BEGIN IMMEDIATE`` at once), a progress handler that interrupts
    it after :data:`LOOP_BUDGET` seconds (cold pages, a slow disk), and no checkpoint on it
    (``wal_autocheckpoint`` 0: a checkpoint writes the database file). A locked database or
    an interrupted operation is rolled back and run again in the worker thread, on a
    connection that waits for the lock (``busy_timeout``), where the WAL is also
    checkpointed (passively) every :data:`CHECKPOINT_EVERY` commits made on the loop.
    """

    dialect = "sqlite"
    LOOP_BUDGET = 0.002
    CHECKPOINT_EVERY = 500

    def __init__(self, path: str, *, busy_timeout_ms: int = 5000) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="callcontrol-sqlite")
        self._conn: sqlite3.Connection | None = None          # the worker thread's
        self._loop_conn: sqlite3.Connection | None = None     # the event loop's
        self._deadline = 0.0
        self._commits = 0
        self._closed = False
        self.moved = 0    # operations that ran in the worker thread after all (tests, bench)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._open(self._busy_timeout_ms)
        return self._conn

    def _open(self, busy_timeout_ms: int) -> sqlite3.Connection:
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _on_loop(self) -> sqlite3.Connection:
        if self._loop_conn is None:
            conn = self._open(0)
            conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.set_progress_handler(self._over_budget, 1000)
            self._loop_conn = conn
        return self._loop_conn

    def _over_budget(self) -> int:
        return 1 if time.perf_counter() > self._deadline else 0

    def _transaction(self, conn: sqlite3.Connection,
                     fns: Iterable[Callable[[sqlite3.Connection], Any]],
                     writes: bool) -> list[Any]:
        if conn.in_transaction:
            # an earlier operation that failed could not even roll back (its error was
            # raised and retried): end what it left before anything else runs here
            logger.warning("sqlite: a transaction left open by a failed operation: rolled back")
            conn.execute("ROLLBACK")
        if not writes:
            return [fn(conn) for fn in fns]
        conn.execute("BEGIN IMMEDIATE")
        try:
            results = [fn(conn) for fn in fns]
            conn.execute("COMMIT")
        except BaseException:
            self._deadline = math.inf      # the progress handler must not stop the ROLLBACK
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return results

    def _in_thread(self, fns: Iterable[Callable[[sqlite3.Connection], Any]],
                   writes: bool) -> list[Any]:
        conn = self._connection()
        try:
            return self._transaction(conn, fns, writes)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise Busy(text) from exc
            if "disk I/O" in text or "unable to open" in text:
                self._drop()
                raise Disconnected(text) from exc
            raise

    def _checkpoint(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    async def _hop(self, fns: list[Callable[[sqlite3.Connection], Any]],
                   writes: bool) -> list[Any]:
        if self._closed:
            raise Disconnected("the call path's database access is closed")
        try:
            conn = self._on_loop()
            self._deadline = time.perf_counter() + self.LOOP_BUDGET
            results = self._transaction(conn, fns, writes)
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if not ("locked" in text or "busy" in text or "interrupted" in text):
                raise
        else:
            if writes:
                self._commits += 1
                if self._commits % self.CHECKPOINT_EVERY == 0:
                    asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoint)
            return results
        self.moved += 1
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._in_thread, fns, writes)

    async def run(self, op: Op) -> Any:
        return (await self._hop([op.sqlite], op.writes))[0]

    async def run_all(self, ops: Sequence[Op]) -> list[Any]:
        return await self._hop([op.sqlite for op in ops], True)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loop_conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._loop_conn.close()
            self._loop_conn = None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):
            await loop.run_in_executor(self._thread, self._drop)
        self._thread.shutdown(wait=False)
