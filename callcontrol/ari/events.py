"""ARI events as frozen dataclasses; `parse_event` never raises.

Any type not listed here, and any message whose required fields are missing or malformed,
becomes `UnknownEvent(raw=...)` so one odd message can never stop the event stream.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcontrol.ari.models import (
    Bridge,
    Channel,
    Endpoint,
    LiveRecording,
    Playback,
    parse_time,
)

logger = logging.getLogger(__name__)

__all__ = ["parse_event", "parse_time", "Event", "UnknownEvent", "EVENT_TYPES"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    type: str = ""
    application: str = ""
    timestamp: datetime | None = None
    asterisk_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.type:
            object.__setattr__(self, "type", type(self).__name__)

    @property
    def channel_id(self) -> str | None:
        """The id of the channel this event is about, if any (for routing and logging)."""
        channel = getattr(self, "channel", None)
        return channel.id if isinstance(channel, Channel) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownEvent(Event):
    """A type we do not model, or a malformed message; `raw` has it as received."""


@dataclass(frozen=True, slots=True, kw_only=True)
class _ChannelEvent(Event):
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisStart(_ChannelEvent):
    args: tuple[str, ...] = ()
    replace_channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StasisEnd(_ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCreated(_ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelStateChange(_ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDestroyed(_ChannelEvent):
    cause: int
    cause_txt: str = ""
    tech_cause: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHangupRequest(_ChannelEvent):
    """`cause` is unreliable (a flag when `soft`, absent for a SIP BYE): prefer
    `ChannelDestroyed.cause` and `Dial.dialstatus`."""

    cause: int | None = None
    soft: bool = False
    tech_cause: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDtmfReceived(_ChannelEvent):
    digit: str
    duration_ms: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelEnteredBridge(Event):
    bridge: Bridge
    channel: Channel | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelLeftBridge(Event):
    bridge: Bridge
    channel: Channel


@dataclass(frozen=True, slots=True, kw_only=True)
class Dial(Event):
    peer: Channel
    caller: Channel | None = None
    forwarded: Channel | None = None
    forward: str = ""
    dialstring: str = ""
    dialstatus: str = ""

    @property
    def channel_id(self) -> str | None:
        return self.peer.id


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelVarset(Event):
    variable: str
    value: str = ""
    channel: Channel | None = None  # None for a global variable


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelCallerId(_ChannelEvent):
    caller_presentation: int = 0
    caller_presentation_txt: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelDialplan(_ChannelEvent):
    dialplan_app: str = ""
    dialplan_app_data: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelConnectedLine(_ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelHold(_ChannelEvent):
    """A hold received from the phone; a hold we set over ARI sends no event."""

    musicclass: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ChannelUnhold(_ChannelEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class _RecordingEvent(Event):
    recording: LiveRecording


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingStarted(_RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFinished(_RecordingEvent):
    """`recording.duration` is whole seconds, paused time excluded."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordingFailed(_RecordingEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class _PlaybackEvent(Event):
    playback: Playback


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackStarted(_PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackContinuing(_PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class PlaybackFinished(_PlaybackEvent):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeCreated(Event):
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeDestroyed(Event):
    bridge: Bridge


@dataclass(frozen=True, slots=True, kw_only=True)
class EndpointStateChange(Event):
    endpoint: Endpoint


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStateChanged(Event):
    device_state: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplicationReplaced(Event):
    """Another websocket registered our application name: this one no longer gets events."""


def _channel(data: dict[str, Any]) -> dict[str, Any]:
    return {"channel": Channel.from_json(data["channel"])}


def _opt_channel(value: Any) -> Channel | None:
    return None if value is None else Channel.from_json(value)


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"expected an integer, got {value!r}")
    return int(value)


def _str(value: Any, default: str = "") -> str:
    if value is None:
        return default
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _args(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError("args must be a list")
    return tuple(str(a) for a in value)


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected a JSON object")
    return dict(value)


# type name -> (class, function turning the message into the class's own fields)
_PARSERS: dict[str, tuple[type[Event], Any]] = {
    "StasisStart": (StasisStart, lambda d: {
        **_channel(d), "args": _args(d.get("args")),
        "replace_channel": _opt_channel(d.get("replace_channel"))}),
    "StasisEnd": (StasisEnd, _channel),
    "ChannelCreated": (ChannelCreated, _channel),
    "ChannelStateChange": (ChannelStateChange, _channel),
    "ChannelDestroyed": (ChannelDestroyed, lambda d: {
        **_channel(d), "cause": int(d["cause"]), "cause_txt": _str(d.get("cause_txt")),
        "tech_cause": _opt_int(d.get("tech_cause"))}),
    "ChannelHangupRequest": (ChannelHangupRequest, lambda d: {
        **_channel(d), "cause": _opt_int(d.get("cause")), "soft": bool(d.get("soft", False)),
        "tech_cause": _opt_int(d.get("tech_cause"))}),
    "ChannelDtmfReceived": (ChannelDtmfReceived, lambda d: {
        **_channel(d), "digit": _str(d["digit"]),
        "duration_ms": _opt_int(d.get("duration_ms")) or 0}),
    "ChannelEnteredBridge": (ChannelEnteredBridge, lambda d: {
        "bridge": Bridge.from_json(d["bridge"]), "channel": _opt_channel(d.get("channel"))}),
    "ChannelLeftBridge": (ChannelLeftBridge, lambda d: {
        "bridge": Bridge.from_json(d["bridge"]), "channel": Channel.from_json(d["channel"])}),
    "Dial": (Dial, lambda d: {
        "peer": Channel.from_json(d["peer"]), "caller": _opt_channel(d.get("caller")),
        "forwarded": _opt_channel(d.get("forwarded")), "forward": _str(d.get("forward")),
        "dialstring": _str(d.get("dialstring")), "dialstatus": _str(d.get("dialstatus"))}),
    "ChannelVarset": (ChannelVarset, lambda d: {
        "variable": _str(d["variable"]), "value": _str(d.get("value")),
        "channel": _opt_channel(d.get("channel"))}),
    "ChannelCallerId": (ChannelCallerId, lambda d: {
        **_channel(d), "caller_presentation": _opt_int(d.get("caller_presentation")) or 0,
        "caller_presentation_txt": _str(d.get("caller_presentation_txt"))}),
    "ChannelDialplan": (ChannelDialplan, lambda d: {
        **_channel(d), "dialplan_app": _str(d.get("dialplan_app")),
        "dialplan_app_data": _str(d.get("dialplan_app_data"))}),
    "ChannelConnectedLine": (ChannelConnectedLine, _channel),
    "ChannelHold": (ChannelHold, lambda d: {
        **_channel(d), "musicclass": d.get("musicclass") if isinstance(
            d.get("musicclass"), str) else None}),
    "ChannelUnhold": (ChannelUnhold, _channel),
    "RecordingStarted": (RecordingStarted,
                         lambda d: {"recording": LiveRecording.from_json(d["recording"])}),
    "RecordingFinished": (RecordingFinished,
                          lambda d: {"recording": LiveRecording.from_json(d["recording"])}),
    "RecordingFailed": (RecordingFailed,
                        lambda d: {"recording": LiveRecording.from_json(d["recording"])}),
    "PlaybackStarted": (PlaybackStarted,
                        lambda d: {"playback": Playback.from_json(d["playback"])}),
    "PlaybackContinuing": (PlaybackContinuing,
                           lambda d: {"playback": Playback.from_json(d["playback"])}),
    "PlaybackFinished": (PlaybackFinished,
                         lambda d: {"playback": Playback.from_json(d["playback"])}),
    "BridgeCreated": (BridgeCreated, lambda d: {"bridge": Bridge.from_json(d["bridge"])}),
    "BridgeDestroyed": (BridgeDestroyed, lambda d: {"bridge": Bridge.from_json(d["bridge"])}),
    "EndpointStateChange": (EndpointStateChange,
                            lambda d: {"endpoint": Endpoint.from_json(d["endpoint"])}),
    "DeviceStateChanged": (DeviceStateChanged,
                           lambda d: {"device_state": _dict(d["device_state"])}),
    "ApplicationReplaced": (ApplicationReplaced, lambda d: {}),
}

EVENT_TYPES: frozenset[str] = frozenset(_PARSERS)


def parse_event(data: Any) -> Event:
    """Parse one websocket message (already JSON-decoded); never raises."""
    if not isinstance(data, dict):
        return UnknownEvent(type="", raw={"message": data})
    raw_type = data.get("type")
    etype = raw_type if isinstance(raw_type, str) else ""
    common = _common(data)
    entry = _PARSERS.get(etype)
    if entry is None:
        return UnknownEvent(type=etype, raw=data, **common)
    cls, fields = entry
    try:
        return cls(type=etype, raw=data, **common, **fields(data))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("malformed ARI %s event kept as UnknownEvent: %s", etype, exc)
        return UnknownEvent(type=etype, raw=data, **common)


def _common(data: dict[str, Any]) -> dict[str, Any]:
    app = data.get("application")
    asterisk_id = data.get("asterisk_id")
    return {"application": app if isinstance(app, str) else "",
            "timestamp": parse_time(data.get("timestamp")),
            "asterisk_id": asterisk_id if isinstance(asterisk_id, str) else None}
