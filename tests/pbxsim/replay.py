"""Replay a recorded Asterisk trace against the simulator and compare what comes back.

The trace's requests (``actor`` app and simulator) are sent again with trace ids translated
to simulator ids; sipp notes become simulated SIP phones. Before each request the replay
waits until the simulator has produced the events the real Asterisk had produced by then,
so the app's reactions happen in the same state. At the end events are compared per
channel *role* (the channel name without its counter, e.g. ``Local/1001@agents;1``, plus an
occurrence number): the ordered sequence of (type, state, the fields call control reads)
must be the same. Responses are compared by status, JSON keys and error message.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from callcontrol.pbxsim import PbxSimulator

TRACES = Path(__file__).parent / "traces"
AUTH = {"Authorization": aiohttp.encode_basic_auth("callcontrol", "callcontrol")}
BAD_AUTH = {"Authorization": aiohttp.encode_basic_auth("callcontrol", "wrong")}

# Event types left out of the comparison everywhere, with the reason (one line each).
IGNORED_TYPES = {
    "ChannelConnectedLine": "connected-line updates follow Asterisk's internal frame timing; "
                            "call control never reads them",
    "ChannelCallerId": "the end-of-call 'Number Unavailable' caller-id refresh of a dying "
                       "Local ;2 is not modelled; call control reads caller ids from channels",
    "DeviceStateChanged": "Local/PJSIP device-state churn is only sent to subscribeAll "
                          "sockets and not modelled (deviceStates API is)",
    "ChannelVarset:BRIDGEPVTCALLID": "SIP call-ids of real phones are not simulated",
    "ChannelVarset:RTPAUDIOQOS*": "RTP quality statistics of real media are not simulated",
    "ChannelVarset:BRIDGEPEER": "Asterisk re-announces BRIDGEPEER on internal bridge "
                                "technology swaps; the simulator sets it once per change and "
                                "call control never reads it",
}
# Response fields that may legitimately differ, with the reason.
EQUIVALENT_STATES = {"queued", "playing"}   # a playback on an idle channel may start at once
# BRIDGEPEER values name recorder/announcer helper channels whose ids/counters differ.
_COUNTER = re.compile(r"-[0-9a-f]{8}(;[12])?")


def load(name: str) -> list[dict[str, Any]]:
    return json.loads((TRACES / name).read_text())


def role_of_name(name: str) -> str:
    if name.startswith("Snoop/"):
        return "Snoop/" + name.rsplit("-", 1)[-1]
    return _COUNTER.sub(lambda m: m.group(1) or "", name)


class Keyer:
    """Stable keys for channels (role#occurrence), bridges (#k) and playbacks (#k)."""

    def __init__(self) -> None:
        self.channel: dict[str, str] = {}
        self._role_counts: dict[str, int] = {}
        self.bridge: dict[str, str] = {}
        self.playback: dict[str, str] = {}

    def ch(self, channel: dict[str, Any]) -> str:
        cid = channel["id"]
        if cid not in self.channel:
            role = role_of_name(channel["name"])
            n = self._role_counts.get(role, 0)
            self._role_counts[role] = n + 1
            self.channel[cid] = f"{role}#{n}"
        return self.channel[cid]

    def br(self, bridge_id: str) -> str:
        if bridge_id not in self.bridge:
            self.bridge[bridge_id] = f"bridge#{len(self.bridge)}"
        return self.bridge[bridge_id]

    def pb(self, playback_id: str) -> str:
        if playback_id not in self.playback:
            self.playback[playback_id] = f"playback#{len(self.playback)}"
        return self.playback[playback_id]

    def event_key(self, ev: dict[str, Any]) -> str:
        if ev.get("channel"):
            return self.ch(ev["channel"])
        if ev["type"] == "Dial":
            return self.ch(ev["peer"])
        if "recording" in ev:
            return "recording:" + ev["recording"]["name"]
        if "playback" in ev:
            return self.pb(ev["playback"]["id"])
        if "bridge" in ev:
            return self.br(ev["bridge"]["id"])
        if "device_state" in ev:
            return "device:" + ev["device_state"]["name"]
        return "other"

    def signature(self, ev: dict[str, Any], ids: dict[str, str] | None = None) -> tuple[Any, ...]:
        t = ev["type"]
        sig: list[Any] = [t]
        ch = ev.get("channel")
        if ch:
            dp = ch["dialplan"]
            sig.append(ch["state"])
            # (the caller number of a Local ;2 follows connected-line propagation: not compared)
            sig.append((dp["context"], dp["exten"], dp["priority"], dp["app_name"]))
        if t == "ChannelHangupRequest":
            sig += [ev.get("cause"), ev.get("soft", False), ev.get("tech_cause")]
        elif t == "ChannelDestroyed":
            sig += [ev["cause"], ev["cause_txt"]]
        elif t == "Dial":
            sig += [ev["dialstatus"], ev["dialstring"], ev["peer"]["state"],
                    self.ch(ev["caller"]) if ev.get("caller") else None]
        elif t == "StasisStart":
            args = ev["args"]
            if ids is not None:
                args = [ids.get(a, a) for a in args]
            sig.append(tuple(args))
        elif t == "ChannelVarset":
            value = ev["value"]
            if ev["variable"] == "BRIDGEPEER":
                value = ",".join(sorted(role_of_name(v) for v in value.split(",") if v))
            sig += [ev["variable"], value]
        elif t in ("ChannelEnteredBridge", "ChannelLeftBridge"):
            br = ev["bridge"]
            sig += [self.br(br["id"]), br["bridge_type"], br["technology"],
                    len(br["channels"])]
        elif t.startswith("Recording"):
            rec = ev["recording"]
            sig += [rec["state"], rec["format"], "duration" in rec]
        elif t.startswith("Playback"):
            pb = ev["playback"]
            sig += [pb["state"], pb["media_uri"], pb.get("next_media_uri")]
        elif t == "ChannelDtmfReceived":
            sig += [ev["digit"], ev["duration_ms"]]
        elif t == "ChannelDialplan":
            sig += [ev["dialplan_app"], ev["dialplan_app_data"]]
        elif t in ("BridgeDestroyed", "BridgeCreated"):
            sig += [self.br(ev["bridge"]["id"])]
        return tuple(sig)


def _shape(value: Any) -> Any:
    """The structure of a JSON value: dict keys recursively, list element shapes."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


class Replay:
    def __init__(self, sim: PbxSimulator, session: aiohttp.ClientSession,
                 trace: list[dict[str, Any]], *, ignored_types: dict[str, str] | None = None,
                 ignored_roles: tuple[str, ...] = ()) -> None:
        self.sim = sim
        self.session = session
        self.trace = trace
        self.ignored = dict(IGNORED_TYPES, **(ignored_types or {}))
        self.ignored_roles = ignored_roles
        self.ids: dict[str, str] = {}            # trace id -> simulator id
        self.events: list[dict[str, Any]] = []   # what the simulator sent us
        self.responses: list[tuple[dict[str, Any], int, Any, str]] = []
        self.failures: list[str] = []
        self.tkeys = Keyer()
        self.skeys = Keyer()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()
        self._trace_requests = {e["id"]: e for e in trace if e["kind"] == "request"}
        self._trace_responses = {e["id"]: e for e in trace if e["kind"] == "response"}
        self._t0 = 0.0

    # ------------------------------------------------------------------ running
    async def _clock(self, t: float) -> None:
        """Keep the trace's pace (scaled), so timers fire between the same requests."""
        loop = asyncio.get_running_loop()
        delay = self._t0 + t * self.sim.time_scale - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            self._t0 -= delay      # behind (waiting for events): keep the gaps from here on

    async def run(self) -> None:
        self._t0 = asyncio.get_running_loop().time()
        try:
            for index, entry in enumerate(self.trace):
                if entry["kind"] == "request":
                    await self._before(index)
                    await self._clock(entry["t"])
                    await self._request(entry)
                elif entry["kind"] == "note":
                    await self._note(index, entry)
            await self._before(len(self.trace), timeout=3.0)
        finally:
            if self.ws is not None:
                await self.ws.close()
            if self._reader is not None:
                self._reader.cancel()

    def _compared(self, ev: dict[str, Any]) -> bool:
        if ev["type"] == "ChannelVarset":
            var = ev["variable"]
            if f"ChannelVarset:{var}" in self.ignored or var.startswith("RTPAUDIOQOS"):
                return False
        return ev["type"] not in self.ignored

    async def _before(self, index: int, timeout: float = 2.0) -> None:
        """Wait until we saw as many (key, type) events as the trace had before ``index``."""
        need: dict[tuple[str, str], int] = {}
        for entry in self.trace[:index]:
            if entry["kind"] == "event" and self._compared(entry["event"]):
                key = (self.tkeys.event_key(entry["event"]), entry["type"])
                need[key] = need.get(key, 0) + 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            have: dict[tuple[str, str], int] = {}
            for ev in self.events:
                if self._compared(ev):
                    key = (self.skeys.event_key(ev), ev["type"])
                    have[key] = have.get(key, 0) + 1
            if all(have.get(k, 0) >= n for k, n in need.items()):
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                return    # the comparison at the end reports what is missing
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                return

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                ev = json.loads(msg.data)
                self.events.append(ev)
                self._learn_event(ev)
                self._arrived.set()

    def _learn_event(self, ev: dict[str, Any]) -> None:
        """Map trace channel ids to ours through their role keys."""
        for field in ("channel", "peer", "caller"):
            if isinstance(ev.get(field), dict):
                self.skeys.ch(ev[field])
        self._map_by_keys()

    def _map_by_keys(self) -> None:
        if not self.tkeys.channel:
            # keys in the order the trace first shows each channel (events and responses)
            for entry in self.trace:
                if entry["kind"] == "event":
                    for field in ("channel", "peer", "caller"):
                        if isinstance(entry["event"].get(field), dict):
                            self.tkeys.ch(entry["event"][field])
                elif entry["kind"] == "response" and isinstance(entry.get("body"), dict) \
                        and "caller" in entry["body"] and entry["status"] < 300:
                    self.tkeys.ch(entry["body"])
        ours = {v: k for k, v in self.skeys.channel.items()}
        for tid, key in self.tkeys.channel.items():
            if tid not in self.ids and key in ours:
                self.ids[tid] = ours[key]

    def translate(self, value: str) -> str:
        if value in self.ids:
            return self.ids[value]
        for tid in sorted(self.ids, key=len, reverse=True):
            value = re.sub(rf"(?<![\w.-]){re.escape(tid)}(?![\w.-])", self.ids[tid], value)
        return value

    async def _request(self, req: dict[str, Any]) -> None:
        path = req["path"]
        query = {k: v for k, v in (req.get("query") or {}).items()}
        resp = self._trace_responses.get(req["id"])
        if req.get("websocket"):
            await self._websocket(req, query, resp)
            return
        self._map_by_keys()
        path = "/".join(self.translate(seg) for seg in path.split("/"))
        query = {k: self.translate(v) for k, v in query.items()}
        body = req.get("body")
        if isinstance(body, dict):
            body = json.loads(self.translate(json.dumps(body)))
        headers = BAD_AUTH if resp is not None and resp["status"] == 401 else AUTH
        url = self.sim.base_url + path
        async with self.session.request(req["method"], url, params=query, json=body,
                                        headers=headers) as r:
            raw = await r.read()
            got: Any = json.loads(raw) if raw and r.content_type == "application/json" else (
                {"_binary": True, "content_type": r.content_type} if raw else None)
            self.responses.append((req, r.status, got, r.content_type))
        if resp is None:
            return
        tbody = resp.get("body")
        # learn ids the response introduces (originate, bridges, playbacks)
        if (isinstance(tbody, dict) and isinstance(got, dict) and "id" in tbody
                and "id" in got and r.status < 300):
            self.ids[tbody["id"]] = got["id"]
            if "name" in tbody and "state" in tbody and "caller" in tbody:
                self.tkeys.ch(tbody)
                self.skeys.ch(got)
            if "bridge_type" in tbody:
                self.tkeys.br(tbody["id"])
                self.skeys.br(got["id"])
            if "media_uri" in tbody:
                self.tkeys.pb(tbody["id"])
                self.skeys.pb(got["id"])
        self._compare_response(req, resp, r.status, got)

    def _compare_response(self, req: dict[str, Any], resp: dict[str, Any], status: int,
                          got: Any) -> None:
        where = f"{req['method']} {req['path']} {req.get('query')}"
        if status != resp["status"]:
            self.failures.append(f"{where}: status {status}, Asterisk gave {resp['status']} "
                                 f"({resp.get('body')}); body {got}")
            return
        tbody = resp.get("body")
        if isinstance(tbody, dict) and tbody.get("_binary"):
            if not (isinstance(got, dict) and got.get("content_type") == tbody["content_type"]):
                self.failures.append(f"{where}: expected {tbody['content_type']} bytes")
            return
        if tbody is None or got is None:
            if (tbody is None) != (got is None):
                self.failures.append(f"{where}: body {got!r}, Asterisk gave {tbody!r}")
            return
        if _shape(tbody) != _shape(got):
            self.failures.append(f"{where}: shape {_shape(got)} != Asterisk {_shape(tbody)}")
            return
        if isinstance(tbody, dict):
            for key in ("message", "error", "state", "bridge_type", "technology", "format",
                        "media_uri", "next_media_uri", "dialplan", "value"):
                if key == "state" and "media_uri" in tbody and {
                        tbody[key], got.get(key)} <= EQUIVALENT_STATES:
                    continue
                if key in tbody and key != "dialplan" and tbody[key] != got.get(key):
                    self.failures.append(f"{where}: {key}={got.get(key)!r}, Asterisk gave "
                                         f"{tbody[key]!r}")
            if isinstance(tbody.get("dialplan"), dict):
                for key in ("context", "exten", "priority", "app_name"):
                    if tbody["dialplan"][key] != got["dialplan"][key]:
                        self.failures.append(
                            f"{where}: dialplan.{key}={got['dialplan'][key]!r}, Asterisk gave "
                            f"{tbody['dialplan'][key]!r}")

    async def _websocket(self, req: dict[str, Any], query: dict[str, str],
                         resp: dict[str, Any] | None) -> None:
        status = resp["status"] if resp else 101
        params = "&".join(f"{k}={v}" for k, v in query.items())
        url = self.sim.url + "/events" + (f"?{params}" if params else "")
        if status != 101:
            try:
                ws = await self.session.ws_connect(url)
                await ws.close()
                self.failures.append(f"websocket {query}: connected, Asterisk gave {status}")
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status != status:
                    self.failures.append(f"websocket {query}: {exc.status}, Asterisk {status}")
            return
        self.ws = await self.session.ws_connect(url)
        self._reader = asyncio.create_task(self._read(self.ws))
        app = query["app"]
        await self.sim.wait_for(lambda: self.sim.engine.app_registered(app), 2.0)

    async def _note(self, index: int, note: dict[str, Any]) -> None:
        """sipp runs stand for real SIP phones: simulated PJSIP callers and agent devices."""
        text = note["text"]
        match = re.match(r"simulator: start sipp \((\w+)\): (.*)$", text)
        if not match:
            return
        what, cmd = match.groups()
        if "-sn uas" in cmd:
            port = re.search(r"-p (\d+)", cmd)
            ext = {"5071": "1001", "5072": "1002", "5073": "1003"}.get(
                port.group(1) if port else "", "1001")
            self.sim.set_device(f"PJSIP/{ext}", answer_after=0.001)
            return
        dialled = re.search(r"-s (\S+)", cmd)
        hold = re.search(r"-d (\d+)", cmd)
        await self._before(index)
        await self._clock(note["t"])
        kwargs: dict[str, Any] = {"number": "sipp", "name": "sipp", "technology": "PJSIP",
                                  "dialled": dialled.group(1) if dialled else "service"}
        if hold:
            kwargs["hangup_after"] = int(hold.group(1)) / 1000
        if "cancel" in what:
            # the trace: CANCEL 4 s after the 180 Ringing the app sent at once
            kwargs["give_up_after"] = 4.0
        await self.sim.place_call(**kwargs)

    # ------------------------------------------------------------------ comparing
    def sequences(self, events: list[dict[str, Any]], keyer: Keyer,
                  ids: dict[str, str] | None) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for ev in events:
            if not self._compared(ev):
                continue
            key = keyer.event_key(ev)
            if any(key.startswith(r) for r in self.ignored_roles):
                continue
            out.setdefault(key, []).append(keyer.signature(ev, ids))
        return out

    def compare(self) -> list[str]:
        failures = list(self.failures)
        trace_events = [e["event"] for e in self.trace if e["kind"] == "event"]
        expected = self.sequences(trace_events, self.tkeys, self.ids)
        got = self.sequences(self.events, self.skeys, None)
        for key in sorted(set(expected) | set(got)):
            exp, have = expected.get(key, []), got.get(key, [])
            if exp != have:
                lines = [f"events of {key} differ:"]
                for i in range(max(len(exp), len(have))):
                    a = exp[i] if i < len(exp) else "-"
                    b = have[i] if i < len(have) else "-"
                    mark = "  " if a == b else "!!"
                    lines.append(f"  {mark} asterisk {a}  |  sim {b}")
                failures.append("\n".join(lines))
        # JSON shape of every event type the simulator sent vs Asterisk's
        shapes: dict[str, Any] = {}
        for ev in trace_events:
            shapes.setdefault(ev["type"], set()).add(tuple(sorted(ev)))
        for ev in self.events:
            if ev["type"] in shapes and tuple(sorted(ev)) not in shapes[ev["type"]]:
                failures.append(f"{ev['type']} keys {sorted(ev)} not as recorded "
                                f"{sorted(shapes[ev['type']])}")
        return failures
