"""State objects of the simulated Asterisk: channels, bridges, recordings, playbacks, devices.

Each object renders itself exactly like the ARI JSON models (``json()``); everything else on
it is simulator bookkeeping, readable by tests (``sim.channels["id"].held`` ...).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from asyncio import TimerHandle

_TS_CACHE: list[Any] = [-1, ""]


def ari_timestamp(now: float | None = None) -> str:
    """``2026-11-22T11:34:51.373+0000`` like Asterisk (UTC)."""
    now = time.time() if now is None else now
    sec = int(now)
    if _TS_CACHE[0] != sec:
        _TS_CACHE[0] = sec
        _TS_CACHE[1] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec))
    return f"{_TS_CACHE[1]}.{int((now - sec) * 1000):03d}+0000"


CAUSE_TXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    3: "No route to destination",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    28: "Invalid number format (incomplete number)",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    58: "Bearer capability not available",
    127: "Interworking, unspecified",
}

# DELETE /channels/{id}?reason=... -> hangup cause (res/ari/resource_channels.c)
HANGUP_REASONS = {
    "normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18,
    "rejected": 21, "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28,
    "codec_mismatch": 58, "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}


def cause_txt(cause: int) -> str:
    return CAUSE_TXT.get(cause, "Unknown")


@dataclass
class PersonScript:
    """What the simulated person on a line does once the call is answered."""

    hangup_after: float | None = None     # seconds after answer (None: stays on the line)
    dtmf: str | None = None               # digits sent after `dtmf_after` seconds
    dtmf_after: float = 2.0


@dataclass
class Device:
    """A PJSIP agent phone (``PJSIP/<resource>``) and how the person at it behaves."""

    resource: str
    behaviour: str = "answer"             # answer | busy | congestion | no_answer | reject
    answer_after: float = 0.5             # seconds of ringing before answer / reject
    hangup_after: float | None = None     # hang up (BYE) that long after answering
    dtmf: str | None = None               # digits sent 2 s after answering
    context: str = "agents"
    state: str = "online"

    BEHAVIOURS = ("answer", "busy", "congestion", "no_answer", "reject")

    def json(self, channel_ids: list[str]) -> dict[str, Any]:
        return {"technology": "PJSIP", "resource": self.resource, "state": self.state,
                "channel_ids": channel_ids}


@dataclass
class SimCall:
    """A simulated inbound call: the caller's own channel and the one that enters Stasis."""

    caller_channel_id: str
    stasis_channel_id: str
    number: str
    name: str = ""
    extension: str = "caller"


class Channel:
    """One Asterisk channel. ``half`` is 1/2 for Local pairs (``peer`` is the other half)."""

    def __init__(self, cid: str, name: str, tech: str, state: str, *, caller: tuple[str, str],
                 dialplan: tuple[str, str, int, str, str], protocol_id: str = "") -> None:
        self.id = cid
        self.name = name
        self.tech = tech
        self.state = state
        self.caller_name, self.caller_number = caller
        self.connected_name, self.connected_number = caller
        self.context, self.exten, self.priority, self.app_name, self.app_data = dialplan
        self.protocol_id = protocol_id
        self.creationtime = ari_timestamp()
        self.language = "en"
        self.accountcode = ""
        self.variables: dict[str, str] = {}
        self.alive = True
        # Stasis
        self.app: str | None = None           # the Stasis app while in Stasis
        self.in_stasis = False
        self.watchers: set[str] = set()       # apps subscribed until the channel is destroyed
        # topology
        self.peer: Channel | None = None
        self.half: int | None = None
        self.bridge: Bridge | None = None
        self.snoops: set[Channel] = set()
        self.snoop_of: Channel | None = None
        self.spy = self.whisper = "none"
        # what the app asked for (no event reports these, README lesson 10)
        self.held = False
        self.muted: set[str] = set()
        self.moh_class: str | None = None
        self.silenced = False
        self.ringing = False
        self.dtmf_sent: list[str] = []        # POST /channels/{id}/dtmf, for inspection
        self.extra_args = ""                  # place_call(app_args=...): more Stasis args
        # dialling
        self.originating = False              # being dialled, not answered yet
        self.dialstring = ""
        self.dial_caller: Channel | None = None
        self.after_answer: tuple[Any, ...] | None = None
        self.script: PersonScript | None = None
        self.device: Device | None = None
        self.timeout_handle: TimerHandle | None = None
        self.timers: list[TimerHandle] = []
        self.recordings: set[LiveRecording] = set()
        self.playbacks: set[Playback] = set()
        self.role = ""                        # caller | agent | customer | snoop | app
        self.started = False                  # the called side's dialplan has started
        self.program: list[tuple[str, str]] | None = None   # dialplan being run
        self.pc = 0
        self.created_json: dict[str, Any] | None = None

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {"name": self.connected_name, "number": self.connected_number},
            "accountcode": self.accountcode,
            "dialplan": {"context": self.context, "exten": self.exten,
                         "priority": self.priority, "app_name": self.app_name,
                         "app_data": self.app_data},
            "creationtime": self.creationtime, "language": self.language,
        }

    def summary(self) -> dict[str, Any]:
        """Simulator view for GET /sim/state."""
        return {"id": self.id, "name": self.name, "state": self.state, "role": self.role,
                "app": self.app if self.in_stasis else None,
                "bridge": self.bridge.id if self.bridge else None,
                "peer": self.peer.id if self.peer else None,
                "caller": self.caller_number, "held": self.held,
                "muted": sorted(self.muted), "moh": self.moh_class}

    def __repr__(self) -> str:
        return f"<Channel {self.id} {self.name} {self.state}>"


