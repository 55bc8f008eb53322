"""Channel resource methods (partial: list, get, answer, hangup with a validated reason)."""

from __future__ import annotations

from typing import Any

from callcontrol.ari.client import AriClient

HANGUP_REASONS = frozenset({
    "normal", "busy", "congestion", "no_answer", "timeout", "rejected",
    "unallocated", "normal_unspecified", "number_incomplete", "codec_mismatch",
    "interworking", "failure", "answered_elsewhere",
})


class ChannelsApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def list(self) -> list[dict[str, Any]]:
        return await self._client.request("GET", "/channels")

    async def get(self, channel_id: str) -> dict[str, Any]:
        return await self._client.request("GET", f"/channels/{channel_id}")

    async def answer(self, channel_id: str) -> None:
        await self._client.request("POST", f"/channels/{channel_id}/answer")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up; an unknown reason raises ValueError before anything is sent."""
        if reason not in HANGUP_REASONS:
            raise ValueError(f"hangup reason {reason!r} is not one of {sorted(HANGUP_REASONS)}")
        await self._client.request("DELETE", f"/channels/{channel_id}", params={"reason": reason})
