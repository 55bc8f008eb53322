"""One-statement reads on the hot path (the caller look-ups), below the session machinery.

A caller look-up is one indexed statement: tens of microseconds in SQLite, one round trip
on PostgreSQL. Around it, a SQLAlchemy session cost more than the statement: on SQLite a
hop to aiosqlite's worker thread per statement, on PostgreSQL a pool checkout with its
``SELECT 1`` check, greenlet bridging and the session itself. :class:`FastReads` runs such a
statement (built with SQLAlchemy, compiled once per statement for the engine's dialect, its
parameters and results converted by the same SQLAlchemy types) straight on the driver:

- **SQLite**: a dedicated read-only connection (``PRAGMA query_only``), used synchronously
  on the event loop, only when the database file is in WAL mode (a reader then never waits
  for a writer and always sees the last commit; no transaction is left open between reads).
  What bounds the time the event loop is held: ``busy_timeout`` 0 (a locked database fails at
  once instead of waiting) and a progress handler that interrupts the statement after
  :data:`SQLITE_LOOP_BUDGET` seconds (say the pages are cold on disk). Either way, or on any
  other SQLite error, the read runs again the ordinary way, through an aiosqlite session in
  its worker thread, off the loop (``fallbacks`` counts them).
- **PostgreSQL**: a few plain asyncpg connections of its own (AUTOCOMMIT: no transaction to
  reset, so they are reused without a check), the statement prepared once per connection by
  asyncpg's statement cache. Instead of a ``SELECT 1`` before every use, a read that fails
  because its connection is gone (a server restart, ``pg_terminate_backend``) is run once
  more on a new connection: a read is idempotent. A read cancelled half way (its caller's
  budget ran out) closes its connection, whose state is then unknown.
- any other database, or an in-memory SQLite: an ordinary session (``reading``).

The engine's ``dispose()`` closes the connections; they are opened again when next needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql import Select

from callcontrol.crm.db import reading, session_factory

logger = logging.getLogger(__name__)

SQLITE_LOOP_BUDGET = 0.002    # seconds a read may hold the event loop before it moves off it
SQLITE_PROGRESS_STEPS = 1000  # SQLite VM steps between two checks of that budget
POSTGRES_CONNECTIONS = 4      # look-ups in flight at once on PostgreSQL; more wait for one
POSTGRES_CONNECT_TIMEOUT = 5.0

Row = Any  # a named tuple (or a SQLAlchemy Row): the statement's columns by name


class _Compiled:
    """A statement compiled for one dialect: its SQL, positional parameters with their
    bind processors, and a row maker applying the result processors."""

    def __init__(self, statement: Select[Any], dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        if not compiled.positional or compiled.positiontup is None:
            raise ValueError(f"{dialect.name}: expected a positional parameter style")
        self.sql = str(compiled)
        self.names: tuple[str, ...] = tuple(compiled.positiontup)
        binds = compiled.binds
        self.defaults = {name: bind.effective_value for name, bind in binds.items()
                         if not bind.required}
        self.bind_processors = {
            name: processor for name, bind in binds.items()
            if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        self.dialect = dialect
        self.columns = list(statement.selected_columns)
        self.row = namedtuple(  # type: ignore[misc]
            "Row", [c.key for c in self.columns], rename=True)
        self.result_processors: list[Any] | None = None
        self.plain = False

    def describe(self, driver_types: Sequence[Any] | None = None) -> None:
        """Set the result processors, given the driver's type of each column (its
        ``cursor.description`` type code: PostgreSQL's type OIDs; SQLite has none)."""
        dialect = self.dialect
        types = list(driver_types) if driver_types is not None else [None] * len(self.columns)
        self.result_processors = [
            column.type.dialect_impl(dialect).result_processor(dialect, driver_type)
            for column, driver_type in zip(self.columns, types, strict=True)]
        self.plain = not any(self.result_processors)

    def parameters(self, values: Mapping[str, Any]) -> list[Any]:
        out = []
        for name in self.names:
            value = values[name] if name in values else self.defaults[name]
            processor = self.bind_processors.get(name)
            out.append(processor(value) if processor else value)
        return out

    def rows(self, records: Sequence[Sequence[Any]]) -> list[Row]:
        make = self.row._make
        if self.plain:
            return [make(r) for r in records]
        procs = self.result_processors or []
        return [make([p(v) if p else v for p, v in zip(procs, r, strict=True)])
                for r in records]


