"""ARI resource models as frozen dataclasses (Swagger model names, snake_case fields).

`from_json` reads what Asterisk sends: required fields raise KeyError/TypeError when absent
or of the wrong shape (the client turns that into `MalformedResponse`, `parse_event` into
`UnknownEvent`); optional ones fall back to a neutral default.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """Asterisk's `2026-11-22T11:34:51.373+0000` as an aware datetime; None when absent/bad."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _str(data: dict[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} must be a string, got {type(value).__name__}")
    return value


def _opt_str(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return value if isinstance(value, str) else default


def _obj(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"expected a JSON object, got {type(data).__name__}")
    return data


def _str_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return tuple(str(v) for v in value)


@dataclass(frozen=True, slots=True)
class CallerID:
    name: str = ""
    number: str = ""

    @classmethod
    def from_json(cls, data: Any) -> CallerID:
        if data is None:
            return cls()
        data = _obj(data)
        return cls(name=_opt_str(data, "name"), number=_opt_str(data, "number"))


@dataclass(frozen=True, slots=True)
class DialplanCEP:
    context: str = ""
    exten: str = ""
    priority: int = 0
    app_name: str = ""
    app_data: str = ""

    @classmethod
    def from_json(cls, data: Any) -> DialplanCEP:
        if data is None:
            return cls()
        data = _obj(data)
        priority = data.get("priority", 0)
        return cls(context=_opt_str(data, "context"), exten=_opt_str(data, "exten"),
                   priority=int(priority) if priority is not None else 0,
                   app_name=_opt_str(data, "app_name"), app_data=_opt_str(data, "app_data"))


@dataclass(frozen=True, slots=True)
class Channel:
    id: str
    name: str
    state: str
    caller: CallerID = CallerID()
    connected: CallerID = CallerID()
    accountcode: str = ""
    dialplan: DialplanCEP = DialplanCEP()
    creationtime: datetime | None = None
    language: str = ""
    channelvars: dict[str, Any] | None = None
    protocol_id: str = ""

    @classmethod
    def from_json(cls, data: Any) -> Channel:
        data = _obj(data)
        channelvars = data.get("channelvars")
        return cls(
            id=_str(data, "id"), name=_str(data, "name"), state=_str(data, "state"),
            caller=CallerID.from_json(data.get("caller")),
            connected=CallerID.from_json(data.get("connected")),
            accountcode=_opt_str(data, "accountcode"),
            dialplan=DialplanCEP.from_json(data.get("dialplan")),
            creationtime=parse_time(data.get("creationtime")),
            language=_opt_str(data, "language"),
            channelvars=dict(channelvars) if isinstance(channelvars, dict) else None,
            protocol_id=_opt_str(data, "protocol_id"),
        )


@dataclass(frozen=True, slots=True)
class Bridge:
    id: str
    technology: str = ""
    bridge_type: str = ""
    bridge_class: str = ""
    creator: str = ""
    name: str = ""
    channels: tuple[str, ...] = ()
    creationtime: datetime | None = None

    @classmethod
    def from_json(cls, data: Any) -> Bridge:
        data = _obj(data)
        return cls(
            id=_str(data, "id"), technology=_opt_str(data, "technology"),
            bridge_type=_opt_str(data, "bridge_type"), bridge_class=_opt_str(data, "bridge_class"),
            creator=_opt_str(data, "creator"), name=_opt_str(data, "name"),
            channels=_str_tuple(data.get("channels")),
            creationtime=parse_time(data.get("creationtime")),
        )


@dataclass(frozen=True, slots=True)
class LiveRecording:
    name: str
    format: str
    state: str
    target_uri: str = ""
    duration: int | None = None
    talking_duration: int | None = None
    silence_duration: int | None = None
    cause: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> LiveRecording:
        data = _obj(data)
        return cls(
            name=_str(data, "name"), format=_str(data, "format"), state=_str(data, "state"),
            target_uri=_opt_str(data, "target_uri"),
            duration=_opt_int(data.get("duration")),
            talking_duration=_opt_int(data.get("talking_duration")),
            silence_duration=_opt_int(data.get("silence_duration")),
            cause=data["cause"] if isinstance(data.get("cause"), str) else None,
        )


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True, slots=True)
class StoredRecording:
    name: str
    format: str

    @classmethod
    def from_json(cls, data: Any) -> StoredRecording:
        data = _obj(data)
        return cls(name=_str(data, "name"), format=_str(data, "format"))


@dataclass(frozen=True, slots=True)
class Playback:
    id: str
    media_uri: str
    target_uri: str
    language: str = ""
    state: str = ""
    next_media_uri: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> Playback:
        data = _obj(data)
        next_uri = data.get("next_media_uri")
        return cls(id=_str(data, "id"), media_uri=_str(data, "media_uri"),
                   target_uri=_opt_str(data, "target_uri"), language=_opt_str(data, "language"),
                   state=_str(data, "state"),
                   next_media_uri=next_uri if isinstance(next_uri, str) else None)


@dataclass(frozen=True, slots=True)
class Endpoint:
    technology: str
    resource: str
    state: str = ""
    channel_ids: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> Endpoint:
        data = _obj(data)
        return cls(technology=_str(data, "technology"), resource=_str(data, "resource"),
                   state=_opt_str(data, "state"),
                   channel_ids=_str_tuple(data.get("channel_ids")))


@dataclass(frozen=True, slots=True)
class DeviceState:
    name: str
    state: str

    @classmethod
    def from_json(cls, data: Any) -> DeviceState:
        data = _obj(data)
        return cls(name=_str(data, "name"), state=_str(data, "state"))


@dataclass(frozen=True, slots=True)
class Application:
    name: str
    channel_ids: tuple[str, ...] = ()
    bridge_ids: tuple[str, ...] = ()
    endpoint_ids: tuple[str, ...] = ()
    device_names: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: Any) -> Application:
        data = _obj(data)
        return cls(name=_str(data, "name"),
                   channel_ids=_str_tuple(data.get("channel_ids")),
                   bridge_ids=_str_tuple(data.get("bridge_ids")),
                   endpoint_ids=_str_tuple(data.get("endpoint_ids")),
                   device_names=_str_tuple(data.get("device_names")))
