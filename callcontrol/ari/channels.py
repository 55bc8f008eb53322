"""Channel resource: /channels. Every method validates its arguments before sending."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from callcontrol.ari import validate as v
from callcontrol.ari.models import Channel, LiveRecording, Playback
from callcontrol.ari.params import query, segment

if TYPE_CHECKING:
    from callcontrol.ari.client import AriClient

HANGUP_REASONS = (
    "normal", "busy", "congestion", "no_answer", "timeout", "rejected",
    "unallocated", "normal_unspecified", "number_incomplete", "codec_mismatch",
    "interworking", "failure", "answered_elsewhere",
)
DIRECTIONS = ("both", "in", "out")
SPY_WHISPER = ("none", "both", "out", "in")
IF_EXISTS = ("fail", "overwrite", "append")
TERMINATE_ON = ("none", "any", "*", "#")


def _path(channel_id: str, tail: str = "") -> str:
    return f"/channels/{segment(v.identifier('channel_id', channel_id))}{tail}"


def _formats(formats: Any) -> str | None:
    return None if formats is None else v.one_or_many("formats", formats,
                                                      lambda f: v.token("format", f))


def _body(variables: Any) -> dict[str, Any] | None:
    checked = v.variables(variables)
    return None if checked is None else {"variables": checked}


def record_params(name: str, format: str, max_duration_seconds: int, max_silence_seconds: int,
                  if_exists: str, beep: bool, terminate_on: str) -> dict[str, str]:
    """Shared by channel and bridge recordings; `format` is always sent (see bridges.record)."""
    return query(
        name=v.recording_name(name), format=v.token("format", format),
        maxDurationSeconds=v.integer("max_duration_seconds", max_duration_seconds, minimum=0),
        maxSilenceSeconds=v.integer("max_silence_seconds", max_silence_seconds, minimum=0),
        ifExists=v.choice("if_exists", if_exists, IF_EXISTS), beep=v.boolean("beep", beep),
        terminateOn=v.choice("terminate_on", terminate_on, TERMINATE_ON))


def media_params(media: Any, lang: str | None) -> dict[str, str]:
    return query(media=v.one_or_many("media", media), lang=v.optional_token("lang", lang))


class ChannelsApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def list(self) -> list[Channel]:
        return await self._client.request_list("/channels", Channel.from_json)

    async def get(self, channel_id: str) -> Channel:
        return await self._client.request_model("GET", _path(channel_id), Channel.from_json)

    async def originate(self, endpoint: str, *, app: str | None = None,
                        app_args: str | None = None, extension: str | None = None,
                        context: str | None = None, priority: int | None = None,
                        label: str | None = None, caller_id: str | None = None,
                        timeout: int = 30, variables: dict[str, str] | None = None,
                        channel_id: str | None = None, other_channel_id: str | None = None,
                        originator: str | None = None, formats: Any = None) -> Channel:
        """Originate into a Stasis app (`app`) or the dialplan (`extension`/`context`), not both.

        `timeout` is seconds of ringing before giving up (-1: never).
        """
        if (app is None) == (extension is None):
            raise ValueError("originate needs exactly one of app (Stasis) or extension (dialplan)")
        if app is None and app_args is not None:
            raise ValueError("app_args only makes sense with app")
        if app is not None and (context, priority, label) != (None, None, None):
            raise ValueError("context/priority/label only make sense with extension")
        if timeout != -1:
            v.integer("timeout", timeout, minimum=1)
        params = query(
            endpoint=v.endpoint(endpoint), app=v.optional_token("app", app),
            appArgs=v.optional_text("app_args", app_args),
            extension=v.optional_text("extension", extension),
            context=v.optional_text("context", context),
            priority=v.optional_integer("priority", priority, minimum=1),
            label=v.optional_text("label", label), callerId=v.optional_text("caller_id", caller_id),
            timeout=timeout, channelId=v.optional_identifier("channel_id", channel_id),
            otherChannelId=v.optional_identifier("other_channel_id", other_channel_id),
            originator=v.optional_identifier("originator", originator),
            formats=_formats(formats))
        return await self._client.request_model("POST", "/channels", Channel.from_json,
                                                params=params, json=_body(variables))

    async def create(self, endpoint: str, *, app: str, app_args: str | None = None,
                     channel_id: str | None = None, other_channel_id: str | None = None,
                     originator: str | None = None, formats: Any = None,
                     variables: dict[str, str] | None = None) -> Channel:
        """Create a channel in Stasis without dialing it (then `dial`)."""
        params = query(
            endpoint=v.endpoint(endpoint), app=v.token("app", app),
            appArgs=v.optional_text("app_args", app_args),
            channelId=v.optional_identifier("channel_id", channel_id),
            otherChannelId=v.optional_identifier("other_channel_id", other_channel_id),
            originator=v.optional_identifier("originator", originator),
            formats=_formats(formats))
        return await self._client.request_model("POST", "/channels/create", Channel.from_json,
                                                params=params, json=_body(variables))

    async def dial(self, channel_id: str, *, caller: str | None = None,
                   timeout: int | None = None) -> None:
        params = query(caller=v.optional_identifier("caller", caller),
                       timeout=v.optional_integer("timeout", timeout, minimum=0))
        await self._client.request("POST", _path(channel_id, "/dial"), params=params)

    async def answer(self, channel_id: str) -> None:
        await self._client.request("POST", _path(channel_id, "/answer"))

    async def ring(self, channel_id: str) -> None:
        await self._client.request("POST", _path(channel_id, "/ring"))

    async def ring_stop(self, channel_id: str) -> None:
        await self._client.request("DELETE", _path(channel_id, "/ring"))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up; an unknown reason raises ValueError before anything is sent."""
        params = query(reason=v.choice("hangup reason", reason, HANGUP_REASONS))
        await self._client.request("DELETE", _path(channel_id), params=params)

    async def hold(self, channel_id: str) -> None:
        await self._client.request("POST", _path(channel_id, "/hold"))

    async def unhold(self, channel_id: str) -> None:
        await self._client.request("DELETE", _path(channel_id, "/hold"))

    async def mute(self, channel_id: str, direction: str = "both") -> None:
        params = query(direction=v.choice("direction", direction, DIRECTIONS))
        await self._client.request("POST", _path(channel_id, "/mute"), params=params)

    async def unmute(self, channel_id: str, direction: str = "both") -> None:
        params = query(direction=v.choice("direction", direction, DIRECTIONS))
        await self._client.request("DELETE", _path(channel_id, "/mute"), params=params)

    async def start_moh(self, channel_id: str, moh_class: str | None = None) -> None:
        params = query(mohClass=v.optional_token("moh_class", moh_class))
        await self._client.request("POST", _path(channel_id, "/moh"), params=params)

    async def stop_moh(self, channel_id: str) -> None:
        await self._client.request("DELETE", _path(channel_id, "/moh"))

    async def play(self, channel_id: str, media: str | Sequence[str], *,
                   playback_id: str | None = None, lang: str | None = None) -> Playback:
        """Play one media URI (or a list, played in turn) to the channel."""
        params = media_params(media, lang)
        tail = "/play"
        if playback_id is not None:
            tail += "/" + segment(v.identifier("playback_id", playback_id))
        return await self._client.request_model("POST", _path(channel_id, tail),
                                                Playback.from_json, params=params)

    async def record(self, channel_id: str, name: str, *, format: str = "wav",
                     max_duration_seconds: int = 0, max_silence_seconds: int = 0,
                     if_exists: str = "fail", beep: bool = False,
                     terminate_on: str = "none") -> LiveRecording:
        params = record_params(name, format, max_duration_seconds, max_silence_seconds,
                               if_exists, beep, terminate_on)
        return await self._client.request_model("POST", _path(channel_id, "/record"),
                                                LiveRecording.from_json, params=params)

    async def snoop(self, channel_id: str, *, app: str, spy: str = "none",
                    whisper: str = "none", app_args: str | None = None,
                    snoop_id: str | None = None) -> Channel:
        """A `Snoop/<id>-N` channel (Up at once) spying on and/or whispering to the channel."""
        v.choice("spy", spy, SPY_WHISPER)
        v.choice("whisper", whisper, SPY_WHISPER)
        if spy == "none" and whisper == "none":
            raise ValueError("snoop needs spy or whisper (both are 'none')")
        params = query(spy=spy, whisper=whisper, app=v.token("app", app),
                       appArgs=v.optional_text("app_args", app_args),
                       snoopId=v.optional_identifier("snoop_id", snoop_id))
        return await self._client.request_model("POST", _path(channel_id, "/snoop"),
                                                Channel.from_json, params=params)

    async def get_variable(self, channel_id: str, variable: str) -> str:
        params = query(variable=v.text("variable", variable))
        body = await self._client.request("GET", _path(channel_id, "/variable"), params=params)
        return self._client.parse(_variable_value, body, "GET", _path(channel_id, "/variable"))

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        params = query(variable=v.text("variable", variable),
                       value=v.text("value", value, allow_empty=True))
        await self._client.request("POST", _path(channel_id, "/variable"), params=params)

    async def continue_in_dialplan(self, channel_id: str, *, context: str | None = None,
                                   extension: str | None = None, priority: int | None = None,
                                   label: str | None = None) -> None:
        """Leave Stasis; with no arguments the channel continues where it entered Stasis."""
        if priority is not None and label is not None:
            raise ValueError("give priority or label, not both")
        params = query(context=v.optional_text("context", context),
                       extension=v.optional_text("extension", extension),
                       priority=v.optional_integer("priority", priority, minimum=1),
                       label=v.optional_text("label", label))
        await self._client.request("POST", _path(channel_id, "/continue"), params=params)

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        params = query(endpoint=v.endpoint(endpoint))
        await self._client.request("POST", _path(channel_id, "/redirect"), params=params)

    async def send_dtmf(self, channel_id: str, dtmf: str, *, between: int | None = None,
                        duration: int | None = None) -> None:
        """Send DTMF digits; `between` and `duration` in milliseconds."""
        params = query(dtmf=v.dtmf(dtmf),
                       between=v.optional_integer("between", between, minimum=0),
                       duration=v.optional_integer("duration", duration, minimum=1))
        await self._client.request("POST", _path(channel_id, "/dtmf"), params=params)


def _variable_value(body: Any) -> str:
    value = body["value"]
    if not isinstance(value, str):
        raise TypeError("value must be a string")
    return value
