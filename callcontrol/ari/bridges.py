"""Bridge resource: /bridges. Every method validates its arguments before sending."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from callcontrol.ari import validate as v
from callcontrol.ari.channels import media_params, record_params
from callcontrol.ari.models import Bridge, LiveRecording, Playback
from callcontrol.ari.params import query, segment

if TYPE_CHECKING:
    from callcontrol.ari.client import AriClient

BRIDGE_TYPES = ("mixing", "holding", "dtmf_events", "proxy_media", "video_sfu", "video_single")


def _path(bridge_id: str, tail: str = "") -> str:
    return f"/bridges/{segment(v.identifier('bridge_id', bridge_id))}{tail}"


def _channels(channel: str | Sequence[str]) -> str:
    return v.one_or_many("channel", channel, lambda c: v.identifier("channel", c))


class BridgesApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def create(self, *, type: str = "mixing", bridge_id: str | None = None,
                     name: str | None = None) -> Bridge:
        """`type` is one flag or several comma-separated (`mixing,dtmf_events`)."""
        flags = [v.choice("bridge type", t, BRIDGE_TYPES) for t in str(type).split(",")]
        params = query(type=",".join(flags),
                       bridgeId=v.optional_identifier("bridge_id", bridge_id),
                       name=v.optional_text("name", name))
        return await self._client.request_model("POST", "/bridges", Bridge.from_json,
                                                params=params)

    async def list(self) -> list[Bridge]:
        return await self._client.request_list("/bridges", Bridge.from_json)

    async def get(self, bridge_id: str) -> Bridge:
        return await self._client.request_model("GET", _path(bridge_id), Bridge.from_json)

    async def destroy(self, bridge_id: str) -> None:
        await self._client.request("DELETE", _path(bridge_id))

    async def add_channel(self, bridge_id: str, channel: str | Sequence[str], *,
                          role: str | None = None) -> None:
        params = query(channel=_channels(channel), role=v.optional_token("role", role))
        await self._client.request("POST", _path(bridge_id, "/addChannel"), params=params)

    async def remove_channel(self, bridge_id: str, channel: str | Sequence[str]) -> None:
        params = query(channel=_channels(channel))
        await self._client.request("POST", _path(bridge_id, "/removeChannel"), params=params)

    async def record(self, bridge_id: str, name: str, *, format: str = "wav",
                     max_duration_seconds: int = 0, max_silence_seconds: int = 0,
                     if_exists: str = "fail", beep: bool = False,
                     terminate_on: str = "none") -> LiveRecording:
        """Record the bridge mix. `format` is always sent: without it Asterisk 22 segfaults."""
        params = record_params(name, format, max_duration_seconds, max_silence_seconds,
                               if_exists, beep, terminate_on)
        return await self._client.request_model("POST", _path(bridge_id, "/record"),
                                                LiveRecording.from_json, params=params)

    async def play(self, bridge_id: str, media: str | Sequence[str], *,
                   playback_id: str | None = None, lang: str | None = None) -> Playback:
        params = media_params(media, lang)
        tail = "/play"
        if playback_id is not None:
            tail += "/" + segment(v.identifier("playback_id", playback_id))
        return await self._client.request_model("POST", _path(bridge_id, tail),
                                                Playback.from_json, params=params)

    async def start_moh(self, bridge_id: str, moh_class: str | None = None) -> None:
        params = query(mohClass=v.optional_token("moh_class", moh_class))
        await self._client.request("POST", _path(bridge_id, "/moh"), params=params)

    async def stop_moh(self, bridge_id: str) -> None:
        await self._client.request("DELETE", _path(bridge_id, "/moh"))
