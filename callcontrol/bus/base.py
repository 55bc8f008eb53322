"""The bus interface and the local fan-out both backends share."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    data: dict[str, Any]
    # ``data`` as compact JSON when the publisher encoded it already (for the bus or a
    # store): a websocket sends it as it is instead of encoding it once more
    text: str | None = None


def encode(data: dict[str, Any]) -> str:
    """A message's JSON, compact: the one encoding shared by the bus, the pop store and the
    agents' websockets."""
    return json.dumps(data, separators=(",", ":"))


class Subscription:
    """What ``Bus.subscribe`` yields: an async iterator of messages on its topics."""

    def __init__(self, topics: tuple[str, ...], limit: int = QUEUE_LIMIT) -> None:
        self.topics = topics
        self._queue: asyncio.Queue[Message] = asyncio.Queue(limit)
        self.dropped = 0

    def deliver(self, message: Message) -> None:
        # A subscriber that stopped reading must not grow memory without bound nor stall
        # the publisher: the oldest message goes, and the loss is counted and logged.
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            logger.warning("bus subscriber on %s is not reading; dropped a message", self.topics)
        self._queue.put_nowait(message)

    async def get(self, timeout: float | None = None) -> Message:
        if timeout is None:
            return await self._queue.get()
        return await asyncio.wait_for(self._queue.get(), timeout)

    def get_nowait(self) -> Message | None:
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            return None

    def __aiter__(self) -> AsyncIterator[Message]:
        return self

    async def __anext__(self) -> Message:
        return await self._queue.get()


class LocalFanout:
    """Topic -> local subscriptions; both backends deliver through one of these."""

    def __init__(self) -> None:
        self._subs: dict[str, set[Subscription]] = defaultdict(set)

    def add(self, sub: Subscription) -> list[str]:
        """Register ``sub``; return the topics that had no local subscriber before."""
        new = [t for t in sub.topics if not self._subs.get(t)]
        for topic in sub.topics:
            self._subs[topic].add(sub)
        return new

    def remove(self, sub: Subscription) -> list[str]:
        """Unregister ``sub``; return the topics that now have no local subscriber."""
        gone = []
        for topic in sub.topics:
            subs = self._subs.get(topic)
            if subs is None:
                continue
            subs.discard(sub)
            if not subs:
                del self._subs[topic]
                gone.append(topic)
        return gone

    def deliver(self, message: Message) -> int:
        subs = self._subs.get(message.topic, ())
        for sub in tuple(subs):
            sub.deliver(message)
        return len(subs)

    def topics(self) -> list[str]:
        return list(self._subs)


class Bus:
    """Base class: ``publish`` and ``subscribe``; backends override the transport."""

    def __init__(self) -> None:
        self._local = LocalFanout()

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        raise NotImplementedError

    async def _on_new_topics(self, topics: list[str]) -> None:
        """Backends start listening on topics that got their first local subscriber."""

    async def _on_gone_topics(self, topics: list[str]) -> None:
        """Backends stop listening on topics that lost their last local subscriber."""

    @contextlib.asynccontextmanager
    async def subscribe(self, *topics: str) -> AsyncIterator[Subscription]:
        if not topics:
            raise ValueError("subscribe needs at least one topic")
        sub = Subscription(tuple(topics))
        new = self._local.add(sub)
        try:
            await self._on_new_topics(new)
            yield sub
        finally:
            gone = self._local.remove(sub)
            if gone:
                await self._on_gone_topics(gone)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None

    @property
    def name(self) -> str:
        return "memory"


class MemoryBus(Bus):
    """In-process bus: the real implementation for one process, not a test double."""

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        self._local.deliver(Message(topic, data))


def create_bus(url: str | None) -> Bus:
    """``None``/``memory://`` -> MemoryBus; ``redis://...`` -> RedisBus."""
    if not url or url.startswith("memory://"):
        return MemoryBus()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from callcontrol.bus.redis import RedisBus

        return RedisBus(url)
    raise ValueError(f"unsupported bus URL {url!r}")
