"""The simulated Asterisk: call state, the lab dialplan, scripted people and the events.

Everything here is synchronous and driven by ``loop.call_later`` timers (no polling), so one
core carries hundreds of calls per second. The HTTP layer (``server.py``) is a thin shell.

Event routing follows what the recorded Asterisk did (``shared/ari/README.md``):

* a channel's events go to its Stasis app while it is in Stasis, and to every app in
  ``channel.watchers``: apps that originated it (``POST /channels`` with ``app``; both halves
  of a Local pair) or subscribed to it. So an inbound ``;2`` stops at ``StasisEnd`` while an
  originated agent also gets ``ChannelDestroyed``;
* a bridge's events go to the apps whose channels entered it; ``removeChannel`` of an app's
  last channel ends that subscription (no ``BridgeDestroyed`` then), a hang-up does not;
* a socket opened with ``subscribeAll=true`` gets every event, ``ChannelCreated`` and
  ``BridgeCreated`` included.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcontrol.logs import call_context
from callcontrol.pbxsim import audio
from callcontrol.pbxsim.model import (
    Bridge,
    Channel,
    Device,
    LiveRecording,
    PersonScript,
    Playback,
    SimCall,
    ari_timestamp,
    cause_txt,
)

logger = logging.getLogger("callcontrol.pbxsim")


class AriHttpError(Exception):
    """An ARI error response: status and message (``key`` is "error" for allocation failures)."""

    def __init__(self, status: int, message: str, key: str = "message") -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.key = key


class AsteriskCrashed(Exception):
    """The request crashed the simulated Asterisk (bridge record without ``format``)."""


# Durations (seconds) of the sounds the lab Asterisk had; others fail like a missing file.
SOUNDS = {
    "hello-world": 1.4, "beep": 0.425, "demo-congrats": 11.5, "tt-monkeys": 9.0,
    "tt-weasels": 4.5, "vm-goodbye": 0.9, "goodbye": 0.7, "pls-hold-while-try": 2.6,
    "queue-thankyou": 2.4, "queue-callswaiting": 1.6, "queue-holdtime": 1.5,
    "queue-periodic-announce": 3.6, "agent-pass": 1.3, "conf-onhold": 1.6,
    "pbx-transfer": 0.9, "auth-thankyou": 0.8, "please-try-again": 1.0,
    "transfer": 0.7, "one-moment-please": 1.1, "welcome": 0.9,
    "you-are-caller-num": 1.5,
}
MEDIA_SCHEMES = ("sound", "digits", "number", "characters", "tone", "recording")
PLAYBACK_OPERATIONS = ("restart", "pause", "unpause", "reverse", "forward")
BRIDGE_TYPES = ("mixing", "holding", "dtmf_events", "proxy_media", "video_sfu",
                "video_single", "sdp_label")
DEVICE_STATES = ("UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING",
                 "RINGINUSE", "ONHOLD")
_NAME_OK = re.compile(r"^[A-Za-z0-9_.+\-@]+$")
_CALLER_ID = re.compile(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$')


def parse_caller_id(value: str | None) -> tuple[str, str]:
    """``Name <number>`` or ``number`` -> (name, number)."""
    if not value:
        return "", ""
    match = _CALLER_ID.match(value)
    if match:
        return match.group(1).strip(), match.group(2).strip()
    return "", value.strip()


Step = tuple[str, str]     # (dialplan application, its data) like one priority


def _g(seconds: float) -> str:
    return f"{seconds:g}"


def lab_program(context: str, exten: str, variables: dict[str, str] | None = None,
                caller_all: str = '"" <>') -> list[Step] | None:
    """The lab dialplan (``shared/ari/lab/extensions.conf``) for ``exten@context``."""
    variables = variables or {}
    if context == "agents":
        if re.fullmatch(r"100[1-5]", exten):
            return [("NoOp", f"Agent {exten} auto-answers"), ("Answer", ""), ("Wait", "300"),
                    ("Hangup", "")]
        if exten == "1006":
            return [("NoOp", f"Agent {exten} answers after 3 s of ringing"), ("Ringing", ""),
                    ("Wait", "3"), ("Answer", ""), ("Wait", "300"), ("Hangup", "")]
        if exten == "1007":
            return [("NoOp", f"Agent {exten} answers and sends DTMF"), ("Answer", ""),
                    ("Wait", "2"), ("SendDTMF", "1234#,250"), ("Wait", "300"), ("Hangup", "")]
        if exten == "1097":
            return [("NoOp", f"Agent {exten} congestion"), ("Congestion", "10")]
        if exten == "1098":
            return [("NoOp", f"Agent {exten} busy"), ("Busy", "10")]
        if exten == "1099":
            return [("NoOp", f"Agent {exten} never answers"), ("Ringing", ""), ("Wait", "300"),
                    ("Hangup", "")]
    elif context == "customers":
        if exten == "+35799000099":
            return [("NoOp", "Customer never answers"), ("Ringing", ""), ("Wait", "300"),
                    ("Hangup", "")]
        if re.fullmatch(r"\+?[0-9]+", exten):
            return [("NoOp", f"Customer {exten} answers after 2 s"), ("Ringing", ""),
                    ("Wait", "2"), ("Answer", ""), ("Wait", "300"), ("Hangup", "")]
    elif context == "from-pstn":
        if re.fullmatch(r"\+?[0-9]+", exten):
            return [("NoOp", f"Inbound PSTN call from {caller_all} to {exten}"),
                    ("Stasis", f"callcontrol,inbound,{exten}"), ("Hangup", "")]
        if exten == "service":
            return [("NoOp", f"Inbound PSTN call (sipp default service) from {caller_all}"),
                    ("Stasis", "callcontrol,inbound,service"), ("Hangup", "")]
        if exten == "s":
            return [("NoOp", f"Inbound PSTN call (no number) from {caller_all}"),
                    ("Stasis", "callcontrol,inbound,s"), ("Hangup", "")]
    elif context == "inbound":
        if exten == "caller":
            return [("NoOp", "Simulated caller connected"), ("Wait", "300"), ("Hangup", "")]
        if exten == "caller-dtmf":
            return [("NoOp", "Simulated caller sends DTMF"), ("Wait", "2"),
                    ("SendDTMF", "1234#,250"), ("Wait", "300"), ("Hangup", "")]
        if exten == "caller-hangup":
            raw = variables.get("HANGUP_AFTER", "")
            try:
                after = float(raw) if raw else 6.0
            except ValueError:
                after = 6.0
            return [("NoOp", f"Simulated caller hangs up after {_g(after)} s"),
                    ("Wait", _g(after)), ("Hangup", "")]
    return None


def dtmf_seconds(digits: str) -> float:
    """How long SendDTMF(digits,250) takes (as recorded: about 0.37 s a digit)."""
    return 0.2 + 0.35 * len(digits) + 0.1


def person_program(script: PersonScript) -> list[Step]:
    """A scripted caller (``place_call``) as the dialplan its ``;1`` half runs once answered."""
    steps: list[Step] = [("NoOp", "Simulated caller")]
    spent = 0.0
    if script.dtmf:
        steps += [("Wait", _g(script.dtmf_after)), ("SendDTMF", f"{script.dtmf},250")]
        spent = script.dtmf_after + dtmf_seconds(script.dtmf)
    if script.hangup_after is None:
        steps += [("Wait", "300"), ("Hangup", "")]
    else:
        steps += [("Wait", _g(max(0.0, script.hangup_after - spent))), ("Hangup", "")]
    return steps


class PbxEngine:
    """State and behaviour of the simulated PBX (no I/O except recordings on disk)."""

    def __init__(self, *, recordings_dir: Path, time_scale: float = 1.0,
                 asterisk_id: str = "02:fc:00:00:00:01", stasis_app: str = "callcontrol",
                 originate_timeout: float = 30.0) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        self.recordings_dir = Path(recordings_dir)
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        self.time_scale = float(time_scale)
        self.asterisk_id = asterisk_id
        self.stasis_app = stasis_app
        self.originate_timeout = originate_timeout
        self.channels: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}
        self.live_recordings: dict[str, LiveRecording] = {}
        self.playbacks: dict[str, Playback] = {}
        self.devices: dict[str, Device] = {r: Device(r) for r in ("1001", "1002", "1003")}
        self.devices["sipp"] = Device("sipp", context="from-pstn", state="offline")
        self.devices["anonymous"] = Device("anonymous", context="from-pstn", state="offline")
        self.device_states: dict[str, str] = {}
        self.global_vars: dict[str, str] = {}
        self.app_subscriptions: dict[str, set[str]] = {}
        # PUT /applications/{app}/eventFilter: event types allowed (empty: all), disallowed
        self.event_filters: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self.known_apps: set[str] = set()
        self.conns: dict[str, list[Any]] = {}      # app -> open event sockets
        self.listeners: list[Callable[[dict[str, Any], set[str]], None]] = []
        self.crashed = False
        self.counters: dict[str, int] = {
            "calls_placed": 0, "calls_answered": 0, "calls_abandoned": 0,
            "channels_created": 0, "channels_destroyed": 0,
            "bridges_created": 0, "recordings_written": 0, "events_emitted": 0,
            "events_sent": 0, "http_requests": 0, "crashes": 0, "restarts": 0,
        }
        self.started_at = ari_timestamp()
        self._seq = 0
        self._unreal = 0
        self._snoop_seq = 0
        self._pjsip_seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._check_scheduled = False
        self._generation = 0        # bumped by a restart: older timers then do nothing
        self._pb_active: dict[str, Playback] = {}        # target uri -> playing now
        self._pb_queue: dict[str, list[Playback]] = {}   # target uri -> waiting

    # ------------------------------------------------------------------ plumbing
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _new_id(self) -> str:
        self._seq += 1
        return f"{int(time.time())}.{self._seq - 1}"

    def _later(self, delay: float, fn: Callable[..., Any], *args: Any,
               owner: Any = None, scaled: bool = True) -> asyncio.TimerHandle:
        seconds = max(0.0, delay * self.time_scale if scaled else delay)
        handle = self.loop.call_later(seconds, self._run_timer, fn, args, self._generation)
        if owner is not None:
            timers = owner.timers
            if len(timers) >= 32:       # drop fired and cancelled ones (long-lived channels)
                now = self.loop.time()
                timers[:] = [h for h in timers if not h.cancelled() and h.when() > now]
            timers.append(handle)
        return handle

    def _soon(self, fn: Callable[..., Any], *args: Any, owner: Any = None) -> None:
        self._later(0.0, fn, *args, owner=owner)

    def _run_timer(self, fn: Callable[..., Any], args: tuple[Any, ...], generation: int) -> None:
        if self.crashed or generation != self._generation:
            return
        try:
            fn(*args)
        except Exception:  # a bug must not kill the loop of every other call
            logger.exception("pbxsim: timer %s failed", getattr(fn, "__name__", fn))

    def _active(self) -> bool:
        return bool(self.conns or self.listeners)

    def emit(self, etype: str, fields: dict[str, Any], *, channels: tuple[Channel, ...] = (),
             bridges: tuple[Bridge, ...] = (), apps: tuple[str, ...] = (),
             twice_for_all: bool = False) -> None:
        """Send one event to the apps subscribed to what it is about (and subscribeAll)."""
        self.counters["events_emitted"] += 1
        if self._waiters and not self._check_scheduled:
            self._check_scheduled = True
            self.loop.call_soon(self._check_waiters)
        if not (self.conns or self.listeners):
            return
        targets = set(apps)
        for ch in channels:
            if ch.in_stasis and ch.app:
                targets.add(ch.app)
            if ch.watchers:
                targets |= ch.watchers
        for br in bridges:
            targets |= br.watchers
        event = {"type": etype, "timestamp": ari_timestamp(), **fields,
                 "asterisk_id": self.asterisk_id}
        for listener in self.listeners:
            listener(event, targets)
        for app, conns in self.conns.items():
            text = None
            wanted = self.event_filters.get(app)
            if wanted is not None and (etype in wanted[1] or (wanted[0]
                                                               and etype not in wanted[0])):
                continue
            for conn in conns:
                if conn.subscribe_all or app in targets:
                    if text is None:
                        event["application"] = app
                        text = json.dumps(event)
                    conn.push(text)
                    self.counters["events_sent"] += 1
                    if twice_for_all and conn.subscribe_all and app in targets:
                        conn.push(text)

    def _ch_event(self, etype: str, ch: Channel, **extra: Any) -> None:
        if not (self.conns or self.listeners):
            self.emit(etype, {}, channels=(ch,))
            return
        self.emit(etype, {**extra, "channel": ch.json()}, channels=(ch,))

    def _notify(self) -> None:
        if self._waiters and not self._check_scheduled:
            self._check_scheduled = True
            self.loop.call_soon(self._check_waiters)

    def _check_waiters(self) -> None:
        self._check_scheduled = False
        for predicate, fut in list(self._waiters):
            if fut.done():
                continue
            try:
                if predicate():
                    fut.set_result(None)
            except Exception as exc:
                fut.set_exception(exc)

    async def wait_for(self, predicate: Callable[..., Any], timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` (or ``predicate(sim)``) is true.

        Checked after every event, and every 50 ms for predicates about other state (a test
        helper: the simulator itself never polls)."""
        try:
            takes_sim = len(inspect.signature(predicate).parameters) >= 1
        except (TypeError, ValueError):
            takes_sim = False
        check = (lambda: bool(predicate(self))) if takes_sim else (lambda: bool(predicate()))
        if check():
            return
        fut: asyncio.Future[None] = self.loop.create_future()
        entry = (check, fut)
        self._waiters.append(entry)
        deadline = self.loop.time() + timeout
        try:
            while not fut.done():
                remaining = deadline - self.loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"pbxsim: condition not met within {timeout} s")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(fut), min(0.05, remaining))
                if not fut.done() and check():
                    return
            fut.result()
        finally:
            self._waiters.remove(entry)

    def app_registered(self, app: str) -> bool:
        return bool(self.conns.get(app))

    # ------------------------------------------------------------------ channel basics
    def _add_channel(self, ch: Channel) -> Channel:
        self.channels[ch.id] = ch
        self.counters["channels_created"] += 1
        if self.conns or self.listeners:
            snapshot = ch.json()
            if ch.tech == "Local":     # created before its caller id and dial app are set
                snapshot["caller"] = {"name": "", "number": ""}
                snapshot["connected"] = {"name": "", "number": ""}
                snapshot["dialplan"]["app_name"] = snapshot["dialplan"]["app_data"] = ""
            self.emit("ChannelCreated", {"channel": snapshot})
        if ch.device is not None:
            self._device_changed(ch.device)
        return ch

    def _device_changed(self, device: Device) -> None:
        """EndpointStateChange/DeviceStateChanged of a PJSIP phone, for apps subscribed to
        ``endpoint:PJSIP/<res>`` / ``deviceState:PJSIP/<res>`` (and subscribeAll sockets)."""
        if not (self.conns or self.listeners):
            return
        ids = [c.id for c in self.channels.values() if c.device is device]
        endpoint_src = f"endpoint:PJSIP/{device.resource}"
        device_src = f"deviceState:PJSIP/{device.resource}"
        ep_apps = tuple(a for a, subs in self.app_subscriptions.items()
                        if endpoint_src in subs or "endpoint:PJSIP" in subs)
        ds_apps = tuple(a for a, subs in self.app_subscriptions.items() if device_src in subs)
        self.emit("EndpointStateChange", {"endpoint": device.json(ids)}, apps=ep_apps)
        state = "INUSE" if ids else "NOT_INUSE"
        self.emit("DeviceStateChanged",
                  {"device_state": {"name": f"PJSIP/{device.resource}", "state": state}},
                  apps=ds_apps)

    def get_channel(self, channel_id: str) -> Channel:
        ch = self.channels.get(channel_id)
        if ch is None:
            raise AriHttpError(404, "Channel not found")
        return ch

    def stasis_channel(self, channel_id: str) -> Channel:
        ch = self.get_channel(channel_id)
        if not ch.in_stasis:
            raise AriHttpError(409, "Channel not in Stasis application")
        return ch

    def _set_state(self, ch: Channel, state: str) -> None:
        if ch.alive and ch.state != state:
            ch.state = state
            self._ch_event("ChannelStateChange", ch)

    def _dialplan(self, ch: Channel, app: str, data: str) -> None:
        ch.app_name, ch.app_data = app, data
        self._ch_event("ChannelDialplan", ch, dialplan_app=app, dialplan_app_data=data)

    def _varset(self, ch: Channel, variable: str, value: str) -> None:
        ch.variables[variable] = value
        self._ch_event("ChannelVarset", ch, variable=variable, value=value)

    def _dial_event(self, peer: Channel, status: str) -> None:
        if not (self.conns or self.listeners):
            self.emit("Dial", {}, channels=(peer,))
            return
        fields: dict[str, Any] = {"dialstatus": status, "forward": "",
                                  "dialstring": peer.dialstring}
        chans: tuple[Channel, ...] = (peer,)
        if peer.dial_caller is not None and peer.dial_caller.alive:
            fields["caller"] = peer.dial_caller.json()
            chans = (peer, peer.dial_caller)
        fields["peer"] = peer.json()
        self.emit("Dial", fields, channels=chans)

    def _hangup_request(self, ch: Channel, cause: int | None, *, soft: bool = False,
                        tech_cause: int | None = None) -> None:
        extra: dict[str, Any] = {}
        if cause is not None:
            extra["cause"] = cause
        if soft:
            extra["soft"] = True
        if tech_cause is not None:
            extra["tech_cause"] = tech_cause
        self._ch_event("ChannelHangupRequest", ch, **extra)

    def _enter_stasis(self, ch: Channel, app: str, args: list[str], *,
                      from_dialplan: bool = False, set_dialplan: bool = True) -> bool:
        if set_dialplan and not from_dialplan:
            ch.app_name, ch.app_data = "Stasis", ",".join([app, *args])
        if not self.app_registered(app):
            _log(ch, logging.WARNING, "pbxsim: Stasis app %r not registered; %s hangs up", app,
                 ch.name)
            ch.variables["STASISSTATUS"] = "FAILED"
            self._soon(self._dialplan_ends, ch, owner=ch)
            return False
        self.known_apps.add(app)
        self._varset(ch, "STASISSTATUS", "")
        ch.app = app
        ch.in_stasis = True
        self._ch_event("StasisStart", ch, args=list(args))
        return True

    def _leave_stasis(self, ch: Channel) -> None:
        if not ch.in_stasis:
            return
        self._ch_event("StasisEnd", ch)
        ch.in_stasis = False
        self._varset(ch, "STASISSTATUS", "SUCCESS")

    def _leave_all(self, ch: Channel) -> None:
        """Everything a hanging-up channel leaves: bridge, playbacks, recordings, snoops, Stasis."""
        if ch.bridge is not None:
            self._bridge_remove(ch.bridge, ch, by_app=False)
        for pb in list(ch.playbacks):
            self._playback_finish(pb, "done")
        for rec in list(ch.recordings):
            self._recording_finish(rec)
        for snoop in list(ch.snoops):
            if snoop.alive:
                self._hangup_request(snoop, 16)
                self._leave_all(snoop)
                self._destroy(snoop, 16)
        self._leave_stasis(ch)

    def _destroy(self, ch: Channel, cause: int) -> None:
        if not ch.alive:
            return
        ch.alive = False
        for handle in ch.timers:
            handle.cancel()
        ch.timers.clear()
        if ch.snoop_of is not None:
            ch.snoop_of.snoops.discard(ch)
        self.channels.pop(ch.id, None)
        self.counters["channels_destroyed"] += 1
        # a dying outgoing channel reports its dial application again, others none
        if ch.half == 1 or (ch.tech == "PJSIP" and ch.dialstring):
            ch.app_name, ch.app_data = "AppDial2", "(Outgoing Line)"
        elif ch.tech != "Snoop":
            ch.app_name = ch.app_data = ""
        self._ch_event("ChannelDestroyed", ch, cause=cause, cause_txt=cause_txt(cause))
        ch.watchers = set()
        if ch.device is not None:
            self._device_changed(ch.device)

    # ------------------------------------------------------------------ hang-ups
    def hangup_by_app(self, ch: Channel, cause: int = 16) -> None:
        """``DELETE /channels/{id}``: soft hang-up (cause 32) of the channel and its Local peer."""
        self._hangup_request(ch, 32, soft=True)
        self._hangup_with_peer(ch, cause)

    def _hangup_with_peer(self, ch: Channel, cause: int) -> None:
        if ch.originating:
            ch.originating = False
            self._dial_event(ch, "NOANSWER")
        self._leave_all(ch)
        peer = ch.peer
        if peer is not None and peer.alive:
            self._hangup_request(peer, 16)
            self._destroy(ch, cause)
            self._hangup_request(peer, 16, soft=True)
            self._leave_all(peer)
            self._destroy(peer, 16)
        else:
            self._destroy(ch, cause)

    def person_hangup(self, ch: Channel, cause: int = 16) -> None:
        """The person on ``ch`` hangs up (a SIP BYE/CANCEL, or ``Hangup()`` in a Local half)."""
        if not ch.alive:
            return
        peer = ch.peer
        if peer is not None and peer.alive:
            self._hangup_request(ch, cause, soft=True)
            self._hangup_request(peer, cause)
            self._leave_all(ch)
            self._destroy(ch, cause)
            if peer.originating:
                peer.originating = False
                self._dial_event(peer, "CANCEL")
            self._leave_all(peer)
            self._hangup_request(peer, 16, soft=True)
            self._destroy(peer, cause)
            return
        if ch.tech == "PJSIP" and ch.state != "Up":
            self._hangup_request(ch, 127, tech_cause=487)       # CANCEL
            cause = 127
        elif ch.tech == "PJSIP":
            self._hangup_request(ch, None)                       # BYE carries no cause
        else:
            self._hangup_request(ch, cause)
        if ch.originating:
            ch.originating = False
            self._dial_event(ch, "CANCEL")
        self._leave_all(ch)
        self._destroy(ch, cause)

    def _dialplan_ends(self, ch: Channel) -> None:
        """The channel ran off the end of its dialplan (``Hangup()``)."""
        if ch.alive:
            self.person_hangup(ch, 16)

    # ------------------------------------------------------------------ originate
    def originate(self, endpoint: str | None, *, app: str | None = None,
                  app_args: str | None = None, context: str | None = None,
                  extension: str | None = None, priority: int | None = None,
                  label: str | None = None, caller_id: str | None = None,
                  timeout: float | None = None, variables: dict[str, Any] | None = None,
                  channel_id: str | None = None, other_channel_id: str | None = None,
                  originator: str | None = None, script: PersonScript | None = None,
                  role: str = "") -> Channel:
        """``POST /channels``: returns the outgoing channel (``;1`` for Local)."""
        if not endpoint:
            raise AriHttpError(400, "Endpoint must be specified")
        if not app and not extension:
            raise AriHttpError(400, "Application or extension must be specified")
        tech, resource = self._split_endpoint(endpoint)
        self._check_ids(channel_id, other_channel_id)
        if timeout is not None and timeout < 0:
            timeout = None if timeout == -1 else self.originate_timeout   # -1: no timeout
        elif not timeout:
            timeout = self.originate_timeout
        args = [a for a in (app_args or "").split(",")] if app_args else []
        after: tuple[Any, ...] = ("stasis", app, args) if app else (
            "dialplan", context or "default", extension, priority or 1)
        caller = parse_caller_id(caller_id)
        if tech == "Local":
            exten, ctx = resource
            ch1, ch2 = self._local_pair(exten, ctx, caller, channel_id, other_channel_id,
                                        after_answer=after)
            self._dialplan(ch1, "AppDial2", "(Outgoing Line)")
            for key, value in (variables or {}).items():
                for half in (ch1, ch2):
                    self._varset(half, str(key), str(value))
            if app:
                ch1.watchers.add(app)
                ch2.watchers.add(app)
                self.known_apps.add(app)
            if script is not None:
                ch1.after_answer = ("program", person_program(script), 0)
            ch1.role = ch2.role = role or ("caller" if ctx == "from-pstn" else
                                           "customer" if ctx == "customers" else "agent")
            ch1.originating = True
            if timeout is not None:
                ch1.timeout_handle = self._later(timeout, self._originate_timeout, ch1,
                                                 owner=ch1)
            self._soon(self._start_local, ch1, ch2, owner=ch1)
            return ch1
        device = resource
        ch = self._pjsip_channel(device, caller, channel_id, after_answer=after)
        ch.variables.update({str(k): str(v) for k, v in (variables or {}).items()})
        if app:
            ch.watchers.add(app)
            self.known_apps.add(app)
        ch.role = role or "agent"
        ch.originating = True
        if timeout is not None:
            ch.timeout_handle = self._later(timeout, self._originate_timeout, ch, owner=ch)
        self._soon(self._start_pjsip, ch, owner=ch)
        return ch

    def create(self, endpoint: str | None, *, app: str | None, app_args: str | None = None,
               channel_id: str | None = None, other_channel_id: str | None = None,
               variables: dict[str, Any] | None = None) -> Channel:
        """``POST /channels/create``: a channel in Stasis, not dialled yet (``/dial`` does)."""
        if not endpoint:
            raise AriHttpError(400, "Endpoint must be specified")
        tech, resource = self._split_endpoint(endpoint)
        self._check_ids(channel_id, other_channel_id)
        args = app_args.split(",") if app_args else []
        if tech == "Local":
            exten, ctx = resource
            ch, ch2 = self._local_pair(exten, ctx, ("", ""), channel_id, other_channel_id,
                                       after_answer=None)
            ch.app_name = ""
            ch2.state = "Down"
            if app:
                ch2.watchers.add(app)
        else:
            ch = self._pjsip_channel(resource, ("", ""), channel_id, after_answer=None)
        ch.role = "app"
        ch.variables.update({str(k): str(v) for k, v in (variables or {}).items()})
        if not app:
            # Accepted with 200 by the real Asterisk (README lesson 2), then gone at once.
            self._soon(self._hangup_with_peer, ch, 16, owner=ch)
            return ch
        ch.watchers.add(app)
        self.known_apps.add(app)
        ch.app_name = ch.app_data = ""
        self._enter_stasis(ch, app, args, set_dialplan=False)
        return ch

    def dial(self, ch: Channel, *, caller: str | None = None, timeout: int | None = None) -> None:
        """``POST /channels/{id}/dial`` of a channel made by ``create``."""
        if ch.state != "Down":
            raise AriHttpError(409, "Channel is not in the 'Down' state")
        caller_ch = None
        if caller:
            caller_ch = self.channels.get(caller)
            if caller_ch is None:
                raise AriHttpError(404, "Caller channel not found")
        ch.dial_caller = caller_ch
        ch.originating = True
        if timeout and timeout > 0:
            ch.timeout_handle = self._later(timeout, self._dial_timeout, ch, owner=ch)
        if ch.peer is not None:
            ch.peer.state = "Ring"
            self._soon(self._start_local, ch, ch.peer, owner=ch)
        else:
            self._soon(self._start_pjsip, ch, owner=ch)

    def _dial_timeout(self, ch: Channel) -> None:
        if ch.alive and ch.originating:
            ch.originating = False
            self._dial_event(ch, "NOANSWER")
            self._hangup_request(ch, 19)
            self._hangup_with_peer(ch, 19)

    def _split_endpoint(self, endpoint: str) -> tuple[str, Any]:
        if "/" not in endpoint:
            raise AriHttpError(400, "Invalid endpoint specified")
        tech, resource = endpoint.split("/", 1)
        if tech.lower() == "local":
            target = resource.split("/", 1)[0]
            exten, _, ctx = target.partition("@")
            if not exten:
                raise AriHttpError(500, "Allocation failed", key="error")
            return "Local", (exten, ctx or "default")
        if tech.upper() == "PJSIP":
            device = self.device(resource)
            if device is None:
                raise AriHttpError(500, "Allocation failed", key="error")
            return "PJSIP", device
        raise AriHttpError(500, "Allocation failed", key="error")

    def _check_ids(self, *ids: str | None) -> None:
        for cid in ids:
            if cid and cid in self.channels:
                raise AriHttpError(409, "Channel with given unique ID already exists")

    def _local_pair(self, exten: str, ctx: str, caller: tuple[str, str], id1: str | None,
                    id2: str | None, *, after_answer: tuple[Any, ...] | None
                    ) -> tuple[Channel, Channel]:
        n = self._unreal
        self._unreal += 1
        base = f"Local/{exten}@{ctx}-{n:08x}"
        ch1 = Channel(id1 or self._new_id(), base + ";1", "Local", "Down", caller=caller,
                      dialplan=(ctx, exten, 1, "AppDial2", "(Outgoing Line)"))
        ch2 = Channel(id2 or self._new_id(), base + ";2", "Local", "Ring", caller=caller,
                      dialplan=(ctx, exten, 1, "", ""))
        ch1.peer, ch2.peer = ch2, ch1
        ch1.half, ch2.half = 1, 2
        ch1.dialstring = f"{exten}@{ctx}"
        ch1.after_answer = after_answer
        self._add_channel(ch1)
        self._add_channel(ch2)
        return ch1, ch2

    def _pjsip_channel(self, device: Device, caller: tuple[str, str], cid: str | None, *,
                       after_answer: tuple[Any, ...] | None) -> Channel:
        n = self._unreal
        self._unreal += 1
        ch = Channel(cid or self._new_id(), f"PJSIP/{device.resource}-{n:08x}", "PJSIP",
                     "Down", caller=caller,
                     dialplan=(device.context, "s", 1, "AppDial2", "(Outgoing Line)"),
                     protocol_id=str(uuid.uuid4()))
        ch.device = device
        ch.dialstring = device.resource
        ch.after_answer = after_answer
        return self._add_channel(ch)

    # ------------------------------------------------------------------ the called side
    def _start_local(self, ch1: Channel, ch2: Channel) -> None:
        if not (ch1.alive and ch2.alive) or ch2.started:
            return
        ch2.started = True
        self._ch_event("ChannelCallerId", ch2, caller_presentation=0,
                       caller_presentation_txt="Presentation Allowed, Not Screened")
        self._ch_event("ChannelConnectedLine", ch2)
        self._dial_event(ch1, "")
        caller_all = f'"{ch2.caller_name}" <{ch2.caller_number}>'
        program = lab_program(ch2.context, ch2.exten, ch2.variables, caller_all)
        if program is None:
            _log(ch1, logging.INFO, "pbxsim: no extension %s@%s in the lab dialplan", ch2.exten,
                 ch2.context)
            self._originate_fail(ch1, "CHANUNAVAIL", 1, 1)
            return
        if ch2.context == "from-pstn":
            ch2.role = ch2.role or "caller"
            extra = ch2.extra_args
            if extra:
                program = [(a, f"{d},{extra}" if a == "Stasis" else d) for a, d in program]
        self._run_program(ch2, program, 0)

    # ------------------------------------------------------------------ dialplan interpreter
    def _run_program(self, ch: Channel, steps: list[Step], start: int) -> None:
        ch.program = steps
        ch.pc = start
        self._step(ch)

    def _step(self, ch: Channel) -> None:
        """Run dialplan priorities until one waits (Wait, SendDTMF, Stasis) or hangs up."""
        while ch.alive and ch.program is not None and ch.pc < len(ch.program):
            app, data = ch.program[ch.pc]
            ch.pc += 1
            ch.priority = ch.pc
            self._dialplan(ch, app, data)
            if app == "Answer":
                if ch.half == 2:
                    self._answer_pair(ch)
                else:
                    self._set_state(ch, "Up")
            elif app == "Ringing":
                outgoing = ch.peer if ch.half == 2 else None
                if outgoing is not None and outgoing.originating:
                    self._set_state(outgoing, "Ringing")
                    self._soon(self._dial_ringing, outgoing, owner=outgoing)
            elif app == "Wait":
                self._later(float(data), self._step, ch, owner=ch)
                return
            elif app == "SendDTMF":
                digits = data.split(",", 1)[0]
                self._send_digits(ch.peer if ch.peer is not None else ch, digits)
                self._later(dtmf_seconds(digits), self._step, ch, owner=ch)
                return
            elif app in ("Busy", "Congestion"):
                outgoing = ch.peer if ch.half == 2 else None
                if outgoing is not None and outgoing.originating:
                    if app == "Busy":       # the ;1 reports cause 0 on busy (README lesson 6)
                        self._originate_fail(outgoing, "BUSY", 0, 17)
                    else:
                        self._originate_fail(outgoing, "CONGESTION", 34, 34)
                else:
                    self.person_hangup(ch, 17 if app == "Busy" else 34)
                return
            elif app == "Stasis":
                app_name, *args = data.split(",")
                if app_name == "callcontrol":
                    app_name = self.stasis_app
                self._enter_stasis(ch, app_name, args, from_dialplan=True)
                return
            elif app == "Hangup":
                self.person_hangup(ch, 16)
                return
        if ch.alive and ch.program is not None:
            self.person_hangup(ch, 16)     # ran off the end of the dialplan

    def _dial_ringing(self, outgoing: Channel) -> None:
        if outgoing.alive and outgoing.originating:
            self._dial_event(outgoing, "RINGING")

    def _answer_pair(self, answering: Channel) -> None:
        """``answering`` (a ;2, or a Stasis channel answered by the app) goes Up, so does ;1."""
        self._set_state(answering, "Up")
        ch1 = answering.peer if answering.half == 2 else None
        if ch1 is None or not ch1.alive:
            return
        self._set_state(ch1, "Up")
        self._outgoing_answered(ch1)

    def _outgoing_answered(self, ch1: Channel) -> None:
        if not ch1.originating:
            return
        ch1.originating = False
        if ch1.timeout_handle is not None:
            ch1.timeout_handle.cancel()
        self._dial_event(ch1, "ANSWER")
        after = ch1.after_answer
        ch1.after_answer = None
        if after is not None:
            if after[0] == "stasis":
                self._enter_stasis(ch1, after[1], after[2])
            elif after[0] == "program":
                self._run_program(ch1, after[1], after[2])
            else:
                _, context, extension, priority = after
                ch1.context, ch1.exten = context, extension
                program = lab_program(context, extension, ch1.variables)
                if program is None:
                    _log(ch1, logging.INFO, "pbxsim: no extension %s@%s; %s hangs up", extension,
                         context,
                                ch1.name)
                    self._soon(self._dialplan_ends, ch1, owner=ch1)
                else:
                    self._run_program(ch1, program, max(0, priority - 1))
        if ch1.device is not None:
            dev = ch1.device
            self._start_script(ch1, PersonScript(hangup_after=dev.hangup_after, dtmf=dev.dtmf))

    def _start_script(self, ch: Channel, script: PersonScript) -> None:
        """A SIP phone's person (no dialplan runs on it): hang up and DTMF timers."""
        if script.hangup_after is not None:
            self._later(script.hangup_after, self.person_hangup, ch, 16, owner=ch)
        if script.dtmf:
            self._later(script.dtmf_after, self._send_digits, ch, script.dtmf, owner=ch)

    def _send_digits(self, target: Channel, digits: str, index: int = 0) -> None:
        """The far end sends DTMF: ChannelDtmfReceived on ``target``, 350 ms apart."""
        if not target.alive or index > len(digits):
            return
        if index == 0:
            self._later(0.2, self._send_digits, target, digits, 1, owner=target)
            return
        digit = digits[index - 1]
        self._ch_event("ChannelDtmfReceived", target, digit=digit, duration_ms=100)
        for rec in list(target.recordings):
            if rec.terminate_on == "any" or rec.terminate_on == digit:
                self._recording_finish(rec)
        if index < len(digits):
            self._later(0.35, self._send_digits, target, digits, index + 1, owner=target)

    def _originate_fail(self, ch1: Channel, dialstatus: str, cause1: int, cause2: int) -> None:
        ch1.originating = False
        self._dial_event(ch1, dialstatus)
        ch2 = ch1.peer
        if ch2 is not None and ch2.alive:
            self._hangup_request(ch2, cause2)
            self._destroy(ch1, cause1)
            self._leave_all(ch2)
            self._destroy(ch2, cause2)
        else:
            self._leave_all(ch1)
            self._destroy(ch1, cause1)

    def _originate_timeout(self, ch1: Channel) -> None:
        """Nobody answered within the originate ``timeout``: cause 19, no NOANSWER Dial."""
        if not ch1.alive or not ch1.originating:
            return
        ch1.originating = False
        if ch1.role == "caller":
            self.counters["calls_abandoned"] += 1
        ch2 = ch1.peer
        if ch2 is not None and ch2.alive:
            self._hangup_request(ch2, 19)
            self._leave_all(ch2)
            self._destroy(ch1, 19)
            self._hangup_request(ch2, 16, soft=True)
            self._destroy(ch2, 19)
        else:
            self._leave_all(ch1)
            self._destroy(ch1, 19)

    def _start_pjsip(self, ch: Channel) -> None:
        if not ch.alive:
            return
        dev = ch.device
        assert dev is not None
        self._dial_event(ch, "")
        if dev.behaviour == "busy":
            self._originate_fail(ch, "BUSY", 17, 17)
            return
        if dev.behaviour == "congestion":
            self._originate_fail(ch, "CONGESTION", 34, 34)
            return
        self._set_state(ch, "Ringing")
        self._dial_event(ch, "RINGING")
        if dev.behaviour == "answer":
            self._later(dev.answer_after, self._pjsip_answers, ch, owner=ch)
        elif dev.behaviour == "reject":
            self._later(dev.answer_after, self._originate_fail, ch, "BUSY", 21, 21, owner=ch)

    def _pjsip_answers(self, ch: Channel) -> None:
        if ch.alive:
            self._set_state(ch, "Up")
            self._outgoing_answered(ch)

    # ------------------------------------------------------------------ scripted people
    def set_device(self, endpoint: str, *, answer_after: float = 0.5,
                   behaviour: str = "answer", hangup_after: float | None = None,
                   dtmf: str | None = None) -> Device:
        tech, _, resource = endpoint.partition("/")
        if tech.upper() != "PJSIP" or not resource or "/" in resource:
            raise ValueError(f"device must look like PJSIP/<resource>, not {endpoint!r}")
        if behaviour not in Device.BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {', '.join(Device.BEHAVIOURS)}")
        if answer_after < 0 or (hangup_after is not None and hangup_after < 0):
            raise ValueError("delays must be >= 0")
        if dtmf is not None and not re.fullmatch(r"[0-9A-D*#]+", dtmf):
            raise ValueError("dtmf may only hold 0-9, A-D, * and #")
        device = Device(resource, behaviour=behaviour, answer_after=answer_after,
                        hangup_after=hangup_after, dtmf=dtmf)
        self.devices[resource] = device
        return device

    def device(self, resource: str) -> Device | None:
        device = self.devices.get(resource)
        if device is None and re.fullmatch(r"[0-9]{2,10}", resource):
            # Any numeric extension is an agent phone with the default behaviour.
            device = self.devices[resource] = Device(resource)
        return device

    def place_call_now(self, *, number: str, name: str = "", extension: str = "caller",
                       app_args: str | None = None, hangup_after: float | None = None,
                       dtmf: str | None = None, dtmf_after: float = 2.0,
                       give_up_after: float | None = None, dialled: str = "+35722000000",
                       technology: str = "Local") -> SimCall:
        """A PSTN caller ``number`` calls ``dialled``; see ``PbxSimulator.place_call``."""
        if not number or not re.fullmatch(r"\+?[0-9A-Za-z*#]+", number):
            raise ValueError(f"caller number {number!r} is not a phone number")
        if not re.fullmatch(r"\+?[0-9]+|s|service", dialled):
            raise ValueError(f"dialled number {dialled!r} is not a number")
        if extension not in ("caller", "caller-dtmf", "caller-hangup"):
            raise ValueError("extension must be caller, caller-dtmf or caller-hangup")
        if hangup_after is not None and hangup_after < 0:
            raise ValueError("hangup_after must be >= 0")
        if give_up_after is not None and give_up_after <= 0:
            raise ValueError("give_up_after must be > 0")
        if dtmf is not None and not re.fullmatch(r"[0-9A-D*#]+", dtmf):
            raise ValueError("dtmf may only hold 0-9, A-D, * and #")
        script = PersonScript(hangup_after=300.0)
        if extension == "caller-dtmf":
            script = PersonScript(hangup_after=None, dtmf="1234#", dtmf_after=2.0)
        elif extension == "caller-hangup":
            script = PersonScript(hangup_after=6.0)
        if hangup_after is not None:
            script.hangup_after = hangup_after
        if dtmf is not None:
            script.dtmf, script.dtmf_after = dtmf, dtmf_after
        self.counters["calls_placed"] += 1
        caller_id = f'"{name}" <{number}>' if name else number
        if technology.upper() == "PJSIP":
            return self._place_pjsip_call(number, name, dialled, script, give_up_after,
                                          app_args)
        ch1 = self.originate(f"Local/{dialled}@from-pstn", context="inbound",
                             extension=extension, caller_id=caller_id, timeout=give_up_after,
                             script=script, role="caller")
        ch2 = ch1.peer
        assert ch2 is not None
        if app_args:
            ch2.extra_args = app_args
        # The ;2 enters Stasis synchronously so the caller can use the ids right away.
        self._start_local(ch1, ch2)
        return SimCall(ch1.id, ch2.id, number, name, extension)

    def _place_pjsip_call(self, number: str, name: str, dialled: str, script: PersonScript,
                          give_up_after: float | None, app_args: str | None) -> SimCall:
        """A SIP phone (``PJSIP/sipp``) calls in: one channel, it is the Stasis channel."""
        n = self._unreal
        self._unreal += 1
        ch = Channel(self._new_id(), f"PJSIP/sipp-{n:08x}", "PJSIP", "Ring",
                     caller=(name, number), dialplan=("from-pstn", dialled, 1, "", ""),
                     protocol_id=f"{n + 1}-{uuid.uuid4().hex[:5]}@127.0.0.1")
        ch.connected_name = ch.connected_number = ""
        ch.role = "caller"
        ch.script = script
        self._add_channel(ch)
        program = lab_program("from-pstn", dialled, None, f'"{name}" <{number}>')
        assert program is not None
        if app_args:
            program = [(a, f"{d},{app_args}" if a == "Stasis" else d) for a, d in program]
        ch.originating = True        # unanswered: the person may give up (CANCEL)
        self._run_program(ch, program, 0)
        ch.after_answer = None
        if give_up_after is not None:
            self._later(give_up_after, self._caller_gives_up, ch, owner=ch)
        return SimCall(ch.id, ch.id, number, name, "sipp")

    def _caller_gives_up(self, ch: Channel) -> None:
        if ch.alive and ch.state != "Up":
            ch.originating = False
            self.counters["calls_abandoned"] += 1
            self.person_hangup(ch, 16)

    def answer(self, ch: Channel) -> None:
        """``POST /channels/{id}/answer`` of a Stasis channel."""
        if ch.state == "Up":
            return
        ch.ringing = False
        if ch.role == "caller":
            self.counters["calls_answered"] += 1
        if ch.half == 2:
            self._answer_pair(ch)
        else:
            self._set_state(ch, "Up")
            if ch.tech == "PJSIP" and ch.originating and ch.dial_caller is None:
                # an inbound SIP caller answered by the app
                ch.originating = False
                if ch.script is not None:
                    self._start_script(ch, ch.script)

    def person_side(self, channel_id: str) -> Channel:
        """The channel the simulated person is on, given either half of their call."""
        ch = self.get_channel(channel_id)
        if ch.half == 2 and ch.role == "caller" and ch.peer is not None and ch.peer.alive:
            return ch.peer
        if ch.half == 1 and ch.role in ("agent", "customer") and ch.peer is not None \
                and ch.peer.alive:
            return ch.peer
        return ch

    def send_dtmf_from_person(self, channel_id: str, digits: str) -> None:
        if not digits or not re.fullmatch(r"[0-9A-D*#]+", digits):
            raise ValueError("digits may only hold 0-9, A-D, * and #")
        person = self.person_side(channel_id)
        target = person.peer if person.peer is not None else person
        self._send_digits(target, digits)

    # ------------------------------------------------------------------ channel operations
    def continue_in_dialplan(self, ch: Channel, context: str | None, extension: str | None,
                             priority: int | None) -> None:
        ch.context = context or ch.context
        ch.exten = extension or ch.exten
        ch.priority = priority or ch.priority + 1
        if ch.bridge is not None:
            self._bridge_remove(ch.bridge, ch, by_app=False)
        self._leave_stasis(ch)
        program = lab_program(ch.context, ch.exten, ch.variables)
        if program is not None:
            self._soon(self._run_program, ch, program, max(0, ch.priority - 1), owner=ch)
        else:
            # No such extension in the lab dialplan: the channel hangs up.
            self._soon(self._dialplan_ends, ch, owner=ch)

    def redirect(self, ch: Channel, endpoint: str) -> None:
        tech = endpoint.split("/", 1)[0]
        if "/" not in endpoint:
            raise AriHttpError(400, "Invalid endpoint specified")
        if ch.tech != "PJSIP" or tech.upper() != "PJSIP":
            raise AriHttpError(422, f"Endpoint technology '{tech}' does not match channel "
                                    f"technology '{ch.tech}'")
        self._soon(self.person_hangup, ch, 16, owner=ch)

    def snoop(self, target: Channel, *, app: str, spy: str, whisper: str,
              app_args: str | None, snoop_id: str | None) -> Channel:
        if snoop_id and snoop_id in self.channels:
            raise AriHttpError(409, "Channel with given unique ID already exists")
        n = self._snoop_seq
        self._snoop_seq += 1
        snoop = Channel(snoop_id or self._new_id(), f"Snoop/{target.id}-{n:08x}", "Snoop", "Up",
                        caller=("", ""), dialplan=("default", "s", 1, "", ""))
        snoop.snoop_of = target
        snoop.spy, snoop.whisper = spy, whisper
        snoop.role = "snoop"
        target.snoops.add(snoop)
        self._add_channel(snoop)
        snoop.created_json = snoop.json()       # what the REST response shows
        self._enter_stasis(snoop, app, app_args.split(",") if app_args else [])
        return snoop

    def set_variable(self, ch: Channel, name: str, value: str) -> None:
        self._varset(ch, name, value)

    def get_variable(self, ch: Channel, name: str) -> str:
        functions = {
            "CALLERID(num)": ch.caller_number, "CALLERID(name)": ch.caller_name,
            "CALLERID(all)": f'"{ch.caller_name}" <{ch.caller_number}>',
            "CONNECTEDLINE(num)": ch.connected_number, "CHANNEL(name)": ch.name,
            "CHANNEL(state)": ch.state, "UNIQUEID": ch.id, "CHANNEL(language)": ch.language,
            "EXTEN": ch.exten, "CONTEXT": ch.context,
        }
        if name in functions:
            return functions[name]
        if name in ch.variables:
            return ch.variables[name]
        if name in self.global_vars:
            return self.global_vars[name]
        raise AriHttpError(404, "Provided variable was not found")

    # ------------------------------------------------------------------ bridges
    def bridge_create(self, *, type_: str | None, bridge_id: str | None,
                      name: str | None) -> Bridge:
        if bridge_id and bridge_id in self.bridges:
            raise AriHttpError(409, f"Bridge with id '{bridge_id}' already exists")
        types = [t.strip() for t in (type_ or "mixing").split(",") if t.strip()] or ["mixing"]
        if any(t not in BRIDGE_TYPES for t in types):
            raise AriHttpError(500, "Unable to create bridge. Possible duplicate bridge id "
                                    "'(null)'")
        br = Bridge(bridge_id or str(uuid.uuid4()), name or "", types)
        self.bridges[br.id] = br
        self.counters["bridges_created"] += 1
        if self.conns or self.listeners:
            self.emit("BridgeCreated", {"bridge": br.json()})
        return br

    def get_bridge(self, bridge_id: str) -> Bridge:
        br = self.bridges.get(bridge_id)
        if br is None:
            raise AriHttpError(404, "Bridge not found")
        return br

    def bridge_add(self, br: Bridge, channel_ids: list[str]) -> None:
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise AriHttpError(400, "Channel not found")
            chans.append(ch)
        for ch in chans:
            if not ch.in_stasis:
                raise AriHttpError(422, "Channel not in Stasis application")
        for ch in chans:
            if ch.bridge is not None:
                self._bridge_remove(ch.bridge, ch, by_app=False)
            ch.bridge = br
            br.channels.append(ch)
            if ch.app:
                br.watchers.add(ch.app)
            br.update_technology()
            if self.conns or self.listeners:
                self.emit("ChannelEnteredBridge", {"bridge": br.json(), "channel": ch.json()},
                          channels=(ch,), bridges=(br,))
            else:
                self.emit("ChannelEnteredBridge", {}, channels=(ch,), bridges=(br,))
            self._update_bridgepeers(br)

    def bridge_remove(self, br: Bridge, channel_ids: list[str]) -> None:
        chans = []
        for cid in channel_ids:
            ch = self.channels.get(cid)
            if ch is None:
                raise AriHttpError(400, "Channel not found")
            if ch.bridge is not br:
                raise AriHttpError(422, "Channel not in this bridge")
            chans.append(ch)
        for ch in chans:
            self._bridge_remove(br, ch, by_app=True)

    def _bridge_remove(self, br: Bridge, ch: Channel, *, by_app: bool) -> None:
        if ch.bridge is not br:
            return
        br.channels.remove(ch)
        ch.bridge = None
        br.update_technology()
        if ch.variables.get("BRIDGEPEER"):
            self._varset(ch, "BRIDGEPEER", "")
        if self.conns or self.listeners:
            snapshot = br.json()
            if not br.channels and br.recordings:
                # the recorder is the last one in the bridge for a moment (as recorded)
                snapshot["channels"] = [r.channel_id for r in br.recordings]
            self.emit("ChannelLeftBridge", {"bridge": snapshot, "channel": ch.json()},
                      channels=(ch,), bridges=(br,))
        else:
            self.emit("ChannelLeftBridge", {}, channels=(ch,), bridges=(br,))
        if by_app and ch.app and not any(c.app == ch.app for c in br.channels):
            # README lesson 12: removeChannel of the app's last channel ends its subscription
            br.watchers.discard(ch.app)
        if not br.channels:
            for rec in list(br.recordings):
                self._recording_finish(rec)
        br.update_technology()
        self._update_bridgepeers(br)

    def _update_bridgepeers(self, br: Bridge) -> None:
        if br.bridge_type == "holding":
            return      # a holding bridge has no peers (no BRIDGEPEER in queue_wait_then_agent)
        extras = [r.recorder_name for r in br.recordings]
        if br.moh_class:
            extras.append(br.moh_name)
        for ch in br.channels:
            others = [c.name for c in br.channels if c is not ch]
            value = ",".join(extras + others)
            # Asterisk leaves the last one's BRIDGEPEER alone when it ends up by itself
            if value and ch.variables.get("BRIDGEPEER", "") != value:
                self._varset(ch, "BRIDGEPEER", value)

    def bridge_destroy(self, br: Bridge) -> None:
        for ch in list(br.channels):
            self._bridge_remove(br, ch, by_app=False)
        for rec in list(br.recordings):
            self._recording_finish(rec)
        for pb in list(br.playbacks):
            self._playback_finish(pb, "done")
        br.alive = False
        self.bridges.pop(br.id, None)
        if self.conns or self.listeners:
            self.emit("BridgeDestroyed", {"bridge": br.json()}, bridges=(br,))

    def bridge_moh(self, br: Bridge, moh_class: str | None) -> None:
        if moh_class is None:
            if br.moh_class is None:
                raise AriHttpError(409, "Bridge is not playing music on hold")
            br.moh_class = None
        else:
            if br.moh_class is None:
                n = self._unreal
                self._unreal += 1
                br.moh_name = f"Announcer/ARI_MOH-{n:08x};2"
            br.moh_class = moh_class or "default"
        self._update_bridgepeers(br)

    # ------------------------------------------------------------------ recordings
    def recording_path(self, name: str, fmt: str) -> Path:
        return self.recordings_dir / f"{name}.{audio.EXTENSIONS[fmt]}"

    def stored_recordings(self) -> dict[str, Path]:
        out: dict[str, Path] = {}
        if not self.recordings_dir.is_dir():
            return out
        for path in sorted(self.recordings_dir.iterdir()):
            if path.is_file() and path.suffix[1:] in audio.FORMATS:
                out[path.stem] = path
        return out

    def stored_recording(self, name: str) -> Path | None:
        """The file of stored recording ``name``, as :meth:`stored_recordings` gives it, by
        a stat per format instead of listing the folder: a call's recording is looked up
        two to three times, and the folder holds every recording of the run."""
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            return None
        found = [path for fmt in audio.FORMATS
                 if (path := self.recording_path(name, fmt)).is_file()]
        return max(found) if found else None   # the listing's order: the last one wins

    def stored(self, name: str) -> Path:
        path = self.stored_recording(name)
        if path is None:
            raise AriHttpError(404, "Recording not found")
        return path

    def record(self, target: Channel | Bridge, *, name: str | None, fmt: str | None,
               max_duration: int = 0, if_exists: str = "fail", beep: bool = False,
               terminate_on: str = "none") -> LiveRecording:
        is_bridge = isinstance(target, Bridge)
        if fmt is None:
            if is_bridge:
                # Asterisk 22.10.1 segfaults here (README lesson 1); so does the simulator.
                raise AsteriskCrashed("POST /bridges/{id}/record without format")
            raise AriHttpError(422, "specified format is unknown on this system")
        if fmt not in audio.FORMATS:
            raise AriHttpError(422, "specified format is unknown on this system")
        if not name or not _NAME_OK.match(name) or ".." in name:
            raise AriHttpError(500, "Error parsing request")
        if if_exists not in ("fail", "overwrite", "append"):
            raise AriHttpError(400, "ifExists invalid")
        if terminate_on not in ("none", "any", "*", "#"):
            raise AriHttpError(400, "terminateOn invalid")
        if max_duration < 0:
            raise AriHttpError(400, "maxDurationSeconds must be >= 0")
        if name in self.live_recordings or (
                if_exists == "fail" and self.stored_recording(name) is not None):
            raise AriHttpError(409, f"Recording '{name}' already exists and can not be "
                                    "overwritten")
        uri = ("bridge:" if is_bridge else "channel:") + target.id
        rec = LiveRecording(name, fmt, uri, target, if_exists=if_exists,
                            terminate_on=terminate_on)
        n = self._unreal
        self._unreal += 1
        rec.recorder_name = f"Recorder/ARI-{n:08x};2"
        rec.channel_id = self._new_id()
        self.live_recordings[name] = rec
        target.recordings.add(rec)
        if isinstance(target, Bridge):
            target.update_technology()
            self._update_bridgepeers(target)
        self._soon(self._recording_start, rec, max_duration)
        return rec

    def _recording_start(self, rec: LiveRecording, max_duration: int) -> None:
        if rec.state != "queued" or self.live_recordings.get(rec.name) is not rec:
            return
        rec.state = "recording"
        rec.mark = time.monotonic()
        self._rec_event("RecordingStarted", rec)
        if max_duration > 0:
            rec.timer = self._later(max_duration, self._recording_finish, rec, scaled=False)

    def _rec_event(self, etype: str, rec: LiveRecording) -> None:
        target = rec.target
        chans = (target,) if isinstance(target, Channel) else ()
        bridges = (target,) if isinstance(target, Bridge) else ()
        # A subscribeAll socket whose app also watches the target gets recording events
        # twice (once per subscription), as recorded in the subscribeAll trace.
        self.emit(etype, {"recording": rec.json()}, channels=chans, bridges=bridges,
                  twice_for_all=True)

    def get_live(self, name: str) -> LiveRecording:
        rec = self.live_recordings.get(name)
        if rec is None:
            raise AriHttpError(404, "Recording not found")
        return rec

    def recording_control(self, rec: LiveRecording, op: str) -> None:
        now = time.monotonic()
        if rec.state == "queued":
            self._recording_start(rec, 0)
        if op == "pause" and not rec.paused:
            rec.close_segment(now)
            rec.paused = True
            rec.state = "paused"
        elif op == "unpause" and rec.paused:
            rec.paused = False
            rec.state = "recording"
            rec.mark = now
        elif op == "mute" and not rec.muted:
            rec.close_segment(now)
            rec.muted = True
        elif op == "unmute" and rec.muted:
            rec.close_segment(now)
            rec.muted = False

    def _recording_finish(self, rec: LiveRecording, *, cancel: bool = False) -> None:
        if self.live_recordings.get(rec.name) is not rec:
            return
        if rec.state == "queued":
            rec.state = "recording"
            rec.mark = time.monotonic()
        rec.close_segment(time.monotonic())
        rec.paused = False
        if rec.timer is not None:
            rec.timer.cancel()
        del self.live_recordings[rec.name]
        rec.target.recordings.discard(rec)
        path = self.recording_path(rec.name, rec.format)
        if cancel:
            rec.state = "canceled"
            rec.duration = None
        else:
            segments = rec.segments
            if rec.if_exists == "append" and path.exists() and rec.format == "wav":
                segments = [(_wav_seconds(path), True), *segments]
            for fmt in audio.FORMATS:   # the same name in another format: replaced
                other = self.recording_path(rec.name, fmt)
                if other != path:
                    other.unlink(missing_ok=True)
            try:
                audio.write(path, rec.format, segments)
                self.counters["recordings_written"] += 1
                rec.state = "done"
                rec.duration = int(rec.seconds())
            except OSError as exc:
                with call_context(rec.target.id):
                    logger.error("pbxsim: cannot write recording %s: %s", path, exc)
                rec.state = "failed"
                rec.cause = str(exc)
        if isinstance(rec.target, Bridge) and rec.target.alive:
            rec.target.update_technology()
            self._update_bridgepeers(rec.target)
        self._rec_event("RecordingFailed" if rec.state == "failed" else "RecordingFinished",
                        rec)

    def stop_recording(self, rec: LiveRecording) -> None:
        self._recording_finish(rec)

    def cancel_recording(self, rec: LiveRecording) -> None:
        self._recording_finish(rec, cancel=True)

    # ------------------------------------------------------------------ playbacks
    def play(self, target: Channel | Bridge, media: list[str], *, playback_id: str | None,
             lang: str | None) -> Playback:
        if not media or not all(media):
            raise AriHttpError(500, "Failed to queue media for playback")
        if playback_id and playback_id in self.playbacks:
            raise AriHttpError(409, "Playback with this id already exists")
        uri = ("bridge:" if isinstance(target, Bridge) else "channel:") + target.id
        pb = Playback(playback_id or str(uuid.uuid4()), media, uri, target,
                      language=lang or "en")
        self.playbacks[pb.id] = pb
        target.playbacks.add(pb)
        if uri in self._pb_active:
            # Asterisk plays one thing at a time on a channel or bridge: this one waits
            self._pb_queue.setdefault(uri, []).append(pb)
        else:
            self._pb_active[uri] = pb
            self._soon(self._playback_step, pb)
        return pb

    def _playback_next(self, uri: str) -> None:
        self._pb_active.pop(uri, None)
        queue = self._pb_queue.get(uri)
        if queue:
            nxt = queue.pop(0)
            if not queue:
                del self._pb_queue[uri]
            self._pb_active[uri] = nxt
            self._soon(self._playback_step, nxt)

    def _media_seconds(self, uri: str) -> float | None:
        scheme, _, what = uri.partition(":")
        if scheme == "sound":
            if what.startswith("silence/") and what[8:].isdigit():
                return float(what[8:])
            return SOUNDS.get(what)
        if scheme == "digits":
            return 0.77 * max(1, len(what))
        if scheme == "number":
            return 1.2
        if scheme == "characters":
            return 0.6 * max(1, len(what))
        if scheme == "tone":
            return float("inf")
        if scheme == "recording":
            path = self.stored_recording(what)
            return _wav_seconds(path) if path is not None else None
        return None

    def _pb_event(self, etype: str, pb: Playback) -> None:
        target = pb.target
        chans = (target,) if isinstance(target, Channel) else ()
        bridges = (target,) if isinstance(target, Bridge) else ()
        self.emit(etype, {"playback": pb.json()}, channels=chans, bridges=bridges)

    def _playback_step(self, pb: Playback) -> None:
        if pb.id not in self.playbacks:
            return
        pb.state = "playing"
        self._pb_event("PlaybackStarted", pb)
        uri = pb.media[pb.index]
        seconds = self._media_seconds(uri)
        if seconds is None and uri.partition(":")[0] not in MEDIA_SCHEMES:
            # An unknown scheme starts and is then silently dropped: the recorded Asterisk
            # sent PlaybackStarted and never a PlaybackFinished (errors.json).
            self.playbacks.pop(pb.id, None)
            pb.target.playbacks.discard(pb)
            self._playback_next(pb.target_uri)
            return
        if seconds is None:
            self._playback_finish(pb, "failed")
            return
        self._schedule_playback(pb, seconds)

    def _schedule_playback(self, pb: Playback, seconds: float) -> None:
        if seconds == float("inf"):
            pb.ends_at = float("inf")
            return
        pb.ends_at = time.monotonic() + seconds * self.time_scale
        pb.timer = self._later(seconds, self._playback_media_done, pb)

    def _playback_media_done(self, pb: Playback) -> None:
        if pb.id not in self.playbacks:
            return
        if pb.index + 1 < len(pb.media):
            pb.state = "continuing"
            self._pb_event("PlaybackContinuing", pb)
            pb.index += 1
            self._playback_step(pb)
        else:
            self._playback_finish(pb, "done")

    def _playback_finish(self, pb: Playback, state: str) -> None:
        if self.playbacks.pop(pb.id, None) is None:
            return
        if pb.timer is not None:
            pb.timer.cancel()
        pb.target.playbacks.discard(pb)
        pb.state = state
        if self._pb_active.get(pb.target_uri) is pb:
            self._playback_next(pb.target_uri)
        elif pb in self._pb_queue.get(pb.target_uri, []):
            self._pb_queue[pb.target_uri].remove(pb)
        self._pb_event("PlaybackFinished", pb)

    def get_playback(self, playback_id: str) -> Playback:
        pb = self.playbacks.get(playback_id)
        if pb is None:
            raise AriHttpError(404, "Playback not found")
        return pb

    def playback_control(self, pb: Playback, operation: str | None) -> None:
        if operation not in PLAYBACK_OPERATIONS:
            raise AriHttpError(400, f"Invalid operation {operation}")
        if pb.state == "queued":
            raise AriHttpError(409, "Playback not in a state to be controlled")
        if operation == "pause" and pb.state == "playing":
            if pb.timer is not None:
                pb.timer.cancel()
            pb.remaining = (pb.ends_at - time.monotonic()) / self.time_scale
            pb.state = "paused"
        elif operation == "unpause" and pb.state == "paused":
            pb.state = "playing"
            self._pb_event("PlaybackStarted", pb)
            self._schedule_playback(pb, max(0.0, pb.remaining or 0.0))
        elif operation == "restart" and pb.state == "playing":
            if pb.timer is not None:
                pb.timer.cancel()
            self._schedule_playback(pb, self._media_seconds(pb.media[pb.index]) or 0.0)

    def stop_playback(self, pb: Playback) -> None:
        self._playback_finish(pb, "done")

    # ------------------------------------------------------------------ device states
    def device_state(self, name: str) -> str:
        if name in self.device_states:
            return self.device_states[name]
        tech, _, resource = name.partition("/")
        if tech.upper() == "PJSIP" and resource in self.devices:
            busy = any(c.device is not None and c.device.resource == resource
                       for c in self.channels.values())
            return "INUSE" if busy else "NOT_INUSE"
        return "UNKNOWN"

    def set_device_state(self, name: str, state: str | None) -> None:
        if not name.startswith("Stasis:"):
            raise AriHttpError(409, "Uncontrolled device specified")
        if state not in DEVICE_STATES:
            raise AriHttpError(400, "Invalid device state specified")
        self.device_states[name] = state
        apps = tuple(app for app, subs in self.app_subscriptions.items()
                     if f"deviceState:{name}" in subs)
        self.emit("DeviceStateChanged", {"device_state": {"name": name, "state": state}},
                  apps=apps)

    # ------------------------------------------------------------------ applications
    def application_json(self, app: str) -> dict[str, Any]:
        channel_ids = [c.id for c in self.channels.values()
                       if (c.in_stasis and c.app == app) or app in c.watchers]
        bridge_ids = [b.id for b in self.bridges.values() if app in b.watchers]
        subs = self.app_subscriptions.get(app, set())
        allowed, disallowed = self.event_filters.get(app, (frozenset(), frozenset()))
        return {
            "name": app, "channel_ids": channel_ids, "bridge_ids": bridge_ids,
            "endpoint_ids": sorted(s[9:] for s in subs if s.startswith("endpoint:")),
            "device_names": sorted(s[12:] for s in subs if s.startswith("deviceState:")),
            "events_allowed": [{"type": t} for t in sorted(allowed)],
            "events_disallowed": [{"type": t} for t in sorted(disallowed)],
        }

    def set_event_filter(self, app: str, allowed: list[str] | None,
                         disallowed: list[str] | None) -> None:
        """None keeps that list as it is (the filter outlives the app's websockets)."""
        old_allowed, old_disallowed = self.event_filters.get(app, (frozenset(), frozenset()))
        new = (old_allowed if allowed is None else frozenset(allowed),
               old_disallowed if disallowed is None else frozenset(disallowed))
        if new[0] or new[1]:
            self.event_filters[app] = new
        else:
            self.event_filters.pop(app, None)

    def subscribe(self, app: str, sources: list[str], *, add: bool) -> None:
        resolved = []
        for source in sources:
            scheme, _, ident = source.partition(":")
            if scheme not in ("channel", "bridge", "endpoint", "deviceState") or not ident:
                raise AriHttpError(400, "Invalid event source URI scheme")
            if scheme == "channel" and ident not in self.channels:
                raise AriHttpError(422, "Event source does not exist")
            if scheme == "bridge" and ident not in self.bridges:
                raise AriHttpError(422, "Event source does not exist")
            if scheme == "endpoint":
                tech, _, res = ident.partition("/")
                if tech.upper() != "PJSIP" or (res and res not in self.devices):
                    raise AriHttpError(422, "Event source does not exist")
            resolved.append((scheme, ident, source))
        subs = self.app_subscriptions.setdefault(app, set())
        for scheme, ident, source in resolved:
            if scheme == "channel":
                ch = self.channels[ident]
                (ch.watchers.add if add else ch.watchers.discard)(app)
            elif scheme == "bridge":
                br = self.bridges[ident]
                (br.watchers.add if add else br.watchers.discard)(app)
            (subs.add if add else subs.discard)(source)

    # ------------------------------------------------------------------ restart
    def reset_calls(self) -> None:
        """A restart: every channel, bridge, live recording and playback is gone, silently."""
        for ch in list(self.channels.values()):
            ch.alive = False
            for handle in ch.timers:
                handle.cancel()
        self._generation += 1
        for rec in self.live_recordings.values():
            if rec.timer is not None:
                rec.timer.cancel()
        for pb in self.playbacks.values():
            if pb.timer is not None:
                pb.timer.cancel()
        self.channels.clear()
        self.bridges.clear()
        self.live_recordings.clear()
        self.playbacks.clear()
        self._pb_active.clear()
        self._pb_queue.clear()
        self.device_states.clear()
        self.app_subscriptions.clear()
        self.event_filters.clear()
        self.crashed = False
        self.started_at = ari_timestamp()

    def state(self) -> dict[str, Any]:
        return {
            "channels": [c.summary() for c in self.channels.values()],
            "bridges": [{**b.json(), "moh": b.moh_class,
                         "recordings": sorted(r.name for r in b.recordings)}
                        for b in self.bridges.values()],
            "recordings": {"live": [r.json() for r in self.live_recordings.values()],
                           "stored": sorted(self.stored_recordings())},
            "devices": {r: {"behaviour": d.behaviour, "answer_after": d.answer_after,
                            "hangup_after": d.hangup_after, "dtmf": d.dtmf}
                        for r, d in sorted(self.devices.items())},
            "apps": sorted(a for a, c in self.conns.items() if c),
            "crashed": self.crashed,
            "time_scale": self.time_scale,
            "counters": dict(self.counters),
        }


def _log(ch: Channel, level: int, msg: str, *args: Any) -> None:
    """Log about a call with its channel id as the call id."""
    with call_context(ch.id):
        logger.log(level, msg, *args)


def _wav_seconds(path: Path) -> float:
    import wave

    with contextlib.suppress(Exception), wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())
    return 0.0