class FastReads:
    """Run one-statement reads of one engine the fastest safe way (see the module)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.sessions: async_sessionmaker[AsyncSession] = reading(session_factory(engine))
        self._compiled: dict[int, tuple[Select[Any], _Compiled]] = {}
        self.fallbacks = 0     # SQLite reads that ran through a session instead
        self.reconnects = 0    # PostgreSQL reads run again on a new connection
        self._sqlite: _SQLite | None = None
        self._postgres: _Postgres | None = None
        if self.dialect.name == "sqlite" and _sqlite_file(engine) is not None:
            self._sqlite = _SQLite(_sqlite_file(engine) or "")
        elif self.dialect.name == "postgresql" and self.dialect.driver == "asyncpg":
            self._postgres = _Postgres(engine)
        event.listen(engine.sync_engine, "engine_disposed", self._disposed)

    @property
    def mode(self) -> str:
        """How reads run: ``sqlite3`` (on the loop), ``asyncpg`` or ``session``."""
        if self._sqlite is not None:
            return "session" if self._sqlite.unusable else "sqlite3"
        return "asyncpg" if self._postgres is not None else "session"

    def compiled(self, statement: Select[Any]) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is None or found[0] is not statement:
            found = (statement, _Compiled(statement, self.dialect))
            self._compiled[id(statement)] = found
        return found[1]

    async def rows(self, statement: Select[Any], values: Mapping[str, Any]) -> list[Row]:
        """The rows of ``statement`` with ``values`` bound, attributes named by its columns."""
        if self._sqlite is not None and not self._sqlite.unusable:
            compiled = self.compiled(statement)
            if compiled.result_processors is None:
                compiled.describe()
            records = self._sqlite.fetch(compiled.sql, compiled.parameters(values))
            if records is not None:
                return compiled.rows(records)
            self.fallbacks += 1
        elif self._postgres is not None:
            compiled = self.compiled(statement)
            if compiled.result_processors is None:
                compiled.describe(await self._postgres.column_types(compiled.sql))
            records, again = await self._postgres.fetch(
                compiled.sql, compiled.parameters(values))
            self.reconnects += again
            return compiled.rows(records)
        async with self.sessions() as session:
            return list((await session.execute(statement, dict(values))).all())

    def close(self) -> None:
        """Close the connections (the engine's ``dispose()`` does); reads reopen them."""
        if self._sqlite is not None:
            self._sqlite.close()
        if self._postgres is not None:
            self._postgres.close()

    def _disposed(self, _engine: Any) -> None:
        self.close()


_ATTRIBUTE = "_callcontrol_fast_reads"


def fast_reads(source: AsyncEngine | async_sessionmaker[AsyncSession]) -> FastReads:
    """The engine's :class:`FastReads` (one per engine, shared by all its users: call
    control and the FastAGI service use the same connections)."""
    engine = source.kw.get("bind") if isinstance(source, async_sessionmaker) else source
    if not isinstance(engine, AsyncEngine):
        raise TypeError(f"fast reads need an AsyncEngine, got {type(engine).__name__}")
    reads = getattr(engine.sync_engine, _ATTRIBUTE, None)
    if reads is None:   # kept on the engine: it lives and goes with it
        reads = FastReads(engine)
        setattr(engine.sync_engine, _ATTRIBUTE, reads)
    return reads


async def rows(source: AsyncSession | FastReads, statement: Select[Any],
               values: Mapping[str, Any]) -> list[Row]:
    """The rows of one statement, through a session or :class:`FastReads`."""
    if isinstance(source, FastReads):
        return await source.rows(statement, values)
    return list((await source.execute(statement, dict(values))).all())


# --- SQLite --------------------------------------------------------------------------


def _sqlite_file(engine: AsyncEngine) -> str | None:
    """The database file, when it is one a second connection can open."""
    url = engine.url
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:") or url.query:
        return None
    return database


class _SQLite:
    def __init__(self, path: str) -> None:
        self.path = path
        self.conn: sqlite3.Connection | None = None
        self.unusable = False   # not in WAL mode: reads keep the sessions
        self._deadline = 0.0

    def _open(self) -> sqlite3.Connection | None:
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=0,
                                   isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return None       # not there (yet): the session reports it
        try:
            conn.execute("PRAGMA busy_timeout=0")
            conn.execute("PRAGMA query_only=ON")
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        except sqlite3.Error:
            conn.close()
            return None
        if str(mode).lower() != "wal":
            conn.close()
            self.unusable = True
            logger.info("SQLite %s is not in WAL mode: look-ups go through sessions",
                        self.path)
            return None
        conn.set_progress_handler(self._over_budget, SQLITE_PROGRESS_STEPS)
        return conn

    def _over_budget(self) -> int:
        return time.perf_counter() > self._deadline

    def fetch(self, sql: str, parameters: list[Any]) -> list[tuple[Any, ...]] | None:
        """The rows, or ``None``: not answered on the loop, run it the ordinary way."""
        conn = self.conn
        if conn is None:
            conn = self.conn = self._open()
            if conn is None:
                return None
        self._deadline = time.perf_counter() + SQLITE_LOOP_BUDGET
        try:
            # fetchall: the statement runs to its end, so no read transaction stays open.
            return conn.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError as exc:
            message = str(exc)
            if "interrupted" not in message and "locked" not in message:
                self.close()   # anything else (a replaced file, ...): reopen next time
            return None
        except sqlite3.Error:
            self.close()
            return None

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()


# --- PostgreSQL ----------------------------------------------------------------------


def _statement_failed(exc: BaseException) -> bool:
    """Whether the server refused the statement itself (its connection is fine), as
    opposed to the connection being gone: a server error that is not about the connection.
    Everything else (a closed socket, asyncpg's protocol errors on a connection the server
    killed while it was idle, ...) means the connection is unusable."""
    import asyncpg

    return isinstance(exc, asyncpg.PostgresError) and not isinstance(
        exc, asyncpg.PostgresConnectionError | asyncpg.OperatorInterventionError)


class _Postgres:
    def __init__(self, engine: AsyncEngine) -> None:
        _args, params = engine.dialect.create_connect_args(engine.url)
        for adapter_only in ("prepared_statement_cache_size", "prepared_statement_name_func",
                             "async_fallback", "async_creator_fn"):
            params.pop(adapter_only, None)
        self.params: dict[str, Any] = params
        self.json_loads: Callable[[str], Any] = (
            getattr(engine.dialect, "_json_deserializer", None) or json.loads)
        self.idle: list[Any] = []
        self._slots: asyncio.Semaphore | None = None

    async def _connect(self) -> Any:
        import asyncpg

        conn = await asyncpg.connect(**self.params, timeout=POSTGRES_CONNECT_TIMEOUT)
        try:   # JSON decoded as SQLAlchemy's asyncpg dialect does it
            await conn.set_type_codec("json", encoder=json.dumps, decoder=self.json_loads,
                                      schema="pg_catalog")
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def column_types(self, sql: str) -> list[int]:
        """The type OID of each column of ``sql`` (once per statement)."""
        statement, _again = await self._run(lambda conn: conn.prepare(sql))
        return [attribute.type.oid for attribute in statement.get_attributes()]

    async def fetch(self, sql: str, parameters: list[Any]) -> tuple[list[Any], int]:
        """The records and whether the read was run again on a new connection."""
        return await self._run(lambda conn: conn.fetch(sql, *parameters))

    async def _run(self, call: Callable[[Any], Any]) -> tuple[Any, int]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(POSTGRES_CONNECTIONS)
        async with self._slots:
            conn = None
            while self.idle and conn is None:
                conn = self.idle.pop()
                if conn.is_closed():
                    conn = None
            if conn is None:
                conn = await self._connect()
            try:
                return await call(conn), 0
            except Exception as exc:
                if _statement_failed(exc):
                    raise                    # the statement failed, the connection is fine
                conn.terminate()
                self._drop_closed()
                conn = await self._connect()   # once more, on a new connection
                try:
                    return await call(conn), 1
                except Exception as again:
                    if not _statement_failed(again):
                        conn.terminate()
                        conn = None
                    raise
                except BaseException:
                    conn.terminate()
                    conn = None
                    raise
            except BaseException:   # cancelled half way: the connection's state is unknown
                conn.terminate()
                conn = None
                raise
            finally:
                if conn is not None and not conn.is_closed():
                    self.idle.append(conn)

    def _drop_closed(self) -> None:
        self.idle = [c for c in self.idle if not c.is_closed()]

    def close(self) -> None:
        idle, self.idle = self.idle, []
        for conn in idle:
            with contextlib.suppress(RuntimeError):   # its event loop is closed already
                conn.terminate()