class Bridge:
    def __init__(self, bid: str, name: str, types: list[str]) -> None:
        self.id = bid
        self.name = name
        self.types = types
        self.bridge_type = "holding" if "holding" in types else "mixing"
        self.creationtime = ari_timestamp()
        self.channels: list[Channel] = []
        self.watchers: set[str] = set()
        self.moh_class: str | None = None
        self.moh_name = ""
        self.recordings: set[LiveRecording] = set()
        self.playbacks: set[Playback] = set()
        self.softmix = False
        self.alive = True

    @property
    def technology(self) -> str:
        if self.bridge_type == "holding":
            return "holding_bridge"
        if "video_sfu" in self.types or self.softmix:
            return "softmix"
        return "simple_bridge"

    def participants(self) -> int:
        return len(self.channels) + len(self.recordings) + (1 if self.moh_class else 0)

    def update_technology(self) -> None:
        # simple_bridge while two parties talk; softmix from three on (the recorder counts),
        # back to simple_bridge once (nearly) empty, as the recorded ChannelLeftBridge show.
        count = self.participants()
        if count > 2:
            self.softmix = True
        elif count <= 1:
            self.softmix = False

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "technology": self.technology, "bridge_type": self.bridge_type,
            "bridge_class": "stasis", "creator": "Stasis", "name": self.name,
            "channels": [c.id for c in self.channels], "creationtime": self.creationtime,
            "video_mode": "talker" if self.bridge_type == "mixing" else "none",
        }


@dataclass(eq=False)
class LiveRecording:
    name: str
    format: str
    target_uri: str
    target: Any                               # Channel | Bridge
    if_exists: str = "fail"
    terminate_on: str = "none"
    state: str = "queued"
    segments: list[tuple[float, bool]] = field(default_factory=list)
    mark: float = 0.0                         # monotonic start of the open segment
    paused: bool = False
    muted: bool = False
    duration: int | None = None
    cause: str | None = None
    timer: Any = None
    recorder_name: str = ""
    channel_id: str = ""                      # the Recorder channel's id

    def close_segment(self, now: float) -> None:
        if self.state in ("recording", "paused") and not self.paused:
            self.segments.append((max(0.0, now - self.mark), not self.muted))
        self.mark = now

    def seconds(self) -> float:
        return sum(s for s, _ in self.segments)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "format": self.format,
                               "state": self.state, "target_uri": self.target_uri}
        if self.duration is not None:
            out["duration"] = self.duration
        if self.cause:
            out["cause"] = self.cause
        return out


@dataclass(eq=False)
class Playback:
    id: str
    media: list[str]
    target_uri: str
    target: Any
    language: str = "en"
    state: str = "queued"
    index: int = 0
    timer: Any = None
    ends_at: float = 0.0
    remaining: float | None = None

    def json(self) -> dict[str, Any]:
        out = {"id": self.id, "media_uri": self.media[self.index]}
        if self.index + 1 < len(self.media):
            out["next_media_uri"] = self.media[self.index + 1]
        out.update({"target_uri": self.target_uri, "language": self.language,
                    "state": self.state})
        return out
