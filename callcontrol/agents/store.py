"""Database access for agent status: rows, compare-and-set updates, the atomic reservation."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.agents.models import AgentStatusRow
from callcontrol.agents.states import AgentState
from callcontrol.crm.direct import Busy, Columns, Disconnected, pg_count
from callcontrol.crm.models import AgentStateChange, User

logger = logging.getLogger(__name__)
T = AgentStatusRow
_TABLE = AgentStatusRow.__table__
_HISTORY = AgentStateChange.__table__
ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class AgentStatus:
    user_id: int
    username: str
    extension: str | None
    device: str | None
    state: AgentState
    reason: str | None
    since: datetime | None
    idle_since: datetime | None
    pop_preference: str = "ring"

    def to_json(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id, "username": self.username, "extension": self.extension,
            "device": self.device, "state": self.state.value, "reason": self.reason,
            "since": _iso(self.since), "idle_since": _iso(self.idle_since),
            "pop_preference": self.pop_preference,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def status_of(user: User | UserRow, row: AgentStatusRow | AgentRow | None) -> AgentStatus:
    if row is None:
        return AgentStatus(user.id, user.username, user.extension, user.device,
                           AgentState.LOGGED_OUT, None, None, None)
    return AgentStatus(
        user_id=user.id, username=user.username, extension=row.extension, device=row.device,
        state=AgentState(row.state), reason=row.reason, since=row.since,
        idle_since=row.idle_since, pop_preference=row.pop_preference,
    )


@contextlib.asynccontextmanager
async def transaction(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session, session.begin():
        yield session


async def retrying(attempt: int, exc: Exception) -> None:
    """SQLite reports a busy database and concurrent first inserts collide; a connection
    the server dropped is replaced by the pool. All three are retried."""
    if attempt + 1 >= ATTEMPTS:
        raise exc
    dropped = (isinstance(exc, DBAPIError) and exc.connection_invalidated) or \
        isinstance(exc, (Disconnected, Busy))
    if not dropped and not isinstance(exc, IntegrityError) and not (
            isinstance(exc, OperationalError) and "locked" in str(exc)):
        raise exc
    await asyncio.sleep(0.005 * (attempt + 1))


RETRYABLE = (DBAPIError, Disconnected, Busy)


@dataclass(slots=True)
class UserRow:
    """The user columns an agent's status needs (read as a plain row, no ORM entity)."""
    id: int
    username: str
    extension: str | None
    device: str | None


@dataclass(slots=True)
class AgentRow:
    """An ``agent_status`` row as read for a change: a plain copy, compared-and-set by
    ``version``. The call path reads one per agent transition, four per call, where ORM
    entities cost more CPU than the statement."""
    user_id: int
    state: str
    reason: str | None
    extension: str | None
    device: str | None
    since: datetime | None
    idle_since: datetime | None
    wrapup_until: datetime | None
    pop_preference: str
    resume_state: str | None
    resume_reason: str | None
    version: int


_USERS = User.__table__
_ROW_FIELDS = tuple(AgentRow.__dataclass_fields__)
_LOAD = (
    select(_USERS.c.id, _USERS.c.username, _USERS.c.extension, _USERS.c.device,
           *[_TABLE.c[name].label(f"a_{name}") for name in _ROW_FIELDS])
    .select_from(_USERS.outerjoin(_TABLE, _TABLE.c.user_id == _USERS.c.id))
    .where(_USERS.c.id == bindparam("user_id"))
)


def _user_and_row(found: Any) -> tuple[UserRow, AgentRow | None]:
    """A result row of the user's four columns then the agent row's (NULLs: no agent row)."""
    return UserRow(*found[:4]), (AgentRow(*found[4:]) if found[4] is not None else None)


async def load(session: AsyncSession, user_id: int, *, create: bool = False,
               now: datetime | None = None) -> tuple[UserRow, AgentRow | None] | None:
    connection = await session.connection()
    found = (await connection.execute(_LOAD, {"user_id": user_id})).first()
    if found is None:
        return None
    user, row = _user_and_row(found)
    if row is None and create:
        row = AgentRow(user_id=user.id, state=AgentState.LOGGED_OUT.value, reason=None,
                       extension=None, device=None, since=now, idle_since=None,
                       wrapup_until=None, pop_preference="ring", resume_state=None,
                       resume_reason=None, version=0)
        await connection.execute(insert(_TABLE).values(
            {name: getattr(row, name) for name in _ROW_FIELDS}))
    return user, row


