"""Call control on Stasis: one event-driven state machine per call.

Events from the ARI websocket and API requests are posted into the call's mailbox and run
one at a time for that call (a short-lived task drains the mailbox, so no task lives as
long as a call and calls never wait for each other). Timers (ring timeout, queue maximum
wait, recording grace) are ``loop.call_later`` handles that post into the same mailbox.

Ids: an inbound call's id is ``<app>:<caller channel id>``; an outbound one
``<app>:out-<hex>`` (":" never occurs in an application name, so two instances with their
own application names never mistake each other's calls). Every channel and bridge
callcontrol creates gets an id starting with the call id (agent legs ``-a<n>u<agent id>``,
the customer of a click-to-call ``-c``, the bridge ``-br``, supervision ``-s<n>``/``-v<n>``),
and originated channels enter Stasis with the arguments ``<kind>,<call id>``, so they are
told apart from new inbound calls, and after a restart the calls are found again from the
draft communications and the channels ARI still reports.

Inbound: ring indication; the look-up within ``lookup_budget_ms`` (else unknown, retried
for the record, then the draft communication) runs while the longest-idle ready agent is
reserved and rung (the pop goes out once both are known); agents one at a time, each for
``ring_timeout``; while nobody is free the caller is answered and hears music on hold,
and waiting callers, first come first served, get an agent the moment one of this process
becomes ready (and at every ``hunt_interval``, for agents other processes free); after
``queue_max_wait`` a message plays and the call is closed as missed with a callback
activity. Answer: caller and agent bridged, the bridge recorded as WAV, copied into the
RecordingStore when the call ends.

On the communication: ``category`` is the outcome (answered | missed | failed) and
``hangup_cause`` says why it ended: caller_hangup, agent_hangup, customer_hangup,
abandoned (caller left before an answer), queue_timeout, agent_no_answer / agent_busy /
agent_unreachable / agent_cancelled (click-to-call), customer_no_answer / customer_busy /
customer_unreachable, channels_lost (every channel vanished, e.g. a PBX restart),
ended_while_away (ended while callcontrol was down). Cause codes of ChannelHangupRequest are
never used (README lesson 6): Dial statuses and ChannelDestroyed causes are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from callcontrol.agents.states import AgentState, Cause, TransitionRefused
from callcontrol.ari import AriClient, EventStream
from callcontrol.ari import errors as ari_errors
from callcontrol.ari import events as ev
from callcontrol.ari.state import bind_metrics
from callcontrol.calls.model import ORIGINATED_KINDS, Call, Leg, Phase, Role
from callcontrol.calls.records import (
    Journal,
    Records,
    callback_op,
    contact_if_unset_op,
    draft_op,
    update_op,
)
from callcontrol.calls.store import RecordingStore
from callcontrol.config import Config
from callcontrol.crm.models.comms import call_direction, communication_direction
from callcontrol.crm.phones import normalise
from callcontrol.errors import ApiError
from callcontrol.logs import call_context

logger = logging.getLogger(__name__)
# An ended call's recording normally ends as its bridge empties; after this long it is
# stopped with a request (see CallControl._end).
RECORDING_STOP_AFTER = 0.5

# The ARI event types handle_event acts on (and the stream's ApplicationReplaced): the
# application's event filter lets only these through.
HANDLED_EVENTS = ("StasisStart", "StasisEnd", "ChannelDestroyed", "Dial",
                  "RecordingFinished", "RecordingFailed", "PlaybackFinished",
                  "ApplicationReplaced")

# Dial statuses / ChannelDestroyed causes -> why a ringing leg failed.
_DIALSTATUS = {"BUSY": "busy", "NOANSWER": "no_answer", "CONGESTION": "unreachable",
               "CHANUNAVAIL": "unreachable", "CANCEL": "cancelled"}
_CAUSES = {17: "busy", 19: "no_answer", 18: "no_answer", 21: "rejected", 34: "unreachable",
           1: "unreachable", 3: "unreachable", 27: "unreachable", 38: "unreachable"}


class CallError(Exception):
    """A call control request refused; ``kind`` is not_found | conflict | forbidden | bad."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _now() -> datetime:
    return datetime.now(UTC)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)[:150]


