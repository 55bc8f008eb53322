"""The call's record in the CRM: the communication row, callback activities, look-ups.

Every write about a call goes through its :class:`Journal`: operations run one after the
other in a background task and are retried with back-off while the database is away, so a
database hiccup never holds or drops the call and nothing is written twice (each operation
finds the communication by its call id and is safe to repeat).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.crm.direct import (
    Busy,
    Columns,
    Direct,
    Disconnected,
    Op,
    open_direct_for,
    pg_count,
)
from callcontrol.crm.fastreads import fast_reads
from callcontrol.crm.lookup import ContactMatch, find_contacts_by_phone
from callcontrol.crm.models import Activity, Communication, Contact, Phone, utcnow
from callcontrol.logs import call_context

logger = logging.getLogger(__name__)

# a write: a direct operation (crm.direct: the journal's draft and updates, on every call)
# or a function of an ORM session (the rare ones: callbacks, late contacts)
Operation = Op | Callable[[AsyncSession], Awaitable[Any]]
_COMMS = Communication.__table__


BATCH_MAX = 64


class Records:
    """Database access for call control.

    The journals' writes are group-committed: the writes that all calls submit while one
    transaction is open go together into the next one, so under load a handful of commits
    carries hundreds of writes, and alone a write goes straight out. A shared transaction
    that fails on a statement error is re-run one write per transaction, so a bad write
    fails only itself. The draft and the updates of every call run directly
    (:mod:`callcontrol.crm.direct`, on ``direct`` if given, else on an access of its own,
    closed by :meth:`close`); alone on PostgreSQL each is one statement without a
    transaction around it.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *,
                 retry_initial: float = 0.05, retry_max: float = 2.0,
                 batch_max: int = BATCH_MAX, direct: Direct | None = None) -> None:
        self.sessions = sessions
        self.reads = fast_reads(sessions)  # look-ups: one statement, straight on the driver
        self._owns_direct = direct is None
        self.direct = direct if direct is not None else open_direct_for(sessions)
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self.batch_max = batch_max
        self._queue: deque[tuple[Operation, asyncio.Future[Any]]] = deque()
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0   # transactions the writer committed (with more than one write)

    async def run(self, op: Operation) -> Any:
        """Run ``op`` in a transaction, shared with the writes submitted meanwhile."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append((op, future))
        if self._writer is None or self._writer.done():
            self._writer = loop.create_task(self._write(), name="call-records-writer")
        return await future

    async def run_alone(self, op: Operation) -> Any:
        if _direct(op):
            return await self.direct.run(op)  # type: ignore[arg-type]
        async with self.sessions() as session, session.begin():
            return await op(session)  # type: ignore[operator]

    async def close(self) -> None:
        if self._owns_direct:
            await self.direct.close()

    async def _write(self) -> None:
        try:
            while self._queue:
                batch: list[tuple[Operation, asyncio.Future[Any]]] = []
                while self._queue and len(batch) < self.batch_max:
                    op, future = self._queue.popleft()
                    if not future.done():        # its journal gave up waiting
                        batch.append((op, future))
                shared = [item for item in batch if _direct(item[0])]
                for item in batch:                # ORM writes (rare): each on its own
                    if not _direct(item[0]):
                        await self._alone(*item)
                if len(shared) == 1:
                    await self._alone(*shared[0])
                elif shared:
                    await self._together(shared)
        finally:
            for _op, future in self._queue:      # cancelled (shutdown): nobody is left behind
                if not future.done():
                    future.cancel()

    async def _alone(self, op: Operation, future: asyncio.Future[Any]) -> None:
        try:
            result = await self.run_alone(op)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the op's journal
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)

    async def _together(self, batch: list[tuple[Operation, asyncio.Future[Any]]]) -> None:
        try:
            results = await self.direct.run_all([op for op, _ in batch])  # type: ignore[misc]
        except asyncio.CancelledError:
            for _op, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - sorted out below
            if transient(exc):    # the database is away: every write waits for it
                for _op, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                return
            for op, future in batch:  # one of them is bad: each on its own
                await self._alone(op, future)
            return
        self.batches += 1
        for (_op, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def lookup(self, e164: str) -> list[ContactMatch]:
        return await find_contacts_by_phone(self.reads, e164)

    async def contact_phone(self, contact_id: int) -> tuple[Contact | None, str | None]:
        """The contact and its default (else first) E.164 phone number."""
        async with self.sessions() as session:
            contact = await session.get(Contact, contact_id)
            if contact is None:
                return None, None
            e164 = (await session.execute(
                select(Phone.e164).where(Phone.contact_id == contact_id, Phone.e164.is_not(None))
                .order_by(Phone.is_default.desc(), Phone.id).limit(1)
            )).scalar_one_or_none()
            return contact, e164

    async def communication(self, call_id: str) -> Communication | None:
        async with self.sessions() as session:
            return await _by_call_id(session, call_id)

    async def drafts(self, call_id_prefix: str) -> list[Communication]:
        """Phone communications still in draft whose call id starts with the prefix."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Communication).where(
                    Communication.state == "draft", Communication.media == "phone",
                    Communication.call_id.startswith(call_id_prefix, autoescape=True),
                ).order_by(Communication.id)
            )
            return list(rows.scalars())