# Built once: a statement object's cache key is computed once, the SET columns come from
# the parameters (the pop preference; the call path's changes are ChangeOp, below)
_CAS = update(_TABLE).where(_TABLE.c.user_id == bindparam("b_user_id"),
                            _TABLE.c.version == bindparam("b_version"))


async def compare_and_set(session: AsyncSession, row: AgentRow,
                          values: dict[str, Any]) -> bool:
    """Apply ``values`` only if nobody changed the row since it was read.

    Run as a Core statement on the session's connection: the ORM's bulk-update path costs
    more CPU than the statement itself, on every call's four agent transitions."""
    connection = await session.connection()
    result = await connection.execute(_CAS, {
        **values, "version": row.version + 1, "b_user_id": row.user_id,
        "b_version": row.version})
    return getattr(result, "rowcount", 0) == 1


async def extension_owner(session: AsyncSession, extension: str) -> int | None:
    """The user whose own extension it is (users.extension), if any."""
    return await session.scalar(select(User.id).where(User.extension == extension))


async def extension_holder(session: AsyncSession, extension: str) -> int | None:
    """The logged-in agent on ``extension``, if any."""
    return await session.scalar(select(T.user_id).where(
        T.extension == extension, T.state != AgentState.LOGGED_OUT.value))


async def by_extension(session: AsyncSession,
                       extension: str) -> tuple[UserRow, AgentRow | None] | None:
    """The logged-in agent on ``extension``, else the user whose own extension it is."""
    holder = await extension_holder(session, extension)
    if holder is None:
        holder = await session.scalar(select(User.id).where(User.extension == extension))
    return None if holder is None else await load(session, holder)


async def all_agents(session: AsyncSession) -> list[tuple[User, T | None]]:
    rows = await session.execute(
        select(User, T).outerjoin(T, T.user_id == User.id)
        .where(or_(T.user_id.is_not(None), User.role == "agent"))
        .order_by(User.username)
    )
    return [(u, r) for u, r in rows.all()]


async def wrapups(session: AsyncSession) -> list[tuple[int, datetime | None]]:
    rows = await session.execute(
        select(T.user_id, T.wrapup_until).where(T.state == AgentState.WRAP_UP.value))
    return [(uid, until) for uid, until in rows.all()]


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(T.state, func.count()).group_by(T.state))
    return {state: int(n) for state, n in rows.all()}


# --- the call path's statements, run directly (callcontrol.crm.direct) -------------------
# An agent transition, the reservation and reading an agent's row run four to five times a
# call; through an AsyncSession each cost more CPU than the statement itself.

_ROW_COLS = Columns(_TABLE, _ROW_FIELDS)
_USER_COLS = ("id", "username", "extension", "device")
_HISTORY_COLS = Columns(_HISTORY, ("user_id", "state", "reason", "at"))
_SELECT_AGENT = (
    "SELECT u.id, u.username, u.extension, u.device, "
    + ", ".join(f"a.{name}" for name in _ROW_FIELDS)
    + f" FROM {_USERS.name} u LEFT JOIN {_TABLE.name} a ON a.user_id = u.id WHERE u.id = ")


def _found(user: Sequence[Any], row: Sequence[Any] | None) -> tuple[UserRow, AgentRow | None]:
    return UserRow(*user), (AgentRow(*row) if row is not None and row[0] is not None else None)


def _fresh_row(user_id: int, now: datetime | None) -> AgentRow:
    return AgentRow(user_id=user_id, state=AgentState.LOGGED_OUT.value, reason=None,
                    extension=None, device=None, since=now, idle_since=None,
                    wrapup_until=None, pop_preference="ring", resume_state=None,
                    resume_reason=None, version=0)


