"""ARI events parsed into frozen dataclasses; unknown or malformed ones become UnknownEvent."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

logger = logging.getLogger(__name__)


def parse_time(value: str | None) -> datetime | None:
    """Parse Asterisk's `2026-11-22T11:34:51.373+0000` into an aware datetime."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


@dataclass(frozen=True, slots=True)
class Event:
    type: str
    application: str
    timestamp: datetime | None
    asterisk_id: str | None
    raw: dict[str, Any]


@dataclass(frozen=True, slots=True)
class UnknownEvent(Event):
    pass


@dataclass(frozen=True, slots=True)
class ChannelEvent(Event):
    channel_id: str
    channel_state: str


@dataclass(frozen=True, slots=True)
class StasisStart(ChannelEvent):
    args: tuple[str, ...]


_CHANNEL_TYPES = {
    "StasisEnd", "ChannelStateChange", "ChannelDestroyed", "ChannelHangupRequest",
    "ChannelDtmfReceived", "ChannelEnteredBridge", "ChannelLeftBridge", "ChannelCallerId",
    "ChannelDialplan", "ChannelConnectedLine", "ChannelHold", "ChannelUnhold",
}


def parse_event(data: dict[str, Any]) -> Event:
    """Parse one websocket message; never raises."""
    etype = str(data.get("type", ""))
    base = (etype, str(data.get("application", "")), _safe_time(data.get("timestamp")),
            data.get("asterisk_id"), data)
    try:
        if etype == "StasisStart":
            ch = data["channel"]
            return StasisStart(*base, ch["id"], ch["state"], tuple(data.get("args", ())))
        if etype in _CHANNEL_TYPES:
            ch = data["channel"]
            return ChannelEvent(*base, ch["id"], ch["state"])
    except (KeyError, TypeError):
        logger.warning("malformed ARI event %s, kept as UnknownEvent", etype)
    return UnknownEvent(*base)


def _safe_time(value: Any) -> datetime | None:
    try:
        return parse_time(value)
    except (TypeError, ValueError):
        return None