async def _by_call_id(session: AsyncSession, call_id: str) -> Communication | None:
    return (await session.execute(
        select(Communication).where(Communication.call_id == call_id)
        .order_by(Communication.id).limit(1)
    )).scalar_one_or_none()


_COMM_DEFAULTS = {col.name: col.default for col in _COMMS.c
                  if col.default is not None and not col.primary_key}


def _with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` plus the Python-side column defaults an ORM insert would add."""
    full = dict(values)
    for name, default in _COMM_DEFAULTS.items():
        if name not in full:
            full[name] = default.arg(None) if default.is_callable else default.arg
    return full


_CALL_ID_PG = Columns(_COMMS, ("call_id",)).pg_types[0]
_FIND_ID_SQL = "SELECT id FROM communications WHERE call_id = {p} ORDER BY id LIMIT 1"
_DRAFT_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def _placeholders(dialect: str, keys: tuple[str, ...]) -> tuple[list[str], str]:
    """The parameters for ``keys`` then the one for the call id, in the dialect's style."""
    if dialect == "postgresql":
        return (Columns.of(_COMMS, keys).pg_params(),
                f"${len(keys) + 1}::{_CALL_ID_PG}")
    return ["?"] * len(keys), "?"


def _draft_sql(dialect: str, keys: tuple[str, ...]) -> str:
    """INSERT the draft unless the call has a communication already, RETURNING its id: one
    statement (built once per database and set of columns)."""
    sql = _DRAFT_SQL.get((dialect, keys))
    if sql is None:
        params, call_id = _placeholders(dialect, keys)
        sql = _DRAFT_SQL[(dialect, keys)] = (
            f"INSERT INTO {_COMMS.name} ({', '.join(keys)}) SELECT {', '.join(params)} "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_COMMS.name} WHERE call_id = {call_id}) "
            "RETURNING id")
    return sql


class DraftOp:
    """Create the draft communication unless one exists for this call id; its id."""

    writes = True

    def __init__(self, call_id: str, fields: dict[str, Any]) -> None:
        self.call_id = call_id
        values = _with_defaults({**fields, "call_id": call_id, "media": "phone",
                                 "state": "draft"})
        self.keys = tuple(sorted(values))
        self.values = [values[k] for k in self.keys]

    async def pg(self, conn: Any) -> int:
        args = Columns.of(_COMMS, self.keys).pg_values(self.values)
        created = await conn.fetchval(_draft_sql("postgresql", self.keys), *args, self.call_id)
        if created is None:
            created = await conn.fetchval(_FIND_ID_SQL.format(p="$1"), self.call_id)
        return int(created)

    def sqlite(self, conn: sqlite3.Connection) -> int:
        args = Columns.of(_COMMS, self.keys).sqlite_values(self.values)
        found = conn.execute(_draft_sql("sqlite", self.keys), [*args, self.call_id]).fetchone()
        if found is None:
            found = conn.execute(_FIND_ID_SQL.format(p="?"), (self.call_id,)).fetchone()
        return int(found[0])


_UPDATE_SQL: dict[tuple[str, tuple[str, ...]], str] = {}


def _update_sql(dialect: str, keys: tuple[str, ...]) -> str:
    sql = _UPDATE_SQL.get((dialect, keys))
    if sql is None:
        _params, call_id = _placeholders(dialect, keys)
        sets = Columns.of(_COMMS, keys).assignments(dialect)
        sql = _UPDATE_SQL[(dialect, keys)] = (
            f"UPDATE {_COMMS.name} SET {sets} WHERE call_id = {call_id}")
    return sql


class UpdateOp:
    """Set fields of the call's communication: one UPDATE statement, safe to repeat."""

    writes = True

    def __init__(self, call_id: str, fields: dict[str, Any]) -> None:
        self.call_id = call_id
        values = {**fields, "updated_at": utcnow()}
        self.keys = tuple(sorted(values))
        self.values = [values[k] for k in self.keys]

    def _counted(self, count: int) -> int:
        if count == 0:
            logger.error("no communication to update for call %s", self.call_id)
        return count

    async def pg(self, conn: Any) -> int:
        cols = Columns.of(_COMMS, self.keys)
        sql = _update_sql("postgresql", self.keys)
        return self._counted(pg_count(await conn.execute(sql, *cols.pg_values(self.values),
                                                         self.call_id)))

    def sqlite(self, conn: sqlite3.Connection) -> int:
        cols = Columns.of(_COMMS, self.keys)
        sql = _update_sql("sqlite", self.keys)
        return self._counted(conn.execute(sql, [*cols.sqlite_values(self.values),
                                                self.call_id]).rowcount)


def draft_op(call_id: str, fields: dict[str, Any]) -> DraftOp:
    """Create the draft communication unless one exists for this call id; return its id."""
    return DraftOp(call_id, fields)


def update_op(call_id: str, fields: dict[str, Any]) -> UpdateOp:
    """Set fields of the call's communication: one UPDATE statement, safe to repeat."""
    return UpdateOp(call_id, fields)


def contact_if_unset_op(call_id: str, contact_id: int) -> Operation:
    """The late look-up result: set the contact where nobody set one meanwhile (the
    communication, and the callback activity of a missed call)."""
    async def op(session: AsyncSession) -> None:
        comm = await _by_call_id(session, call_id)
        if comm is not None and comm.contact_id is None:
            comm.contact_id = contact_id
        activity = (await session.execute(
            select(Activity).where(Activity.description == _callback_marker(call_id))
        )).scalar_one_or_none()
        if activity is not None and activity.contact_id is None:
            activity.contact_id = contact_id
    return op


def _callback_marker(call_id: str) -> str:
    return f"Missed call {call_id}"


def callback_op(call_id: str, contact_id: int | None, number: str | None,
                due_at: datetime) -> Operation:
    """A callback activity for a missed call, once per call (the marker is in its subject)."""
    subject = f"Call back {number or 'unknown number'}"
    marker = _callback_marker(call_id)

    async def op(session: AsyncSession) -> int:
        existing = (await session.execute(
            select(Activity.id).where(Activity.description == marker)
        )).scalar_one_or_none()
        if existing is not None:
            return existing
        activity = Activity(state="Pending", subject=subject, description=marker,
                            contact_id=contact_id, due_at=due_at)
        session.add(activity)
        await session.flush()
        return activity.id
    return op


class Journal:
    """One call's database writes, in order, each retried until it succeeds."""

    def __init__(self, records: Records, call_id: str) -> None:
        self.records = records
        self.call_id = call_id
        self._pending: deque[tuple[Operation, asyncio.Future[Any]]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.failures = 0

    def submit(self, op: Operation) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending.append((op, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._drain(), name=f"journal-{self.call_id}")
        return future

    @property
    def idle(self) -> bool:
        return not self._pending and (self._task is None or self._task.done())

    def when_written(self, callback: Callable[[], Any]) -> None:
        """Call ``callback`` once what is submitted now is written (or given up): at once
        when nothing is pending. A callback, not a task waiting: one per call ending."""
        task = self._task
        if task is None or task.done():
            callback()
        else:
            task.add_done_callback(lambda _task: callback())

    async def flush(self, timeout: float) -> bool:
        """Wait until everything submitted is written; False on timeout."""
        task = self._task
        if task is None:
            return True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except TimeoutError:
            return False
        return self.idle

    def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()

    async def _drain(self) -> None:
        with call_context(self.call_id):
            while self._pending and not self._closed:
                op, future = self._pending[0]
                delay = self.records.retry_initial
                attempts = 0
                error: Exception | None = None
                while True:
                    try:
                        result = await self.records.run(op)
                        error = None
                        break
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # noqa: BLE001 - the database may be away
                        self.failures += 1
                        attempts += 1
                        if not transient(exc) and attempts >= PERMANENT_ATTEMPTS:
                            # a bad write (constraint, data) would block the call's later
                            # writes forever: it is dropped, loudly
                            logger.error("dropping a call record write that keeps failing: "
                                         "%s: %s", type(exc).__name__, exc)
                            error = exc
                            break
                        logger.warning("writing the call record failed (%s: %s); retrying in "
                                       "%.2fs", type(exc).__name__, exc, delay)
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, self.records.retry_max)
                self._pending.popleft()
                if future.done():
                    continue
                if error is not None:
                    future.set_exception(error)
                    future.exception()   # retrieved: nobody has to wait for it
                else:
                    future.set_result(result)


PERMANENT_ATTEMPTS = 3


def _direct(op: Operation) -> bool:
    return hasattr(op, "pg")


def transient(exc: BaseException) -> bool:
    """Errors of a database that is away or restarting (worth retrying for ever), as opposed
    to errors of the statement itself (constraint or data errors)."""
    if isinstance(exc, (Disconnected, Busy)):
        return True
    if isinstance(exc, (IntegrityError, DataError, ProgrammingError)):
        return False
    if isinstance(exc, (OperationalError, InterfaceError, DBAPIError)):
        return True
    return isinstance(exc, (OSError, ConnectionError, TimeoutError))