_INSERT_ROW_PG = (f"INSERT INTO {_TABLE.name} ({_ROW_COLS.sql}) VALUES "
                  f"({', '.join(_ROW_COLS.pg_params())}) ON CONFLICT (user_id) DO NOTHING")
_INSERT_ROW_SQLITE = (f"INSERT INTO {_TABLE.name} ({_ROW_COLS.sql}) VALUES "
                      f"({', '.join('?' * len(_ROW_FIELDS))}) ON CONFLICT (user_id) DO NOTHING")


class LoadOp:
    """The user's columns and their agent row; ``create``: a logged-out row if none."""

    def __init__(self, user_id: int, *, create: bool = False,
                 now: datetime | None = None) -> None:
        self.user_id, self.create, self.now = user_id, create, now
        self.writes = create

    async def pg(self, conn: Any) -> tuple[UserRow, AgentRow | None] | None:
        found = await conn.fetchrow(_SELECT_AGENT + "$1", self.user_id)
        if found is None:
            return None
        found = tuple(found)
        user, row = _found(found[:4], found[4:])
        if row is None and self.create:
            row = _fresh_row(user.id, self.now)
            values = [getattr(row, name) for name in _ROW_FIELDS]
            if pg_count(await conn.execute(_INSERT_ROW_PG, *_ROW_COLS.pg_values(values))) != 1:
                return await LoadOp(self.user_id).pg(conn)   # another process made it
        return user, row

    def sqlite(self, conn: sqlite3.Connection) -> tuple[UserRow, AgentRow | None] | None:
        found = conn.execute(_SELECT_AGENT + "?", (self.user_id,)).fetchone()
        if found is None:
            return None
        row_values = None if found[4] is None else _ROW_COLS.sqlite_row(found[4:])
        user, row = _found(found[:4], row_values)
        if row is None and self.create:
            row = _fresh_row(user.id, self.now)
            values = _ROW_COLS.sqlite_values([getattr(row, name) for name in _ROW_FIELDS])
            if conn.execute(_INSERT_ROW_SQLITE, values).rowcount != 1:
                return LoadOp(self.user_id).sqlite(conn)
        return user, row


_CHANGE_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def _change_sql(dialect: str, keys: tuple[str, ...]) -> str:
    sql = _CHANGE_SQL.get((dialect, keys))
    if sql is not None:
        return sql
    sets = Columns.of(_TABLE, keys).assignments(dialect)
    if dialect == "postgresql":
        n = len(keys)
        history = _HISTORY_COLS.pg_params(n + 2)[1:]   # state, reason, at: $n+3 ...
        sql = (f"WITH changed AS (UPDATE {_TABLE.name} SET {sets} "
               f"WHERE user_id = ${n + 1}::INTEGER AND version = ${n + 2}::INTEGER "
               f"RETURNING user_id) INSERT INTO {_HISTORY.name} ({_HISTORY_COLS.sql}) "
               f"SELECT user_id, {', '.join(history)} FROM changed")
    else:
        sql = f"UPDATE {_TABLE.name} SET {sets} WHERE user_id = ? AND version = ?"
    _CHANGE_SQL[(dialect, keys)] = sql
    return sql


_INSERT_HISTORY_SQLITE = (f"INSERT INTO {_HISTORY.name} ({_HISTORY_COLS.sql}) "
                          f"VALUES (?, ?, ?, ?)")


class ChangeOp:
    """Compare-and-set ``values`` on the row read as ``row`` and write the history row of
    the change, atomically (PostgreSQL: one statement; SQLite: two in one transaction).
    True if this change won."""

    writes = True

    def __init__(self, row: AgentRow, values: dict[str, Any], state: AgentState,
                 reason: str | None, at: datetime) -> None:
        self.values = {**values, "version": row.version + 1}
        self.keys = tuple(sorted(self.values))
        self.row, self.state, self.reason, self.at = row, state, reason, at

    async def pg(self, conn: Any) -> bool:
        cols = Columns.of(_TABLE, self.keys)
        args = cols.pg_values([self.values[k] for k in self.keys])
        args += [self.row.user_id, self.row.version, self.state.value, self.reason, self.at]
        return pg_count(await conn.execute(_change_sql("postgresql", self.keys), *args)) == 1

    def sqlite(self, conn: sqlite3.Connection) -> bool:
        cols = Columns.of(_TABLE, self.keys)
        args = cols.sqlite_values([self.values[k] for k in self.keys])
        changed = conn.execute(_change_sql("sqlite", self.keys),
                               [*args, self.row.user_id, self.row.version]).rowcount == 1
        if changed:
            conn.execute(_INSERT_HISTORY_SQLITE, _HISTORY_COLS.sqlite_values(
                [self.row.user_id, self.state.value, self.reason, self.at]))
        return changed


