"""Async engines and session factories for SQLite (WAL) and PostgreSQL."""

from __future__ import annotations

import select
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine
from sqlalchemy.util import await_


def async_url(url: str) -> str:
    """Give plain ``sqlite://`` / ``postgresql://`` URLs their async driver."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str, *, call_path: bool = False) -> AsyncEngine:
    """An engine for ``url``. PostgreSQL connections are checked at every checkout: with a
    ``SELECT 1`` (:func:`_ping_cheaply`), or, for ``call_path`` engines whose every user
    retries a dropped connection, without a round trip (:func:`_check_quietly`)."""
    url = async_url(url)
    if url.startswith("sqlite"):
        engine = _create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    if call_path:
        engine = _create_async_engine(url, pool_size=5, max_overflow=5)
        _check_quietly(engine)
    else:
        engine = _create_async_engine(url, pool_size=10, max_overflow=20)
        _ping_cheaply(engine)
    return engine


def _ping_cheaply(engine: AsyncEngine) -> None:
    """Check a pooled connection before use in one round trip instead of three.

    ``pool_pre_ping``'s asyncpg ping is three round trips (BEGIN, an empty query, ROLLBACK),
    on every checkout. Here a connection the event loop already knows is closed is replaced
    at no cost, and any other gets a ``SELECT 1`` outside a transaction (one round trip); a
    connection the server killed a moment ago (a restart, ``pg_terminate_backend``) fails
    it and is replaced before anyone uses it, as with ``pool_pre_ping``.
    """
    _check_checkouts(engine, skip_quiet=False)


def _check_quietly(engine: AsyncEngine) -> None:
    """The call path's checkout check: no round trip for a quiet connection.

    Under load the call path checks a connection out for every look-up, agent transition
    and journal write; a ``SELECT 1`` each time was a third of its round trips to the
    server. An idle pooled connection has nothing to read: the server speaks on it only to
    say goodbye (a restart, ``pg_terminate_backend``: an error message, then the close) or
    to send a notice. So a connection the event loop knows is closed is replaced at no
    cost, one ``poll()`` of the socket without waiting tells whether anything is waiting,
    and only then a ``SELECT 1`` (which reads what waits first, fails on a goodbye and so
    replaces the connection). What this cannot see is a goodbye the driver has read before
    the close arrived (a ping cannot always either: the goodbye may come right after it):
    that connection's next statement fails at once, without reaching the server; asyncpg
    closes it, SQLAlchemy counts that as a disconnect and the pool replaces it and every
    connection older than it, and the call path retries (journal writes and agent
    transitions retry disconnects; a look-up continues as unknown and is retried late; a
    reservation is retried on the next hunt tick). The web UI's engine keeps its ping.
    """
    _check_checkouts(engine, skip_quiet=True)


def _check_checkouts(engine: AsyncEngine, *, skip_quiet: bool) -> None:
    @event.listens_for(engine.sync_engine, "checkout")
    def _check(_dbapi: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(record, "driver_connection", None)
        if driver is None:
            return
        if driver.is_closed():
            raise DisconnectionError("the server closed this pooled connection")
        if skip_quiet and quiet(driver):
            return
        try:
            await_(driver.execute("SELECT 1"))
        except Exception as exc:  # noqa: BLE001 - any failure: the connection is unusable
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def quiet(driver: Any) -> bool:
    """Whether nothing waits to be read on an (asyncpg) connection's socket."""
    transport = getattr(driver, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    try:
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def reading(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """Sessions for statements that stand alone: the caller look-ups when
    ``callcontrol.crm.fastreads`` cannot run them on the driver (the call path's writes run
    on ``callcontrol.crm.direct``).

    On PostgreSQL they run in AUTOCOMMIT: the statement alone, without the BEGIN and COMMIT
    or ROLLBACK round trips a transaction around it costs (at a million contacts, look-up
    p50 1.18 -> 0.93 ms). SQLite's reads open no transaction anyway, and switching its
    isolation level costs more than it saves, so there the sessions are returned unchanged
    (and callers keep their transaction).
    """
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "postgresql":
        return sessions
    return session_factory(bind.execution_options(isolation_level="AUTOCOMMIT"))
