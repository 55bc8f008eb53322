"""Agent state service: CTI login/logout, state changes, reservation for calls, wrap-up.

Every change is a compare-and-set on the agent's ``agent_status`` row (so two processes
never both apply a change computed from the same old state), is recorded as an
``AgentStateChange`` in the same transaction, then published on the bus as
``{"type": "agent.state", ...}`` to ``agent.<user_id>`` and reflected in the
``callcontrol_agents{state}`` gauge.

Call control uses: ``reserve`` (inbound, longest idle first), ``reserve_for_outbound``
(click-to-call), ``answered``, ``ring_failed`` (RONA), ``ring_cancelled`` (caller gone or
another agent took it), ``call_ended`` (-> wrap-up -> ready after ``wrapup_seconds``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.agents import store
from callcontrol.agents.errors import ExtensionInUse, NoExtension, NoSuchAgent, StateConflict
from callcontrol.agents.models import POP_PREFERENCES
from callcontrol.agents.states import AgentState, Cause, TransitionRefused, transition
from callcontrol.agents.store import AgentStatus
from callcontrol.crm.direct import Direct, open_direct_for
from callcontrol.crm.models import utcnow
from callcontrol.errors import ValidationFailed

__all__ = ["AgentService", "AgentStatus"]

logger = logging.getLogger(__name__)
S = AgentState
SWEEP_SECONDS = 5.0
GAUGE_RECOUNT_SECONDS = 1.0  # the agents-by-state recount, at most this often
ROW_CACHE_SECONDS = 30.0  # an agent's user columns are read again at least this often
_STALE = object()  # planned on a remembered row that is no longer the database's
Plan = tuple[AgentState, str | None] | None
Planner = Callable[[store.AgentRow], Plan]


EXTENSION = re.compile(r"[A-Za-z0-9_-]{1,16}")
DEVICE = re.compile(r"(PJSIP|SIP|IAX2)/([A-Za-z0-9_.-]{1,48})")


def _device(ext: str, given: str | None, own_ext: str | None, own_device: str | None) -> str:
    """The phone to ring for ``ext``: the user's own device on their own extension, else
    ``PJSIP/<ext>``; a given device must be a plain endpoint of that extension."""
    if given is None:
        return own_device if own_device and ext == own_ext else f"PJSIP/{ext}"
    if given == own_device and ext == own_ext:
        return given
    found = DEVICE.fullmatch(given)
    if found is None or found.group(2) != ext:
        raise ValidationFailed(f"device: the phone of extension {ext}, such as PJSIP/{ext}")
    return given


def _to(state: AgentState, reason: str | None = None) -> Planner:
    return lambda row: (state, reason)


def _unless(state: AgentState) -> Planner:
    """Change to ``state`` unless the agent is in it already (idempotent call-control steps)."""
    return lambda row: None if row.state == state.value else (state, None)


class AgentService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Any,
                 metrics: Any = None, wrapup_seconds: float = 10.0,
                 sweep_seconds: float = SWEEP_SECONDS,
                 direct: Direct | None = None) -> None:
        self._sessions = sessions
        # transitions and reservations, four to five a call, run without SQLAlchemy
        # (callcontrol.crm.direct): ``direct`` if given (shared, closed by its owner), else
        # one of the service's own on the same database
        self._owns_direct = direct is None
        self._direct = direct if direct is not None else open_direct_for(sessions)
        self._bus = bus
        self._gauge = metrics["callcontrol_agents"] if metrics is not None else None
        self.wrapup_seconds = wrapup_seconds
        self._timers: dict[int, asyncio.Task[None]] = {}
        self._gauge_task: asyncio.Task[None] | None = None
        self._gauge_dirty = False
        self._gauge_changes = 0          # local transitions applied to the gauge so far
        self._gauge_counted_at = -GAUGE_RECOUNT_SECONDS
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None
        self._deadlines: dict[int, datetime | None] = {}
        self._ready_listeners: list[Callable[[int], None]] = []
        self._rows: dict[int, tuple[store.UserRow, store.AgentRow, float]] = {}

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Re-arm wrap-up timers persisted by any process (a restart must not strand agents),
        then keep sweeping: a process that dies mid wrap-up leaves its deadline behind."""
        await self._rearm()
        self._refresh_gauge()
        self._sweeper = asyncio.create_task(self._sweep(), name="agents-wrap-up-sweeper")

    async def _rearm(self) -> None:
        try:
            async with store.transaction(self._sessions) as session:
                pending = await store.wrapups(session)
        except DBAPIError as exc:
            if "agent_status" in str(exc):
                raise RuntimeError("the database has no agent_status table (migration "
                                   "0002ag): run `callcontrol db upgrade`") from exc
            raise
        for user_id, until in pending:
            # Not armed here, or armed for an older wrap-up another process replaced (a
            # later deadline). An earlier one is a wrap-up this read saw before the agent
            # finished it here and took another call: re-arming it would cancel the timer
            # of the current wrap-up (and leave the agent in it until the next sweep).
            armed = self._deadlines.get(user_id) if user_id in self._timers else None
            if armed is None or (until is not None and until > armed):
                self._arm(user_id, until or utcnow())

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await self._rearm()
            except Exception:  # a database blip must not end the sweeping
                logger.exception("could not look for wrap-ups to finish")
            self._refresh_gauge()  # other processes change agents too

    async def close(self) -> None:
        background = [t for t in (self._gauge_task, self._sweeper) if t is not None]
        tasks = [*self._timers.values(), *background]
        self._timers.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._owns_direct:
            await self._direct.close()

    # --- the agent's own actions ---------------------------------------------------------

    async def cti_login(self, user_id: int, extension: str | None = None,
                        device: str | None = None) -> AgentStatus:
        """Bind the agent to an extension/device (default: the user's own) and make them ready.

        Another extension (hot-desking) is allowed unless it is another user's own or in use;
        the device must be that extension's phone (``PJSIP/<ext>``): an agent cannot point
        call control at an arbitrary dial string.
        """
        async with store.transaction(self._sessions) as session:
            found = await store.load(session, user_id)
            if found is None:
                raise NoSuchAgent(f"no user {user_id}")
            user, row = found
            ext = (extension or "").strip() or (row.extension if row else None) or user.extension
            if not ext:
                raise NoExtension("no extension: give one, or set the user's extension")
            if not EXTENSION.fullmatch(ext):
                raise ValidationFailed("extension: letters, digits, '-' or '_', at most 16")
            owner = await store.extension_owner(session, ext)
            holder = await store.extension_holder(session, ext)
        if owner not in (None, user_id):
            raise ExtensionInUse(f"extension {ext} belongs to another user")
        if holder is not None and holder != user_id:
            raise ExtensionInUse(f"extension {ext} is in use by another agent")
        if row is not None and row.state != S.LOGGED_OUT.value:
            if row.extension == ext:
                return store.status_of(user, row)
            raise ExtensionInUse(f"already logged in on extension {row.extension}; log out first")
        dev = _device(ext, (device or "").strip() or None, user.extension, user.device)
        return await self._change(user_id, _to(S.READY), Cause.AGENT,
                                  fields={"extension": ext, "device": dev})

    async def cti_logout(self, user_id: int) -> AgentStatus:
        return await self._change(user_id, _unless(S.LOGGED_OUT), Cause.AGENT)

    async def set_state(self, user_id: int, state: AgentState, cause: Cause = Cause.AGENT,
                        reason: str | None = None) -> AgentStatus:
        state, cause = AgentState(state), Cause(cause)
        if reason is not None and len(reason) > 100:
            raise ValidationFailed("reason: at most 100 characters")

        def plan(row: store.AgentRow) -> Plan:
            if row.state == state.value and state is not S.NOT_READY:
                return None
            if row.state == S.LOGGED_OUT.value and cause is Cause.AGENT:
                raise StateConflict("log in to the CTI first")  # cti_login binds the extension
            return state, reason
        return await self._change(user_id, plan, cause)

    async def set_pop_preference(self, user_id: int, preference: Any) -> AgentStatus:
        if preference not in POP_PREFERENCES:
            raise ValidationFailed(f"pop preference: one of {', '.join(POP_PREFERENCES)}")
        for attempt in range(store.ATTEMPTS):
            try:
                async with store.transaction(self._sessions) as session:
                    found = await store.load(session, user_id, create=True, now=utcnow())
                    if found is None:
                        raise NoSuchAgent(f"no user {user_id}")
                    user, row = found
                    assert row is not None
                    if await store.compare_and_set(session, row, {"pop_preference": preference}):
                        self._forget(user_id)
                        row.pop_preference = preference
                        status = store.status_of(user, row)
                        break
            except store.RETRYABLE as exc:
                await store.retrying(attempt, exc)
        else:
            raise StateConflict("agent status changed concurrently; try again")
        await self._publish(status)  # the agent's other tabs follow
        return status

    # --- call control --------------------------------------------------------------------

    async def reserve(self, exclude: Iterable[int] = ()) -> AgentStatus | None:
        """Atomically take the longest-idle ready agent (ready -> ringing), or None."""
        exclude = tuple(exclude)
        for attempt in range(store.ATTEMPTS):
            try:
                found = await self._direct.run(store.ReserveOp(exclude, utcnow()))
            except store.RETRYABLE as exc:
                await store.retrying(attempt, exc)
                continue
            if found is None:
                return None
            self._remember(*found)  # committed: answered() starts from it
            status = store.status_of(*found)
            break
        else:  # pragma: no cover - retrying() raises on the last attempt
            return None
        await self._after(status, S.READY)
        return status

    async def reserve_for_outbound(self, user_id: int) -> AgentStatus:
        """The agent's own click-to-call: their device rings first. Refused while on a call."""
        def plan(row: store.AgentRow) -> Plan:
            resume.clear()
            if row.state in (S.RINGING.value, S.ON_CALL.value):
                raise StateConflict("you are already on a call")
            if row.state == S.LOGGED_OUT.value:
                raise StateConflict("log in to the CTI first")
            if row.state == S.NOT_READY.value:  # a cancelled call must not make them ready
                resume.update(resume_state=row.state, resume_reason=row.reason)
            return S.RINGING, None
        resume: dict[str, Any] = {}
        return await self._change(user_id, plan, Cause.SYSTEM, fields=resume)

    async def answered(self, user_id: int) -> AgentStatus:
        return await self._change(user_id, _unless(S.ON_CALL), Cause.CALL)

    async def ring_failed(self, user_id: int, reason: str = "no answer") -> AgentStatus:
        """RONA: the agent let the call ring out; not offered the next one until back."""
        return await self._change(user_id, _to(S.NOT_READY, (reason or "no answer")[:100]),
                                  Cause.CALL)

    async def ring_cancelled(self, user_id: int) -> AgentStatus:
        """Ringing stopped through no fault of the agent: back to ready, keeping their place
        (or back to "not ready" if their own click-to-call started from there)."""
        def plan(row: store.AgentRow) -> Plan:
            if row.state != S.RINGING.value:
                return None
            if row.resume_state == S.NOT_READY.value:
                return S.NOT_READY, row.resume_reason
            return S.READY, None
        return await self._change(user_id, plan, Cause.CALL)

    async def call_ended(self, user_id: int) -> AgentStatus:
        """on call -> wrap-up (ready after ``wrapup_seconds``); ringing -> ready."""
        def plan(row: store.AgentRow) -> Plan:
            if row.state == S.RINGING.value:
                return S.READY, None
            return (S.WRAP_UP, None) if row.state == S.ON_CALL.value else None
        return await self._change(user_id, plan, Cause.CALL)

    # --- queries -------------------------------------------------------------------------

    async def get(self, user_id: int) -> AgentStatus | None:
        async with store.transaction(self._sessions) as session:
            found = await store.load(session, user_id)
        return None if found is None else store.status_of(*found)

    async def by_extension(self, extension: str) -> AgentStatus | None:
        async with store.transaction(self._sessions) as session:
            found = await store.by_extension(session, extension)
        return None if found is None else store.status_of(*found)

    async def list(self) -> list[AgentStatus]:
        async with store.transaction(self._sessions) as session:
            return [store.status_of(u, r) for u, r in await store.all_agents(session)]

    # --- internals -----------------------------------------------------------------------

    async def _change(self, user_id: int, plan: Planner, cause: Cause, *,
                      fields: dict[str, Any] | None = None) -> AgentStatus:
        """Read the row, let ``plan`` pick the change (None: none), compare-and-set it."""
        for attempt in range(store.ATTEMPTS):
            try:
                result = await self._try_change(user_id, plan, cause, fields)
            except store.RETRYABLE as exc:
                await store.retrying(attempt, exc)
                continue
            if result is None:
                continue  # someone changed the row meanwhile: plan again on the new state
            status, old = result
            if old is not None:
                await self._after(status, old)
            return status
        raise StateConflict("agent state changed concurrently; try again")

    async def _try_change(self, user_id: int, plan: Planner, cause: Cause,
                          fields: dict[str, Any] | None,
                          ) -> tuple[AgentStatus, AgentState | None] | None:
        """The new status and the state it left (None: nothing changed); None on a lost
        compare-and-set."""
        # each statement on its own: the compare-and-set, not a transaction, guards the row
        # read before it (a change and its history row are atomic, see store.ChangeOp)
        now = utcnow()
        changed: Any = _STALE
        known = self._known(user_id)
        if known is not None:
            changed = await self._apply(*known, plan, cause, fields, now, trusted=False)
            if changed is _STALE:  # planned on what another process replaced: read it
                self._forget(user_id)
        if changed is _STALE:
            found = await self._direct.run(store.LoadOp(user_id, create=True, now=now))
            if found is None:
                raise NoSuchAgent(f"no user {user_id}")
            user, row = found
            assert row is not None
            changed = await self._apply(user, row, plan, cause, fields, now, trusted=True)
        if changed is None:
            return None
        status, old, written = changed
        if written is not None:  # committed: the next change may start from it
            self._remember(*written)
        return status, old

    async def _apply(self, user: store.UserRow, row: store.AgentRow, plan: Planner,
                     cause: Cause, fields: dict[str, Any] | None, now: datetime, *,
                     trusted: bool) -> Any:
        """Plan on ``row`` and compare-and-set it: (status, old state or None, the written
        row or None), or None on a lost compare-and-set. ``trusted``: the row was just read;
        else it is this process's last write, and anything but a won compare-and-set is
        _STALE (a "no change" or a refusal must be decided on the row the database has)."""
        planned = plan(row)
        if planned is None:
            return (store.status_of(user, row), None, None) if trusted else _STALE
        new, reason = planned
        try:
            change = transition(AgentState(row.state), new, cause, reason)
        except TransitionRefused as exc:
            if not trusted:
                return _STALE
            raise StateConflict(str(exc)) from None
        values = self._values(row, new, change.reason, now) | (fields or {})
        if not await self._direct.run(store.ChangeOp(row, values, new, change.reason, now)):
            return None if trusted else _STALE
        written = replace(row, **values, version=row.version + 1)
        return store.status_of(user, written), AgentState(row.state), (user, written)

    # This process's last write of each agent: the next transition compares-and-sets it
    # without reading the row first (four transitions a call). Another process's change
    # fails that compare-and-set and the row is read again; the user columns beside it
    # (name, own extension) are read again at least every ROW_CACHE_SECONDS.
    def _known(self, user_id: int) -> tuple[store.UserRow, store.AgentRow] | None:
        entry = self._rows.get(user_id)
        if entry is None:
            return None
        user, row, at = entry
        if time.monotonic() - at > ROW_CACHE_SECONDS:
            del self._rows[user_id]
            return None
        return user, replace(row)

    def _remember(self, user: store.UserRow, row: store.AgentRow) -> None:
        entry = self._rows.get(row.user_id)
        at = entry[2] if entry is not None else time.monotonic()
        self._rows[row.user_id] = (user, row, at)   # a fresh row: _known hands out copies

    def _forget(self, user_id: int) -> None:
        self._rows.pop(user_id, None)

    def _values(self, row: store.AgentRow, new: AgentState, reason: str | None,
                now: datetime) -> dict[str, Any]:
        old = AgentState(row.state)
        idle: datetime | None
        if new is S.READY:
            # Back from ringing through no fault of theirs: the agent keeps their place.
            idle = row.idle_since if old is S.RINGING and row.idle_since else now
        elif new is S.RINGING:
            idle = row.idle_since
        else:
            idle = None
        values: dict[str, Any] = {"state": new.value, "reason": reason, "since": now,
                                  "idle_since": idle, "wrapup_until": None,
                                  "resume_state": None, "resume_reason": None}
        if new is S.WRAP_UP:
            values["wrapup_until"] = now + timedelta(seconds=self.wrapup_seconds)
        if new is S.LOGGED_OUT:
            values["extension"] = None
        return values

    def on_ready(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(user_id)`` whenever this process makes an agent ready (call
        control offers them to waiting callers at once)."""
        self._ready_listeners.append(listener)

    async def _after(self, status: AgentStatus, old: AgentState) -> None:
        logger.info("agent %s (%s) is %s%s", status.user_id, status.username,
                    status.state.value, f" ({status.reason})" if status.reason else "")
        if status.state is S.WRAP_UP:  # the deadline _values() persisted
            self._arm(status.user_id, (status.since or utcnow())
                      + timedelta(seconds=self.wrapup_seconds))
        else:
            self._disarm(status.user_id)
        await self._publish(status)
        if status.state is S.READY and old is not S.READY:
            for listener in self._ready_listeners:
                try:
                    listener(status.user_id)
                except Exception:  # a listener must not undo a committed change
                    logger.exception("agent-ready listener failed")
        if self._gauge is not None and old is not status.state:
            # exact for this process's own changes at once; the recount behind it (at most
            # once per GAUGE_RECOUNT_SECONDS) brings in other processes' changes
            if self._gauge.value(state=old.value) > 0:  # not yet counted: the recount fixes it
                self._gauge.dec(state=old.value)
            self._gauge.inc(state=status.state.value)
            self._gauge_changes += 1
        self._refresh_gauge()

    async def _publish(self, status: AgentStatus) -> None:
        try:
            await self._bus.publish(f"agent.{status.user_id}",
                                    {"type": "agent.state", **status.to_json()})
        except Exception:  # the change is persisted; a bus outage must not undo it
            logger.exception("could not publish the state of agent %s", status.user_id)

    def _arm(self, user_id: int, deadline: datetime) -> None:
        self._disarm(user_id)
        self._deadlines[user_id] = deadline
        self._timers[user_id] = asyncio.create_task(
            self._wrapup_done(user_id, deadline), name=f"wrap-up-{user_id}")

    def _disarm(self, user_id: int) -> None:
        self._deadlines.pop(user_id, None)
        task = self._timers.pop(user_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _wrapup_done(self, user_id: int, deadline: datetime) -> None:
        # The deadline is wall-clock time and the loop's timers run on its monotonic clock,
        # so a timer can fire before the wall clock gets there (a clock being slewed, a loop
        # that rounds timers to the millisecond, as uvloop does): the change below would
        # then find the wrap-up not yet due and leave the agent in it until the sweep,
        # seconds later. The rest is waited out.
        while (remaining := (deadline - utcnow()).total_seconds()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)   # a clock to wait for, not an event
        self._timers.pop(user_id, None)
        self._deadlines.pop(user_id, None)

        def still_due(row: store.AgentRow) -> Plan:
            # Another process, or the agent, may have ended the wrap-up already.
            due = row.wrapup_until
            if row.state == S.WRAP_UP.value and (due is None or due <= utcnow()):
                return S.READY, None
            return None
        try:
            await self._change(user_id, still_due, Cause.TIMER)
        except (StateConflict, NoSuchAgent) as exc:
            logger.debug("wrap-up timer of agent %s: %s", user_id, exc)
        except Exception:
            logger.exception("wrap-up timer of agent %s failed", user_id)

    def _refresh_gauge(self) -> None:
        if self._gauge is None:
            return
        self._gauge_dirty = True
        if self._gauge_task is None or self._gauge_task.done():
            self._gauge_task = asyncio.create_task(self._gauge_loop(), name="agents-gauge")

    async def _gauge_loop(self) -> None:
        # One count query however many changes arrived meanwhile, and at most one per
        # GAUGE_RECOUNT_SECONDS: under load every call moves its agent four times, and a
        # count per change would be a transaction per change on the call path's database.
        loop = asyncio.get_running_loop()
        while self._gauge_dirty:
            interval = min(GAUGE_RECOUNT_SECONDS, self._sweep_seconds)
            wait = self._gauge_counted_at + interval - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._gauge_dirty = False
            changes = self._gauge_changes
            self._gauge_counted_at = loop.time()
            try:
                async with store.transaction(self._sessions) as session:
                    counts = await store.counts(session)
            except Exception:
                logger.exception("could not count agents by state")
                return
            if changes != self._gauge_changes:
                # a local change landed while counting: the count may predate it
                self._gauge_dirty = True
                continue
            for state in AgentState:
                assert self._gauge is not None
                self._gauge.set(counts.get(state.value, 0), state=state.value)