_RESERVE_SET = ("state = 'ringing', reason = NULL, since = {now}, wrapup_until = NULL, "
                "resume_state = NULL, resume_reason = NULL, version = version + 1")
_RESERVE_PICK = (f"SELECT s.user_id FROM {_TABLE.name} s WHERE s.state = 'ready' "
                 f"AND s.user_id IN (SELECT id FROM {_USERS.name} WHERE active) "
                 "{excluded} ORDER BY s.idle_since, s.user_id LIMIT 1")
_NOW_PG = f"$1::{_HISTORY_COLS.pg_types[3]}"   # the time, cast as the history's "at"
_RESERVE_PG = (
    f"WITH picked AS (UPDATE {_TABLE.name} SET {_RESERVE_SET.format(now=_NOW_PG)} "
    "WHERE user_id = (" + _RESERVE_PICK.format(
        excluded="AND NOT (s.user_id = ANY($2::INTEGER[]))") + " FOR UPDATE SKIP LOCKED) "
    f"AND state = 'ready' RETURNING {_ROW_COLS.sql}), "
    f"logged AS (INSERT INTO {_HISTORY.name} ({_HISTORY_COLS.sql}) "
    f"SELECT user_id, 'ringing', NULL, {_NOW_PG} FROM picked) "
    f"SELECT u.id, u.username, u.extension, u.device, "
    + ", ".join(f"picked.{name}" for name in _ROW_FIELDS)
    + f" FROM picked JOIN {_USERS.name} u ON u.id = picked.user_id")


class ReserveOp:
    """ready -> ringing for the longest-idle ready agent not excluded, with its history
    row; the agent's user columns and new row, or None. PostgreSQL: one statement, the
    candidate locked with FOR UPDATE SKIP LOCKED so concurrent reservers each take another
    agent without waiting; SQLite: writers are serialised and the UPDATE re-checks
    ``state = 'ready'``."""

    writes = True

    def __init__(self, exclude: Iterable[int], now: datetime) -> None:
        self.exclude = list(exclude)
        self.now = now

    async def pg(self, conn: Any) -> tuple[UserRow, AgentRow] | None:
        found = await conn.fetchrow(_RESERVE_PG, self.now, self.exclude)
        if found is None:
            return None
        found = tuple(found)
        user, row = _found(found[:4], found[4:])
        assert row is not None
        return user, row

    def sqlite(self, conn: sqlite3.Connection) -> tuple[UserRow, AgentRow] | None:
        excluded = (f"AND s.user_id NOT IN ({', '.join('?' * len(self.exclude))})"
                    if self.exclude else "")
        now = _HISTORY_COLS.sqlite_values([None, None, None, self.now])[3]
        picked = conn.execute(
            f"UPDATE {_TABLE.name} SET {_RESERVE_SET.format(now='?')} WHERE user_id = ("
            + _RESERVE_PICK.format(excluded=excluded)
            + f") AND state = 'ready' RETURNING {_ROW_COLS.sql}",
            [now, *self.exclude]).fetchall()   # all: the statement done before COMMIT
        if not picked:
            return None
        row = AgentRow(*_ROW_COLS.sqlite_row(picked[0]))
        conn.execute(_INSERT_HISTORY_SQLITE, [row.user_id, AgentState.RINGING.value, None, now])
        user = conn.execute(f"SELECT {', '.join(_USER_COLS)} FROM {_USERS.name} WHERE id = ?",
                            (row.user_id,)).fetchone()
        return UserRow(*user), row
