"""Recording resource: live recordings (/recordings/live) and stored ones (/recordings/stored)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from callcontrol.ari import validate as v
from callcontrol.ari.models import LiveRecording, StoredRecording
from callcontrol.ari.params import segment

if TYPE_CHECKING:
    from callcontrol.ari.client import AriClient

# A WAV of a long call can take longer to fetch than an ordinary request.
DOWNLOAD_TIMEOUT_FACTOR = 6


def _live(name: str, tail: str = "") -> str:
    return f"/recordings/live/{segment(v.recording_name(name))}{tail}"


def _stored(name: str, tail: str = "") -> str:
    return f"/recordings/stored/{segment(v.recording_name(name))}{tail}"


class RecordingsApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def get_live(self, name: str) -> LiveRecording:
        return await self._client.request_model("GET", _live(name), LiveRecording.from_json)

    async def stop(self, name: str) -> None:
        """Stop and store the recording (`RecordingFinished` follows)."""
        await self._client.request("POST", _live(name, "/stop"))

    async def cancel(self, name: str) -> None:
        """Stop and discard the recording."""
        await self._client.request("DELETE", _live(name))

    async def pause(self, name: str) -> None:
        """Paused time is left out of the file (state `paused`)."""
        await self._client.request("POST", _live(name, "/pause"))

    async def unpause(self, name: str) -> None:
        await self._client.request("DELETE", _live(name, "/pause"))

    async def mute(self, name: str) -> None:
        """Muted time is kept in the file as silence (state stays `recording`)."""
        await self._client.request("POST", _live(name, "/mute"))

    async def unmute(self, name: str) -> None:
        await self._client.request("DELETE", _live(name, "/mute"))

    async def list_stored(self) -> list[StoredRecording]:
        return await self._client.request_list("/recordings/stored", StoredRecording.from_json)

    async def get_stored(self, name: str) -> StoredRecording:
        return await self._client.request_model("GET", _stored(name), StoredRecording.from_json)

    async def download(self, name: str) -> bytes:
        """The stored recording's file (e.g. WAV bytes)."""
        timeout = self._client.config.request_timeout * DOWNLOAD_TIMEOUT_FACTOR
        return await self._client.request_bytes("GET", _stored(name, "/file"), timeout=timeout)

    async def delete_stored(self, name: str) -> None:
        await self._client.request("DELETE", _stored(name))