class CallControl:
    def __init__(self, config: Config, ari: AriClient, sessions: Any, agents: Any, pops: Any,
                 bus: Any, metrics: Any, recordings: RecordingStore, *,
                 hunt_interval: float = 0.5, ring_grace: float = 1.0,
                 recording_grace: float = 3.0, message_timeout: float = 15.0,
                 customer_ring_timeout: float = 30.0,
                 customer_endpoint: str | None = None,
                 transfer_endpoint: str | None = None,
                 message_media: str = "sound:vm-nobodyavail",
                 originate_timeout: int | None = None,
                 stream_options: dict[str, Any] | None = None,
                 direct: Any = None) -> None:
        self.config = config
        self.app = config.ari.app
        self.ari = ari
        self.records = Records(sessions, direct=direct)   # direct: crm.direct.Direct
        self.agents = agents
        self.pops = pops
        self.bus = bus
        self.metrics = metrics
        self.store = recordings
        self.ring_timeout = config.calls.ring_timeout
        self.queue_max_wait = config.calls.queue_max_wait
        self.lookup_budget = config.calls.lookup_budget_ms / 1000.0
        self.hunt_interval = hunt_interval
        self.ring_grace = ring_grace
        self.recording_grace = recording_grace
        self.message_timeout = message_timeout
        self.customer_ring_timeout = customer_ring_timeout
        # dial strings (config.calls; the keyword arguments override them)
        self.customer_endpoint = customer_endpoint or config.calls.customer_endpoint
        self.transfer_endpoint = transfer_endpoint or config.calls.transfer_endpoint
        self.message_media = message_media
        # ARI's own originate timeout is only a backstop behind our timers (whole seconds)
        self.originate_timeout = originate_timeout
        self.calls: dict[str, Call] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()   # recently ended call ids
        self._channels: dict[str, tuple[Call, Leg]] = {}
        self._recordings: dict[str, Call] = {}
        self._playbacks: dict[str, Call] = {}
        self._waiting: list[Call] = []
        self._hunt_timer: asyncio.TimerHandle | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._dispatch_again = False
        # an agent of this process who becomes ready is offered to waiting callers at once
        # (the hunt tick still finds those that other processes make ready)
        on_ready = getattr(agents, "on_ready", None)
        if on_ready is not None:
            on_ready(self._agent_ready)
        self._background: set[asyncio.Task[Any]] = set()
        self._agent_chain: dict[int, asyncio.Future[Any]] = {}
        self._retiring: set[Journal] = set()
        self.agent_wait = 0.0        # call steps do not wait for agent state changes (ordered)
        self._closing = False
        self.resyncs = 0
        self.stream = EventStream(config.ari, self.handle_event, on_resync=self._on_resync,
                                  inline=True, **(stream_options or {}))
        bind_metrics(self.stream.state, metrics)   # callcontrol_ari_connected, reconnects

    # --- life cycle ------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.stream.connected

    async def start(self) -> None:
        await self.stream.start()

    async def close(self, *, flush_timeout: float = 5.0) -> None:
        """Stop handling events; calls stay up on the PBX (a restart adopts them)."""
        self._closing = True
        await self.stream.close()
        if self._hunt_timer is not None:
            self._hunt_timer.cancel()
        if self._dispatcher is not None:
            self._dispatcher.cancel()
        for call in list(self.calls.values()):
            for handle in call.timers.values():
                handle.cancel()
            for leg in call.legs.values():
                if leg.timer is not None:
                    leg.timer.cancel()
        runners = [c.runner for c in self.calls.values() if c.runner and not c.runner.done()]
        if runners:
            await asyncio.wait(runners, timeout=flush_timeout)
        journals = [c.journal for c in self.calls.values()] + list(self._retiring)
        for journal in journals:   # what ended calls still have to write gets its chance
            await journal.flush(flush_timeout)
            journal.close()
        pending = [t for t in self._agent_chain.values() if not t.done()]
        if pending:   # agent state changes in flight get a moment to land
            await asyncio.wait(pending, timeout=flush_timeout)
        for task in list(self._background):
            task.cancel()
        await self.records.close()
        self._set_active()

    # --- event dispatch -----------------------------------------------------------------
    # (every type handle_event acts on is in HANDLED_EVENTS: the ARI event filter asks
    # for those only)

    async def handle_event(self, event: ev.Event) -> None:
        """The EventStream handler: route one event to its call's mailbox (never blocks)."""
        if self._closing:
            return
        if isinstance(event, ev.StasisStart):
            self._on_stasis_start(event)
        elif isinstance(event, ev.StasisEnd):
            self._post_leg(event.channel.id, self._leg_ended, "stasis_end", None, "")
        elif isinstance(event, ev.ChannelDestroyed):
            self._post_leg(event.channel.id, self._leg_ended, "destroyed", event.cause,
                           event.cause_txt)
        elif isinstance(event, ev.Dial):
            found = self._channels.get(event.peer.id)
            if found and event.dialstatus and not found[1].gone:
                found[1].dialstatus = event.dialstatus
        elif isinstance(event, (ev.RecordingFinished, ev.RecordingFailed)):
            call = self._recordings.get(event.recording.name)
            if call is not None:
                self._post(call, self._recording_finished, event.recording)
        elif isinstance(event, ev.PlaybackFinished):
            call = self._playbacks.pop(event.playback.id, None)
            if call is not None:
                self._post(call, self._message_done)
        elif isinstance(event, ev.ApplicationReplaced):
            logger.error("another process connected as ARI application %r: this one gets no "
                         "more events (give every instance its own CALLCONTROL_ARI_APP)",
                         self.app)

    def _on_stasis_start(self, event: ev.StasisStart) -> None:
        channel = event.channel
        known = self._channels.get(channel.id)
        if known is not None:
            self._post(known[0], self._leg_entered, known[1], event)
            return
        args = event.args
        if args and args[0] in ORIGINATED_KINDS:
            call_id = args[1] if len(args) > 1 else ""
            call = self.calls.get(call_id)
            if call is None:
                # one of ours from a call that no longer exists (e.g. before a restart)
                logger.warning("stray %s channel %s for unknown call %r: hanging up",
                               args[0], channel.id, call_id)
                self._spawn(self._hangup(channel.id))
                return
            leg = call.add_leg(Leg(channel.id, ORIGINATED_KINDS[args[0]]))
            self._channels[channel.id] = (call, leg)
            self._post(call, self._leg_entered, leg, event)
            return
        self._new_inbound(event)

    def _post_leg(self, channel_id: str, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        found = self._channels.get(channel_id)
        if found is not None:
            self._post(found[0], fn, found[1], *args)

    def _post(self, call: Call, fn: Callable[..., Awaitable[Any]], *args: Any,
              result: bool = False) -> asyncio.Future[Any] | None:
        """Queue ``fn(call, *args)`` in the call's mailbox; the future if ``result``."""
        loop = asyncio.get_running_loop()
        future = loop.create_future() if result else None
        call.mailbox.append((fn, args, future))
        if call.runner is None or call.runner.done():
            call.runner = loop.create_task(self._drain(call), name=f"call-{call.id}")
        return future

    async def _drain(self, call: Call) -> None:
        with call_context(call.id):
            while call.mailbox:
                fn, args, future = call.mailbox.popleft()
                try:
                    value = await fn(call, *args)
                except (CallError, ari_errors.AriError) as exc:
                    if future is not None and not future.done():
                        future.set_exception(exc)
                    else:
                        logger.warning("call step %s: %s", getattr(fn, "__name__", fn),
                                       getattr(exc, "message", exc))
                except Exception as exc:  # noqa: BLE001 - one bad step must not kill the call
                    logger.exception("call step %s failed", getattr(fn, "__name__", fn))
                    if future is not None and not future.done():
                        future.set_exception(exc)
                else:
                    if future is not None and not future.done():
                        future.set_result(value)

    def _timer(self, call: Call, name: str, delay: float,
               fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        call.cancel_timer(name)
        loop = asyncio.get_running_loop()
        call.timers[name] = loop.call_later(max(0.0, delay), self._post, call, fn, *args)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # --- small ARI helpers --------------------------------------------------------------

    async def _ari(self, what: str, coro: Awaitable[Any], *, quiet404: bool = True) -> Any:
        """Run one ARI request; log and swallow its failure (the call goes on)."""
        try:
            return await coro
        except ari_errors.NotFound:
            if not quiet404:
                logger.warning("%s: not found", what)
        except ari_errors.AriError as exc:
            logger.warning("%s failed: %s", what, exc)
        return None

    async def _hangup(self, channel_id: str) -> None:
        await self._ari(f"hang up {channel_id}", self.ari.channels.hangup(channel_id))

    def _ari_timeout(self, seconds: float) -> int:
        """ARI originate timeouts are whole seconds; ours fires first (this is a backstop)."""
        if self.originate_timeout is not None:
            return self.originate_timeout
        return max(1, math.ceil(seconds)) + 1

    def _register(self, call: Call, leg: Leg) -> Leg:
        call.add_leg(leg)
        self._channels[leg.id] = (call, leg)
        return leg

    # --- inbound ----------------------------------------------------------------------

    def _new_inbound(self, event: ev.StasisStart) -> None:
        channel = event.channel
        call_id = f"{self.app}:{channel.id}"
        if call_id in self.calls:
            return
        call = Call(id=call_id, direction="inbound", journal=Journal(self.records, call_id),
                    started_at=event.timestamp or _now())
        call.stasis_start_at = event.timestamp
        call.looked_up = False
        call.customer = self._register(call, Leg(channel.id, Role.CUSTOMER, in_stasis=True))
        call.customer_answered = channel.state == "Up"
        self.calls[call_id] = call
        self._set_active()
        self._post(call, self._start_inbound, event)

    async def _start_inbound(self, call: Call, event: ev.StasisStart) -> None:
        channel = event.channel
        raw = channel.caller.number if channel.caller else ""
        call.caller_number = raw or None
        call.e164 = normalise(raw, self.config.default_region)
        if event.args and event.args[0] == "inbound" and len(event.args) > 1:
            call.called_number = event.args[1][:32] or None
        logger.info("inbound call from %r (%s) args=%s", raw, call.e164 or "unknown",
                    ",".join(event.args))
        if not call.customer_answered:
            # sent alongside the look-up and the hunt, not before them (one ARI round trip
            # less before the pop); whatever answers the caller waits for it first
            call.ringing = asyncio.ensure_future(
                self._ari("ring", self.ari.channels.ring(call.customer_leg.id)))
            self._background.add(call.ringing)
            call.ringing.add_done_callback(self._background.discard)
        self.queue_deadline(call, self.queue_max_wait)
        call.phase = Phase.QUEUED
        # the agent is reserved and rung while the caller is looked up; the pop goes out
        # once both are known (whichever comes last sends it)
        hunt = asyncio.ensure_future(self._hunt(call))
        try:
            await self._lookup(call)
        finally:
            call.looked_up = True
        # an agent reserved meanwhile is popped now, while their phone is being rung
        pop = self._pop_when_known(call, call.agent)
        self._write_draft(call)
        await hunt
        if pop is not None:
            await pop

    async def _answer_caller(self, call: Call) -> None:
        """Answer the caller, after the ring indication sent for them, if it is in flight."""
        if call.ringing is not None:
            await call.ringing
            call.ringing = None
        await self._ari("answer", self.ari.channels.answer(call.customer_leg.id))
        call.customer_answered = True

    def queue_deadline(self, call: Call, wait: float) -> None:
        loop = asyncio.get_running_loop()
        call.queue_deadline = loop.time() + wait
        self._timer(call, "queue", wait, self._queue_timeout)

    async def _lookup(self, call: Call) -> None:
        """Contacts for the caller's number within the budget; else unknown, retried later."""
        if call.e164 is None:
            return
        task = asyncio.ensure_future(self.records.lookup(call.e164))
        try:
            matches = await asyncio.wait_for(asyncio.shield(task), self.lookup_budget)
        except TimeoutError:
            logger.warning("caller look-up over its %.0f ms budget: continuing as unknown",
                           self.lookup_budget * 1000)
            self._spawn(self._late_lookup(call, task))
            return
        except Exception as exc:  # noqa: BLE001 - the database may be away
            logger.warning("caller look-up failed (%s): continuing as unknown", exc)
            self._spawn(self._late_lookup(call, None))
            return
        self._set_contacts(call, matches)

    def _set_contacts(self, call: Call, matches: list[Any]) -> None:
        call.contacts = list(matches)
        if len(matches) == 1:
            call.contact_id = matches[0].id

    async def _late_lookup(self, call: Call, task: asyncio.Future[Any] | None) -> None:
        with call_context(call.id):
            delay = 0.1
            for _attempt in range(20):
                try:
                    matches = await task if task is not None else await self.records.lookup(
                        call.e164 or "")
                    break
                except Exception as exc:  # noqa: BLE001
                    logger.warning("late look-up failed (%s); retrying", exc)
                    task = None
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
            else:
                return
            logger.info("late look-up found %d contact(s)", len(matches))
            if len(matches) == 1 and call.contact_id is None:
                call.contact_id = matches[0].id
                call.journal.submit(contact_if_unset_op(call.id, matches[0].id))
            if not call.contacts:
                call.contacts = list(matches)

    def _write_draft(self, call: Call) -> asyncio.Future[Any]:
        if call.direction == "inbound":
            subject = f"Incoming call from {call.e164 or call.caller_number or 'unknown number'}"
        else:
            subject = f"Outgoing call to {call.called_number}"
        future = call.journal.submit(draft_op(call.id, {
            "direction": communication_direction(call.direction), "subject": subject[:200],
            "caller_number": (call.caller_number or None) and call.caller_number[:32],
            "called_number": call.called_number, "contact_id": call.contact_id,
            "agent_id": call.agent_id if call.direction == "outbound" else None,
            "started_at": call.started_at,
        }))

        def done(f: asyncio.Future[Any]) -> None:
            if not f.cancelled() and f.exception() is None:
                call.comm_id = f.result()
        future.add_done_callback(done)
        return future

    # --- hunting for an agent -----------------------------------------------------------

    async def _hunt(self, call: Call) -> None:
        """Offer the call to the longest-idle ready agent, or queue it (first come first)."""
        if call.phase is not Phase.QUEUED:
            return
        if any(c is not call and c.phase is Phase.QUEUED for c in self._waiting) or \
                not self.connected:
            # others wait longer (the dispatcher decides), or no events reach us now: an
            # agent rung meanwhile could not be seen answering
            await self._wait_in_queue(call)
            return
        agent = await self._reserve(call)
        if agent is None:
            await self._wait_in_queue(call)
            return
        await self._offer(call, agent)

    async def _reserve(self, call: Call) -> Any:
        try:
            return await self.agents.reserve(exclude=tuple(call.tried))
        except Exception as exc:  # noqa: BLE001 - database away: try again on the next tick
            logger.warning("agent reservation failed (%s)", exc)
            return None

    async def _offer(self, call: Call, agent: Any) -> None:
        """Ring the reserved agent, unless the call went on meanwhile (then free them)."""
        if call.phase is not Phase.QUEUED:
            await self._agent_call("ring_cancelled", agent.user_id)
            return
        if not agent.device:
            logger.warning("agent %s has no device; skipping", agent.user_id)
            call.tried.add(agent.user_id)
            await self._agent_call("ring_failed", agent.user_id, "no device")
            await self._hunt(call)
            return
        await self._ring_agent(call, agent.user_id, agent.device)

    async def _wait_in_queue(self, call: Call) -> None:
        """No agent free: answer the caller and play music on hold until one is."""
        if call not in self._waiting:
            self._waiting.append(call)
        await self._ensure_bridge(call)
        if not call.customer_answered:
            await self._answer_caller(call)
        if not call.customer_leg.in_bridge:
            await self._ari("add caller to bridge",
                            self.ari.bridges.add_channel(call.bridge_id, call.customer_leg.id))
            call.customer_leg.in_bridge = True
        if not call.moh:
            await self._ari("music on hold", self.ari.bridges.start_moh(call.bridge_id))
            call.moh = True
        self._schedule_hunt()

    def _schedule_hunt(self) -> None:
        if self._hunt_timer is None and self._waiting and not self._closing:
            loop = asyncio.get_running_loop()
            self._hunt_timer = loop.call_later(self.hunt_interval, self._hunt_tick)

    def _hunt_tick(self) -> None:
        self._hunt_timer = None
        self._start_dispatcher()

    def _start_dispatcher(self) -> bool:
        """Start the dispatcher unless it is running (then False)."""
        if self._dispatcher is not None and not self._dispatcher.done():
            return False
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())
        return True

    def _agent_ready(self, user_id: int) -> None:
        """An agent became ready here: callers waiting get them now, not at the next tick
        (up to ``hunt_interval`` later, with every new caller queued behind meanwhile)."""
        self._dispatch_waiting()

    def _dispatch_waiting(self) -> None:
        if not self._waiting or self._closing:
            return
        if not self._start_dispatcher():
            # the running one may have found nobody already: once more after it
            self._dispatch_again = True

    async def _dispatch(self) -> None:
        """Waiting calls in arrival order get the agents that became ready, one each."""
        try:
            if not self.connected:
                return
            for call in list(self._waiting):
                if call.phase is not Phase.QUEUED:
                    with contextlib.suppress(ValueError):
                        self._waiting.remove(call)
                    continue
                with call_context(call.id):
                    agent = await self._reserve(call)
                if agent is None:
                    break
                with contextlib.suppress(ValueError):
                    self._waiting.remove(call)
                self._post(call, self._offer, agent)
        finally:
            self._waiting = [c for c in self._waiting if c.phase is Phase.QUEUED]
            if self._dispatch_again:
                self._dispatch_again = False
                asyncio.get_running_loop().call_soon(self._dispatch_waiting)
            self._schedule_hunt()

    async def _ensure_bridge(self, call: Call) -> None:
        if call.bridge_made:
            return
        with contextlib.suppress(ari_errors.Conflict):  # already there (adopted call)
            await self.ari.bridges.create(type="mixing", bridge_id=call.bridge_id,
                                          name=call.id[:80])
        call.bridge_made = True

    async def _ring_agent(self, call: Call, agent_id: int | None, device: str) -> None:
        call.attempts += 1
        suffix = f"u{agent_id}" if agent_id is not None else ""
        leg = self._register(call, Leg(f"{call.id}-a{call.attempts}{suffix}", Role.AGENT,
                                       endpoint=device, agent_id=agent_id))
        call.agent = leg
        call.phase = Phase.RINGING
        if call in self._waiting:
            self._waiting.remove(call)
        number = call.e164 or call.caller_number or ""
        name = call.contacts[0].name if len(call.contacts) == 1 else ""
        # the pop goes out alongside the originate, not after its answer (one ARI round
        # trip less before the pop); if the caller is still being looked up, the look-up
        # sends it when it ends
        pop = self._pop_when_known(call, leg)
        try:
            await self.ari.channels.originate(
                device, app=self.app, app_args=f"agent,{call.id}",
                caller_id=_caller_id(name, number), timeout=self._ari_timeout(self.ring_timeout),
                channel_id=leg.id, other_channel_id=f"{leg.id}b")
        except ari_errors.AriError as exc:
            logger.warning("ringing agent %s on %s failed: %s", agent_id, device, exc)
            leg.gone = True
            call.agent = None
            call.phase = Phase.QUEUED
            if agent_id is not None:
                call.tried.add(agent_id)
                await self._agent_call("ring_failed", agent_id, "unreachable")
                if pop is not None:
                    await pop
                await self._pop_closed(call, agent_id, "unreachable")
            await self._hunt(call)
            return
        logger.info("ringing agent %s on %s (leg %s)", agent_id, device, leg.id)
        loop = asyncio.get_running_loop()
        leg.timer = loop.call_later(self.ring_timeout, self._post, call, self._ring_timed_out, leg)
        if pop is not None:
            await pop

    def _pop_when_known(self, call: Call, leg: Leg | None) -> asyncio.Future[None] | None:
        """Pop the agent of ``leg`` once the caller is looked up and the agent is being rung
        (whichever comes last calls this with both known); once per agent and call."""
        if leg is None or leg.agent_id is None or leg.gone or not call.looked_up \
                or call.phase is not Phase.RINGING or call.agent is not leg \
                or leg.agent_id in call.pop_sent:
            return None
        call.pop_sent.add(leg.agent_id)
        return asyncio.ensure_future(self._pop(call, leg.agent_id))

    async def _pop(self, call: Call, agent_id: int) -> None:
        payload = self.pop_payload(call)
        try:
            await self.pops.ringing(agent_id, payload)
        except Exception as exc:  # noqa: BLE001 - the pop must never hold the call
            logger.warning("screen pop for agent %s failed: %s", agent_id, exc)
            return
        call.popped.add(agent_id)
        if getattr(self.pops, "_pops_total", None) is None:  # the desk's PopService counts
            self.metrics.counter("callcontrol_pops_total").inc()
        if call.stasis_start_at is not None:
            latency = (_now() - call.stasis_start_at).total_seconds()
            self.metrics.histogram("callcontrol_pop_latency_seconds").observe(max(0.0, latency))

    def pop_payload(self, call: Call) -> dict[str, Any]:
        try:
            from callcontrol.desk.pops import contact_payload
        except ImportError:  # pragma: no cover - the desk package is wired in the app
            contact_payload = _contact_payload
        return {
            "call_id": call.id, "communication_id": call.comm_id, "direction": call.direction,
            "caller": {"number": call.caller_number if call.direction == "inbound"
                       else call.called_number, "e164": call.e164},
            "contacts": [contact_payload(m) for m in call.contacts],
            "started_at": call.started_at.isoformat(),
        }

    async def _ring_timed_out(self, call: Call, leg: Leg) -> None:
        if leg.gone or leg.in_stasis or call.agent is not leg:
            return
        logger.info("agent leg %s did not answer within %.1fs", leg.id, self.ring_timeout)
        leg.fail_reason = "no_answer"
        await self._hangup(leg.id)
        # ChannelDestroyed follows; if it is lost, the grace timer ends the leg anyway
        loop = asyncio.get_running_loop()
        leg.timer = loop.call_later(self.ring_grace, self._post, call, self._leg_ended, leg,
                                    "timeout", 19, "no answer")

    async def _queue_timeout(self, call: Call) -> None:
        if call.phase not in (Phase.QUEUED, Phase.RINGING, Phase.NEW):
            return
        logger.info("nobody answered within the queue's maximum wait")
        if call in self._waiting:
            self._waiting.remove(call)
        if call.phase is Phase.RINGING and call.agent is not None:
            leg = call.agent
            leg.released = True
            call.agent = None
            await self._hangup(leg.id)
            await self._release_ringing_agent(call, leg, "expired")
        call.phase = Phase.MESSAGE
        call.pending_end = ("missed", "queue_timeout")
        if not call.customer_answered:
            await self._answer_caller(call)
        if call.moh and call.bridge_made:
            await self._ari("stop moh", self.ari.bridges.stop_moh(call.bridge_id))
            call.moh = False
        playback_id = f"{call.id}-msg"
        self._playbacks[playback_id] = call
        played = await self._ari("play message", self.ari.channels.play(
            call.customer_leg.id, self.message_media, playback_id=playback_id))
        self._timer(call, "message", self.message_timeout if played else 0.0, self._message_done)

    async def _message_done(self, call: Call) -> None:
        call.cancel_timer("message")
        if call.phase is Phase.MESSAGE and call.customer and not call.customer.gone:
            await self._hangup(call.customer.id)

    async def _release_ringing_agent(self, call: Call, leg: Leg, reason: str) -> None:
        """A ringing agent who did nothing wrong (caller left, queue expired): ready again."""
        if leg.agent_id is None:
            return
        await self._agent_call("ring_cancelled", leg.agent_id)
        await self._pop_closed(call, leg.agent_id, reason)

    async def _pop_closed(self, call: Call, agent_id: int, reason: str) -> None:
        if agent_id not in call.popped:
            return
        try:
            await self.pops.closed(agent_id, call.id, reason)
        except Exception as exc:  # noqa: BLE001
            logger.warning("closing the pop of agent %s failed: %s", agent_id, exc)

    # --- legs entering Stasis -------------------------------------------------------------

    async def _leg_entered(self, call: Call, leg: Leg, event: ev.StasisStart) -> None:
        leg.in_stasis = True
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        if call.phase in (Phase.ENDING, Phase.ENDED) or leg.released:
            await self._hangup(leg.id)
            return
        if leg.role is Role.AGENT:
            if call.agent is not leg:
                logger.info("late answer on %s: hanging up", leg.id)
                leg.released = True
                await self._hangup(leg.id)
                return
            if call.direction == "outbound" and call.phase is Phase.RINGING:
                await self._outbound_agent_answered(call, leg)
            else:
                await self._agent_answered(call, leg)
        elif leg.role is Role.CUSTOMER and call.direction == "outbound":
            await self._customer_answered(call, leg)
        elif leg.role is Role.SUPERVISOR:
            await self._supervisor_answered(call, leg)
        elif leg.role is Role.SNOOP:
            pass  # joins the supervision bridge when the supervisor answers

    async def _agent_answered(self, call: Call, leg: Leg) -> None:
        if call.phase is not Phase.RINGING or call.customer is None or call.customer.gone:
            leg.released = True
            await self._hangup(leg.id)
            return
        logger.info("agent %s answered", leg.agent_id)
        call.cancel_timer("queue")
        await self._ensure_bridge(call)
        if not call.customer_answered:
            await self._answer_caller(call)
        if call.moh:
            await self._ari("stop moh", self.ari.bridges.stop_moh(call.bridge_id))
            call.moh = False
        joining = [leg.id] if call.customer.in_bridge else [call.customer.id, leg.id]
        try:
            await self.ari.bridges.add_channel(call.bridge_id, joining)
        except ari_errors.AriError as exc:
            # the caller went away meanwhile: their StasisEnd (queued) ends the call
            logger.warning("bridging the agent failed: %s", exc)
            return
        call.customer.in_bridge = leg.in_bridge = True
        first = call.answered_at is None
        call.phase = Phase.CONNECTED
        call.agent_id = leg.agent_id
        if first:
            call.answered_at = _now()
            call.first_agent_id = leg.agent_id
            call.journal.submit(update_op(call.id, {"answered_at": call.answered_at,
                                                    "agent_id": leg.agent_id}))
        else:
            self._record_transfer_outcome(call, "answered")
        await self._start_recording(call)
        if leg.agent_id is not None:
            await self._agent_call("answered", leg.agent_id)
            await self._pop_event("answered", leg.agent_id, call)

    async def _start_recording(self, call: Call) -> None:
        if call.recording is not None:
            return
        name = _safe_name(call.id)
        self._recordings[name] = call
        try:
            await self.ari.bridges.record(call.bridge_id, name, format="wav",
                                          if_exists="overwrite")
        except ari_errors.AriError as exc:
            logger.error("recording the call failed: %s", exc)
            self._recordings.pop(name, None)
            return
        call.recording = name      # on the record when the call ends (one write less)
        call.recording_state = "recording"

    # --- legs ending ------------------------------------------------------------------

    async def _leg_ended(self, call: Call, leg: Leg, how: str, cause: int | None,
                         cause_txt: str) -> None:
        if cause is not None and leg.cause is None:
            leg.cause, leg.cause_txt = cause, cause_txt
        if leg.gone:
            return
        leg.gone = True
        if leg.timer is not None:
            leg.timer.cancel()
            leg.timer = None
        if call.phase in (Phase.ENDING, Phase.ENDED):
            return
        logger.info("leg %s (%s) ended: %s cause=%s %s dialstatus=%s", leg.id, leg.role.value,
                    how, cause, cause_txt, leg.dialstatus)
        if leg.role is Role.CUSTOMER:
            await self._customer_gone(call, leg)
        elif leg.role is Role.AGENT:
            if leg.released or call.agent is not leg:
                return
            await self._agent_gone(call, leg)
        elif leg.role in (Role.SUPERVISOR, Role.SNOOP):
            await self._supervision_leg_gone(call, leg)

    async def _customer_gone(self, call: Call, leg: Leg) -> None:
        if call.pending_end is not None:
            await self._end(call, *call.pending_end)
        elif call.phase is Phase.CONNECTED:
            cause = "caller_hangup" if call.direction == "inbound" else "customer_hangup"
            await self._end(call, "answered", cause)
        elif call.direction == "inbound":
            await self._end(call, "missed", "abandoned")
        elif not leg.in_stasis:
            await self._end(call, "failed", "customer_" + _failure(leg))
        else:
            await self._end(call, "failed", "customer_hangup")

    async def _agent_gone(self, call: Call, leg: Leg) -> None:
        if call.phase is Phase.CONNECTED or (leg.in_stasis and call.answered_at is not None):
            await self._end(call, "answered", "agent_hangup")
            return
        call.agent = None
        reason = _failure(leg)
        if call.direction == "outbound":
            if leg.in_stasis:   # the agent gave up while the customer was ringing
                await self._end(call, "failed", "agent_hangup")
            else:
                if leg.agent_id is not None:
                    await self._agent_call("ring_cancelled", leg.agent_id)
                await self._end(call, "failed", "agent_" + reason)
            return
        # inbound: ring failed (no answer / busy / rejected): the next agent
        if leg.in_stasis:   # answered, then hung up before the caller was with them
            reason = "hung_up"
        logger.info("agent %s did not take the call (%s): trying the next", leg.agent_id,
                    reason)
        if leg.agent_id is not None:
            call.tried.add(leg.agent_id)     # not offered this call again
            if leg.in_stasis:
                await self._agent_call("call_ended", leg.agent_id)
            else:
                await self._agent_call("ring_failed", leg.agent_id, reason.replace("_", " "))
            await self._pop_closed(call, leg.agent_id, reason)
        if call.transfers and call.transfers[-1].get("outcome") == "ringing":
            self._record_transfer_outcome(call, reason)
        call.phase = Phase.QUEUED
        if call.queue_deadline is None or asyncio.get_running_loop().time() >= \
                call.queue_deadline:
            self.queue_deadline(call, self.queue_max_wait)
        await self._hunt(call)

    # --- ending -----------------------------------------------------------------------

    async def _end(self, call: Call, outcome: str, cause: str) -> None:
        """Both sides down: hang up what is left, stop recording, then finalise."""
        if call.phase in (Phase.ENDING, Phase.ENDED):
            return
        previous = call.phase
        call.phase = Phase.ENDING
        call.outcome, call.hangup_cause = outcome, cause
        call.ended_at = _now()
        logger.info("call ending: %s (%s)", outcome, cause)
        for name in list(call.timers):
            call.cancel_timer(name)
        for leg in call.legs.values():
            if leg.timer is not None:
                leg.timer.cancel()
                leg.timer = None
        if call in self._waiting:
            self._waiting.remove(call)
        for leg in call.live_legs():
            leg.released = True
            await self._hangup(leg.id)
        # agents
        if call.agent is not None and call.agent.agent_id is not None:
            if previous is Phase.RINGING and not call.agent.in_stasis:
                await self._release_ringing_agent(call, call.agent, cause)
            else:
                await self._agent_call("call_ended", call.agent.agent_id)
                await self._pop_event("ended", call.agent.agent_id, call)
        elif call.direction == "outbound" and call.agent_id is not None \
                and call.agent is None and previous is not Phase.RINGING:
            await self._agent_call("call_ended", call.agent_id)
        if call.supervisor:
            await self._ari("destroy supervision bridge",
                            self.ari.bridges.destroy(call.supervisor["bridge_id"]))
        if call.recording and call.recording_state in ("recording", "paused"):
            if call.recording_state == "paused" and call.pauses and \
                    call.pauses[-1].get("end") is None:
                call.pauses[-1]["end"] = call.ended_at.isoformat()
            # Every leg is hung up, so the bridge empties, and an emptied bridge ends its
            # recording by itself (RecordingFinished, as the recorded Asterisk does): the
            # stop request goes out only if that has not come by then (a leg that would
            # not hang up), one ARI request a call less
            self._timer(call, "recording", min(RECORDING_STOP_AFTER, self.recording_grace),
                        self._stop_recording)
        else:
            await self._finalise(call)

    async def _stop_recording(self, call: Call) -> None:
        if call.phase is not Phase.ENDING or call.recording_state not in ("recording",
                                                                          "paused"):
            return
        logger.info("the recording did not end with the bridge: stopping it")
        await self._ari("stop recording", self.ari.recordings.stop(call.recording or ""))
        self._timer(call, "recording", self.recording_grace, self._finalise)

    async def _recording_finished(self, call: Call, recording: Any) -> None:
        call.recording_state = "done"
        if call.phase is Phase.ENDING:
            await self._finalise(call)

    async def _finalise(self, call: Call) -> None:
        if call.phase is Phase.ENDED:
            return
        call.cancel_timer("recording")
        call.phase = Phase.ENDED
        if call.bridge_made:
            await self._ari("destroy bridge", self.ari.bridges.destroy(call.bridge_id))
        if call.recording:
            call.recording_saved = await self._copy_recording(call.recording)
            self._recordings.pop(call.recording, None)
        await self._complete_record(call)
        self._forget(call)

    async def _copy_recording(self, name: str) -> bool:
        for attempt in range(3):
            try:
                data = await self.ari.recordings.download(name)
                await self.store.save(name, data)
                logger.info("recording %s copied (%d bytes)", name, len(data))
                return True
            except ari_errors.NotFound:
                logger.warning("recording %s not stored on the PBX (attempt %d)", name,
                               attempt + 1)
                if attempt >= 1:
                    return False
            except (ari_errors.AriError, OSError) as exc:
                logger.warning("copying recording %s failed: %s", name, exc)
            await asyncio.sleep(0.2 * (attempt + 1))
        return False

    async def _complete_record(self, call: Call) -> None:
        ended = call.ended_at or _now()
        duration = 0
        if call.answered_at is not None:
            duration = max(0, round((ended - call.answered_at).total_seconds()))
        fields: dict[str, Any] = {
            "state": "completed", "ended_at": ended, "duration_seconds": duration,
            "hangup_cause": call.hangup_cause, "category": call.outcome,
            "recording": call.recording if call.recording_saved else None,
            "recording_pauses": list(call.pauses) or None,
            "transfers": list(call.transfers) or None,
        }
        if call.outcome == "missed":
            number = call.e164 or call.caller_number or "unknown number"
            fields["subject"] = f"Missed call from {number}"[:200]
            call.journal.submit(callback_op(call.id, call.contact_id, call.e164 or
                                            call.caller_number, ended))
        call.journal.submit(update_op(call.id, fields))
        self.metrics.counter("callcontrol_calls_total").inc(
            direction=call.direction, outcome=call.outcome or "unknown")

    def _forget(self, call: Call) -> None:
        self.calls.pop(call.id, None)
        for leg_id in list(call.legs):
            found = self._channels.get(leg_id)
            if found and found[0] is call:
                del self._channels[leg_id]
        for key in [k for k, c in self._playbacks.items() if c is call]:
            del self._playbacks[key]
        self.ended[call.id] = call.outcome or ""
        while len(self.ended) > 1000:
            self.ended.popitem(last=False)
        self._set_active()
        # an ended call's last writes are still going out: close() flushes them too
        journal = call.journal
        if not journal.idle:
            self._retiring.add(journal)
            journal.when_written(lambda: self._retiring.discard(journal))

    def _set_active(self) -> None:
        self.metrics["callcontrol_calls_active"].set(len(self.calls))

    # --- outbound (click-to-call) ---------------------------------------------------------

    async def originate(self, user_id: int, *, number: str | None = None,
                        contact_id: int | None = None, timeout: float = 5.0) -> dict[str, Any]:
        """Click-to-call for an agent: ring their device, then dial the customer."""
        contact_name = ""
        if contact_id is not None:
            contact, e164 = await self.records.contact_phone(contact_id)
            if contact is None:
                raise CallError("not_found", f"no contact {contact_id}")
            if e164 is None:
                raise CallError("bad", f"contact {contact_id} has no valid phone number")
            contact_name = contact.display_name
        else:
            e164 = normalise(number, self.config.default_region)
            if e164 is None:
                raise CallError("bad", f"not a valid phone number: {number!r}")
            contact_id, contact_name = await self._owner_of(e164)
        try:
            agent = await self.agents.reserve_for_outbound(user_id)
        except Exception as exc:  # the service says why (not logged in, on a call, ...)
            raise CallError("conflict", f"cannot call now: {exc}") from exc
        if agent is None or not getattr(agent, "device", None):
            if agent is not None:
                await self._agent_call("ring_cancelled", user_id)
            raise CallError("conflict", "you have no telephone device configured")
        call_id = f"{self.app}:out-{uuid.uuid4().hex[:16]}"
        call = Call(id=call_id, direction="outbound", journal=Journal(self.records, call_id),
                    started_at=_now())
        call.caller_number = self.config.calls.outbound_caller_id or None
        call.called_number = e164
        call.e164 = e164
        call.contact_id = contact_id
        call.agent_id = user_id
        call.first_agent_id = user_id
        if contact_id is not None:
            call.contacts = []
        self.calls[call_id] = call
        self._set_active()
        draft = self._write_draft(call)
        future = self._post(call, self._outbound_ring_agent, agent.device, contact_name,
                            result=True)
        assert future is not None
        await future
        try:
            await asyncio.wait_for(asyncio.shield(draft), timeout)
        except TimeoutError:
            logger.warning("draft communication not written yet (database slow)")
        except Exception as exc:  # noqa: BLE001 - the journal logged it; the call goes on
            logger.error("draft communication not written: %s", exc)
        return call.snapshot()

    async def _owner_of(self, e164: str) -> tuple[int | None, str]:
        """The one contact owning a dialled number, to link the call to (none when 0 or
        several own it, or the look-up is slow or failing: the call never waits for it)."""
        try:
            matches = await asyncio.wait_for(self.records.lookup(e164), self.lookup_budget)
        except Exception as exc:  # noqa: BLE001 - TimeoutError or the database away
            logger.warning("look-up of the dialled number failed (%s): not linked", exc)
            return None, ""
        if len(matches) == 1:
            return matches[0].id, matches[0].name
        return None, ""

    async def _outbound_ring_agent(self, call: Call, device: str, name: str) -> None:
        leg = self._register(call, Leg(f"{call.id}-a1u{call.agent_id}", Role.AGENT,
                                       endpoint=device, agent_id=call.agent_id))
        call.agent = leg
        call.phase = Phase.RINGING
        try:
            await self.ari.channels.originate(
                device, app=self.app, app_args=f"outbound-agent,{call.id}",
                caller_id=_caller_id(name or "Call", call.called_number or ""),
                timeout=self._ari_timeout(self.ring_timeout), channel_id=leg.id,
                other_channel_id=f"{leg.id}b")
        except ari_errors.AriError as exc:
            logger.warning("ringing the agent's device %s failed: %s", device, exc)
            leg.gone = True
            call.agent = None
            await self._agent_call("ring_cancelled", call.agent_id)
            call.phase = Phase.RINGING
            await self._end(call, "failed", "agent_unreachable")
            return
        loop = asyncio.get_running_loop()
        leg.timer = loop.call_later(self.ring_timeout, self._post, call, self._ring_timed_out, leg)

    async def _outbound_agent_answered(self, call: Call, leg: Leg) -> None:
        logger.info("agent answered; dialling %s", call.called_number)
        await self._agent_call("answered", leg.agent_id)
        await self._ensure_bridge(call)
        await self.ari.bridges.add_channel(call.bridge_id, leg.id)
        leg.in_bridge = True
        await self._ari("ring agent", self.ari.channels.ring(leg.id))
        call.phase = Phase.DIALING
        customer = self._register(call, Leg(f"{call.id}-c", Role.CUSTOMER))
        call.customer = customer
        endpoint = self.customer_endpoint.format(number=call.called_number)
        try:
            await self.ari.channels.originate(
                endpoint, app=self.app, app_args=f"customer,{call.id}",
                caller_id=self.config.calls.outbound_caller_id or None,
                timeout=self._ari_timeout(self.customer_ring_timeout), channel_id=customer.id,
                other_channel_id=f"{customer.id}b")
        except ari_errors.AriError as exc:
            logger.warning("dialling the customer failed: %s", exc)
            customer.gone = True
            customer.fail_reason = "unreachable"
            await self._end(call, "failed", "customer_unreachable")
            return
        loop = asyncio.get_running_loop()
        customer.timer = loop.call_later(self.customer_ring_timeout, self._post, call,
                                         self._customer_timed_out, customer)

    async def _customer_timed_out(self, call: Call, leg: Leg) -> None:
        if leg.gone or leg.in_stasis:
            return
        leg.fail_reason = "no_answer"
        await self._hangup(leg.id)
        loop = asyncio.get_running_loop()
        leg.timer = loop.call_later(self.ring_grace, self._post, call, self._leg_ended, leg,
                                    "timeout", 19, "no answer")

    async def _customer_answered(self, call: Call, leg: Leg) -> None:
        if call.phase is not Phase.DIALING or call.agent is None or call.agent.gone:
            leg.released = True
            await self._hangup(leg.id)
            return
        logger.info("customer answered")
        await self._ari("stop ringing", self.ari.channels.ring_stop(call.agent.id))
        await self.ari.bridges.add_channel(call.bridge_id, leg.id)
        leg.in_bridge = True
        call.customer_answered = True
        call.phase = Phase.CONNECTED
        call.answered_at = _now()
        call.journal.submit(update_op(call.id, {"answered_at": call.answered_at}))
        await self._start_recording(call)

    # --- mid-call controls (API) ----------------------------------------------------------

    async def control(self, call_id: str, user: Any, action: str,
                      params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one mid-call control for ``user``; raises CallError (404/403/409/400)."""
        call = self.calls.get(call_id)
        if call is None:
            if call_id in self.ended:
                raise CallError("conflict", "the call has ended")
            raise CallError("not_found", f"no call {call_id}")
        name = _CONTROLS.get(action)
        if name is None:
            raise CallError("not_found", f"unknown action {action!r}")
        future = self._post(call, getattr(self, name), user, params or {}, result=True)
        assert future is not None
        try:
            return await future
        except ari_errors.AriError as exc:
            raise CallError("conflict", f"the PBX refused: {exc.message or exc}") from exc

    def get(self, call_id: str, user: Any) -> dict[str, Any]:
        call = self.calls.get(call_id)
        if call is None:
            raise CallError("not_found", f"no call {call_id}")
        _authorise(call, user, supervisor_ok=True)
        return call.snapshot()

    def list_for(self, user: Any) -> list[dict[str, Any]]:
        supervisor = getattr(user, "role", None) in ("supervisor", "admin")
        return [c.snapshot() for c in self.calls.values()
                if supervisor or c.agent_id == user.id]

    async def _ctl_hold(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        if call.held:
            raise CallError("conflict", "the call is already on hold")
        await self.ari.channels.hold(call.customer_leg.id)
        await self.ari.channels.start_moh(call.customer_leg.id)
        call.held = True
        return call.snapshot()

    async def _ctl_unhold(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        if not call.held:
            raise CallError("conflict", "the call is not on hold")
        await self._ari("stop moh", self.ari.channels.stop_moh(call.customer_leg.id))
        await self._ari("unhold", self.ari.channels.unhold(call.customer_leg.id))
        call.held = False
        return call.snapshot()

    async def _ctl_mute(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        if call.muted:
            raise CallError("conflict", "the agent is already muted")
        await self.ari.channels.mute(call.agent_leg.id, direction="in")
        call.muted = True
        return call.snapshot()

    async def _ctl_unmute(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        if not call.muted:
            raise CallError("conflict", "the agent is not muted")
        await self.ari.channels.unmute(call.agent_leg.id, direction="in")
        call.muted = False
        return call.snapshot()

    async def _ctl_hangup(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        if call.phase in (Phase.ENDING, Phase.ENDED):
            raise CallError("conflict", "the call is already ending")
        if call.phase is Phase.CONNECTED:
            cause = "agent_hangup"
            outcome = "answered"
        else:
            cause = "agent_cancelled"
            outcome = "failed" if call.direction == "outbound" else "missed"
        await self._end(call, outcome, cause)
        return call.snapshot()

    async def _ctl_pause(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        if call.recording_state != "recording":
            raise CallError("conflict", "the call is not being recorded")
        await self.ari.recordings.pause(call.recording or "")
        call.recording_state = "paused"
        call.pauses.append({"start": _now().isoformat(), "end": None,
                            "by": getattr(user, "id", None)})
        call.journal.submit(update_op(call.id, {"recording_pauses": list(call.pauses)}))
        return call.snapshot()

    async def _ctl_resume(self, call: Call, user: Any, params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        if call.recording_state != "paused":
            raise CallError("conflict", "the recording is not paused")
        await self.ari.recordings.unpause(call.recording or "")
        call.recording_state = "recording"
        call.pauses[-1]["end"] = _now().isoformat()
        call.journal.submit(update_op(call.id, {"recording_pauses": list(call.pauses)}))
        return call.snapshot()

    async def _ctl_transfer(self, call: Call, user: Any,
                            params: dict[str, Any]) -> dict[str, Any]:
        _authorise(call, user)
        _require_connected(call)
        extension = params.get("extension")
        if not isinstance(extension, str) or not re.fullmatch(r"[0-9*#+]{1,20}", extension):
            raise CallError("bad", "give the extension to transfer to (digits)")
        target = await self.agents.by_extension(extension)
        target_id: int | None = None
        if target is not None:
            if target.user_id == call.agent_id:
                raise CallError("conflict", "the call is already with that agent")
            if target.state != AgentState.READY or not target.device:
                raise CallError("conflict", f"the agent at extension {extension} is not ready")
            try:
                await self.agents.set_state(target.user_id, AgentState.RINGING, Cause.CALL)
            except Exception as exc:
                raise CallError("conflict", f"the agent at {extension} is not available: "
                                f"{exc}") from exc
            target_id, endpoint = target.user_id, target.device
        else:
            endpoint = self.transfer_endpoint.format(extension=extension)
        old = call.agent
        call.transfers.append({"at": _now().isoformat(), "from_agent_id": call.agent_id,
                               "to_extension": extension, "to_agent_id": target_id,
                               "outcome": "ringing"})
        call.journal.submit(update_op(call.id, {"transfers": list(call.transfers)}))
        logger.info("blind transfer from agent %s to %s", call.agent_id, extension)
        # the transferring agent leaves at once; the caller hears music until the target answers
        if old is not None:
            old.released = True
            await self._ari("remove agent", self.ari.bridges.remove_channel(call.bridge_id,
                                                                             old.id))
            await self._hangup(old.id)
            if old.agent_id is not None:
                await self._agent_call("call_ended", old.agent_id)
                await self._pop_event("ended", old.agent_id, call)
        call.held = call.muted = False
        await self._ari("music on hold", self.ari.bridges.start_moh(call.bridge_id))
        call.moh = True
        call.phase = Phase.RINGING
        call.agent = None
        await self._ring_agent(call, target_id, endpoint)
        return call.snapshot()

    def _record_transfer_outcome(self, call: Call, outcome: str) -> None:
        if call.transfers and call.transfers[-1].get("outcome") == "ringing":
            call.transfers[-1]["outcome"] = outcome
            call.journal.submit(update_op(call.id, {"transfers": list(call.transfers)}))

    async def _ctl_supervise(self, call: Call, user: Any,
                             params: dict[str, Any]) -> dict[str, Any]:
        if getattr(user, "role", None) not in ("supervisor", "admin"):
            raise CallError("forbidden", "only a supervisor may listen to or whisper on a call")
        _require_connected(call)
        mode = params.get("mode", "listen")
        if mode not in ("listen", "whisper"):
            raise CallError("bad", "mode is listen or whisper")
        device = getattr(user, "device", None)
        if not device:
            raise CallError("conflict", "you have no telephone device configured")
        if call.supervisor is not None:
            raise CallError("conflict", "the call is already supervised")
        n = call.attempts = call.attempts + 1
        snoop = self._register(call, Leg(f"{call.id}-s{n}", Role.SNOOP))
        sup = self._register(call, Leg(f"{call.id}-v{n}", Role.SUPERVISOR, endpoint=device,
                                       agent_id=user.id))
        call.supervisor = {"user_id": user.id, "mode": mode, "bridge_id": f"{call.id}-sv{n}",
                           "snoop": snoop.id, "leg": sup.id, "state": "ringing"}
        try:
            await self.ari.bridges.create(type="mixing", bridge_id=call.supervisor["bridge_id"],
                                          name=f"supervise-{call.id}"[:80])
            await self.ari.channels.snoop(call.agent_leg.id, app=self.app, spy="both",
                                          whisper="out" if mode == "whisper" else "none",
                                          app_args=f"snoop,{call.id}", snoop_id=snoop.id)
            await self.ari.channels.originate(
                device, app=self.app, app_args=f"supervisor,{call.id}",
                caller_id=_caller_id("Supervise", call.e164 or ""),
                timeout=self._ari_timeout(self.ring_timeout), channel_id=sup.id,
                other_channel_id=f"{sup.id}b")
        except ari_errors.AriError as exc:
            logger.warning("supervision could not start: %s", exc)
            sup.gone = True
            await self._stop_supervision(call)
            raise CallError("conflict", f"could not reach your device: {exc.message}") from exc
        return call.snapshot()

    async def _supervisor_answered(self, call: Call, leg: Leg) -> None:
        sup = call.supervisor
        if sup is None or sup["leg"] != leg.id:
            await self._hangup(leg.id)
            return
        await self.ari.bridges.add_channel(sup["bridge_id"], [sup["snoop"], leg.id])
        sup["state"] = "connected"
        logger.info("supervisor %s %s", sup["user_id"], sup["mode"])

    async def _ctl_unsupervise(self, call: Call, user: Any,
                               params: dict[str, Any]) -> dict[str, Any]:
        if getattr(user, "role", None) not in ("supervisor", "admin"):
            raise CallError("forbidden", "only a supervisor may stop supervising")
        if call.supervisor is None:
            raise CallError("conflict", "the call is not supervised")
        await self._stop_supervision(call)
        return call.snapshot()

    async def _stop_supervision(self, call: Call) -> None:
        sup, call.supervisor = call.supervisor, None
        if sup is None:
            return
        for leg_id in (sup["snoop"], sup["leg"]):
            leg = call.legs.get(leg_id)
            if leg is not None and not leg.gone:
                leg.released = True
                await self._hangup(leg_id)
        await self._ari("destroy supervision bridge", self.ari.bridges.destroy(sup["bridge_id"]))

    async def _supervision_leg_gone(self, call: Call, leg: Leg) -> None:
        if leg.released or call.supervisor is None:
            return
        await self._stop_supervision(call)

    # --- agents and pops ---------------------------------------------------------------

    async def _agent_call(self, method: str, agent_id: int | None, *args: Any) -> None:
        """Tell the agent service, in order per agent; database errors are retried.

        The call flow waits for the change only briefly: when the database is away the
        change is retried in the background, and later changes for that agent queue behind it
        (so "answered" is never overtaken by "call ended").
        """
        if agent_id is None:
            return
        previous = self._agent_chain.get(agent_id)
        task = asyncio.ensure_future(self._agent_apply(previous, method, agent_id, args))
        self._agent_chain[agent_id] = task
        self._background.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._background.discard(t)
            if self._agent_chain.get(agent_id) is t:
                del self._agent_chain[agent_id]
        task.add_done_callback(done)
        if self.agent_wait > 0:   # 0 (the default): no timer and shield per change
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), self.agent_wait)

    async def _agent_apply(self, previous: asyncio.Future[Any] | None, method: str,
                           agent_id: int, args: tuple[Any, ...]) -> None:
        if previous is not None:
            with contextlib.suppress(BaseException):
                await previous
        fn = getattr(self.agents, method)
        delay = 0.05
        for attempt in range(40):
            try:
                await fn(agent_id, *args)
                return
            except Exception as exc:  # noqa: BLE001
                if not _retryable(exc):
                    logger.warning("agent service %s(%s) refused: %s", method, agent_id, exc)
                    return
                if attempt == 0:
                    logger.warning("agent service %s(%s) failed (%s); retrying", method,
                                   agent_id, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
        logger.error("agent service %s(%s) kept failing; gave up", method, agent_id)

    async def _pop_event(self, kind: str, agent_id: int, call: Call) -> None:
        if agent_id not in call.popped and call.direction == "inbound":
            return
        try:
            await getattr(self.pops, kind)(agent_id, call.id, self.pop_payload(call))
        except Exception as exc:  # noqa: BLE001
            logger.warning("pop %s for agent %s failed: %s", kind, agent_id, exc)

    # --- reconciliation (websocket reconnect, restart) ------------------------------------

    async def _filter_events(self) -> None:
        """Ask ARI for only the event types handle_event acts on: about 29 events a call
        come down to about 9 (ChannelVarset, ChannelDialplan, ChannelHangupRequest, caller
        id and bridge events are parsed for nothing otherwise). ChannelStateChange is not
        asked for either (three a call): a caller is up when StasisStart says so or once
        call control answered them, an originated leg when its StasisStart comes, and a
        reconnect reads the states from the channel list. An Asterisk without event
        filters (before 13.26/16.3) keeps sending everything, which is handled as before."""
        try:
            await self.ari.applications.filter_events(self.app, allowed=list(HANDLED_EVENTS))
        except ari_errors.AriError as exc:
            logger.warning("ARI event filter not set (%s); every event type is received", exc)

    async def _on_resync(self) -> None:
        """After every (re)connect: compare our calls with what ARI reports, then adopt."""
        self.resyncs += 1
        await self._filter_events()
        try:
            channels = {c.id: c for c in await self.ari.channels.list()}
        except ari_errors.AriError as exc:
            logger.error("cannot list channels to reconcile: %s", exc)
            return
        for call in list(self.calls.values()):
            self._post(call, self._reconcile, channels)
        try:
            drafts = await self.records.drafts(f"{self.app}:")
        except Exception as exc:  # noqa: BLE001 - retried on the next reconnect
            logger.error("cannot read draft communications to reconcile: %s", exc)
            return
        for comm in drafts:
            if comm.call_id in self.calls or comm.call_id in self.ended:
                continue
            await self._adopt(comm, channels)

    async def _reconcile(self, call: Call, channels: dict[str, Any]) -> None:
        sides = [leg for leg in (call.customer, call.agent) if leg is not None and not leg.gone]
        if sides and all(leg.id not in channels for leg in sides) and \
                call.pending_end is None and call.phase not in (Phase.ENDING, Phase.ENDED):
            # everything vanished at once (a PBX restart): nobody knows who hung up
            logger.warning("all channels of the call vanished while we were away")
            outcome = "answered" if call.answered_at is not None else (
                "missed" if call.direction == "inbound" else "failed")
            call.pending_end = (outcome, "channels_lost")
            if call.agent is not None and call.customer is not None:
                call.agent.released = True   # ends through the customer side, once
        for leg in list(call.live_legs()):
            channel = channels.get(leg.id)
            if channel is None:
                if leg.role is not Role.SNOOP and not (leg.role is Role.AGENT and
                                                       call.agent is not leg):
                    logger.info("leg %s vanished while we were away", leg.id)
                await self._leg_ended(call, leg, "vanished", None, "")
            elif not leg.in_stasis and channel.state == "Up" and \
                    channel.dialplan.app_name.lower() == "stasis":
                logger.info("leg %s answered while we were away", leg.id)
                await self._leg_entered(call, leg, None)  # type: ignore[arg-type]

    async def _adopt(self, comm: Any, channels: dict[str, Any]) -> None:
        """A draft whose call is not ours in memory (restart): adopt it or complete it.

        What ARI reports decides, not what the record says (a killed process may not have
        written the answer): a customer channel and an agent channel both up means the two
        are talking; the agent's id is part of the agent leg's channel id.
        """
        call_id = comm.call_id
        with call_context(call_id):
            direction = call_direction(comm.direction)
            inbound = direction == "inbound"
            call = Call(id=call_id, direction=direction,
                        journal=Journal(self.records, call_id),
                        started_at=comm.started_at or comm.created_at or _now())
            call.adopted = True
            call.comm_id = comm.id
            call.caller_number = comm.caller_number
            call.called_number = comm.called_number
            call.e164 = normalise(comm.caller_number if inbound else comm.called_number,
                                  self.config.default_region)
            call.contact_id = comm.contact_id
            call.agent_id = call.first_agent_id = comm.agent_id
            call.answered_at = comm.answered_at
            call.pauses = list(comm.recording_pauses or [])
            call.transfers = list(comm.transfers or [])
            customer_id = call_id[len(self.app) + 1:] if inbound else f"{call_id}-c"
            mine = [cid for cid in channels
                    if cid == customer_id or cid.startswith(f"{call_id}-")]
            customer = channels.get(customer_id)
            agent_channel, agent_id = None, comm.agent_id
            for cid in sorted(mine, key=_leg_number):
                match = _AGENT_LEG.fullmatch(cid[len(call_id):])
                if match and channels[cid].state == "Up":
                    agent_channel = channels[cid]
                    if match.group(2):
                        agent_id = int(match.group(2))
            self.calls[call_id] = call
            self._set_active()
            if customer is not None:
                call.customer = self._register(call, Leg(customer_id, Role.CUSTOMER,
                                                         in_stasis=True))
                call.customer_answered = customer.state == "Up"
            if agent_channel is not None:
                call.agent = self._register(call, Leg(agent_channel.id, Role.AGENT,
                                                      agent_id=agent_id, in_stasis=True))
            for cid in mine:   # other legs of ours (ringing agents, supervisors): not kept
                if cid not in call.legs and not cid.endswith("b"):
                    self._register(call, Leg(cid, Role.AGENT, released=True))
            for leg in call.live_legs():
                if leg.released:
                    await self._hangup(leg.id)
            if comm.recording or comm.answered_at is not None or agent_channel is not None:
                await self._adopt_recording(call, comm)
            if customer is not None and agent_channel is not None and call.customer_answered:
                await self._adopt_connected(call, agent_id)
                return
            if customer is not None and inbound and comm.answered_at is None:
                logger.info("adopted a waiting caller after a restart: hunting again")
                call.phase = Phase.QUEUED
                elapsed = (_now() - call.started_at).total_seconds()
                self.queue_deadline(call, max(0.0, self.queue_max_wait - elapsed))
                self._post(call, self._hunt)
                return
            logger.info("the call ended while callcontrol was away: completing its record")
            answered = comm.answered_at is not None
            call.phase = Phase.CONNECTED if answered else Phase.QUEUED
            if answered:
                if call.agent is None:
                    call.agent = Leg(f"{call_id}-gone", Role.AGENT, agent_id=agent_id,
                                     in_stasis=True, gone=True)
                outcome = "answered"
                if agent_channel is not None:
                    cause = "caller_hangup" if inbound else "customer_hangup"
                elif customer is not None:
                    cause = "agent_hangup"
                else:
                    cause = "ended_while_away"
            elif inbound:
                outcome, cause = "missed", "abandoned"
            else:
                outcome, cause = "failed", "ended_while_away"
            self._post(call, self._end, outcome, cause)

    async def _adopt_recording(self, call: Call, comm: Any) -> None:
        name = comm.recording or _safe_name(call.id)
        live = await self._ari("live recording", self.ari.recordings.get_live(name))
        if live is not None and live.state in ("recording", "paused", "queued"):
            call.recording = name
            call.recording_state = "paused" if live.state == "paused" else "recording"
        elif comm.recording:
            call.recording, call.recording_state = name, "done"
        if call.recording:
            self._recordings[name] = call

    async def _adopt_connected(self, call: Call, agent_id: int | None) -> None:
        logger.info("adopted a live call after a restart (agent %s)", agent_id)
        bridge = await self._ari("bridge", self.ari.bridges.get(call.bridge_id))
        if bridge is None:
            await self._ensure_bridge(call)
        call.bridge_made = True
        present = set(bridge.channels) if bridge is not None else set()
        missing = [leg.id for leg in (call.customer_leg, call.agent_leg) if leg.id not in present]
        if missing:
            await self._ari("bridge legs", self.ari.bridges.add_channel(call.bridge_id, missing))
        call.customer_leg.in_bridge = call.agent_leg.in_bridge = True
        call.phase = Phase.CONNECTED
        call.agent_id = agent_id
        if call.answered_at is None:   # the answer never reached the record
            call.answered_at = _now()
            call.first_agent_id = agent_id
            call.journal.submit(update_op(call.id, {"answered_at": call.answered_at,
                                                    "agent_id": agent_id}))
        if call.recording is None:
            await self._start_recording(call)
        await self._agent_call("answered", agent_id)


# --- helpers ----------------------------------------------------------------------------


_AGENT_LEG = re.compile(r"-a(\d+)(?:u(\d+))?")


def _leg_number(channel_id: str) -> int:
    match = re.search(r"-a(\d+)", channel_id)
    return int(match.group(1)) if match else 0


def _retryable(exc: Exception) -> bool:
    """Database trouble is worth retrying; a refusal by the agent service is not."""
    return not isinstance(exc, (ApiError, TransitionRefused, ValueError, LookupError))


def _failure(leg: Leg) -> str:
    if leg.fail_reason:
        return leg.fail_reason
    if leg.dialstatus in _DIALSTATUS:
        return _DIALSTATUS[leg.dialstatus]
    if leg.cause in _CAUSES:
        return _CAUSES[leg.cause]
    rang = leg.dialstatus in ("", "RINGING", "PROGRESS", "ANSWER")
    return "no_answer" if rang and leg.cause in (None, 0, 16) else "unreachable"


def _caller_id(name: str, number: str) -> str | None:
    name = re.sub(r'["<>\\\r\n]', "", name or "")[:40].strip()
    number = re.sub(r"[^0-9+*#]", "", number or "")[:32]
    if not number and not name:
        return None
    return f'"{name}" <{number}>' if name else number




def _authorise(call: Call, user: Any, *, supervisor_ok: bool = False) -> None:
    if supervisor_ok and getattr(user, "role", None) in ("supervisor", "admin"):
        return
    if call.agent_id is None or getattr(user, "id", None) != call.agent_id:
        raise CallError("forbidden", "only the agent on this call may do that")


def _require_connected(call: Call) -> None:
    if call.phase is not Phase.CONNECTED or call.agent is None or call.customer is None:
        raise CallError("conflict", f"the call is {call.phase.value}, not connected")


def _contact_payload(match: Any) -> dict[str, Any]:
    return {"id": match.id, "code": match.code, "name": match.name, "kind": match.kind,
            "summary": {"open_service_requests": match.open_service_requests,
                        "balance_due": str(match.balance_due), "currency": match.currency,
                        "flash_notes": list(match.flash_notes)}}


_CONTROLS: dict[str, str] = {
    "hold": "_ctl_hold", "unhold": "_ctl_unhold", "mute": "_ctl_mute", "unmute": "_ctl_unmute",
    "hangup": "_ctl_hangup", "transfer": "_ctl_transfer",
    "recording/pause": "_ctl_pause", "recording/resume": "_ctl_resume",
    "supervise": "_ctl_supervise", "unsupervise": "_ctl_unsupervise",
}
