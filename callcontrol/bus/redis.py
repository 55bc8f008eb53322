"""Redis pub/sub backend: one connection per process, shared by every local subscriber.

2,000 agent websockets in one process share a single Redis subscription connection: the
reader task fans each message out to the local subscribers of its topic.

A message is delivered to this process's own subscribers at once, then published for the
other processes; each bus marks what it publishes with its own origin and skips it when
Redis hands it back. A pop for an agent connected to the process handling the call so
reaches their socket without the trip through Redis and back (its JSON encoded, sent,
received and decoded again), and still reaches them while Redis is away.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from callcontrol.bus.base import Bus, Message

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "callcontrol:"
_CONTROL = CHANNEL_PREFIX + "__bus__"


class RedisBus(Bus):
    def __init__(self, url: str, *, prefix: str = CHANNEL_PREFIX) -> None:
        super().__init__()
        self._url = url
        self._prefix = prefix
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=3)
        self._pubsub = self._redis.pubsub()
        self._reader: asyncio.Task[None] | None = None
        self._confirm: dict[str, list[asyncio.Future[None]]] = {}
        self._lock = asyncio.Lock()
        self._origin = uuid.uuid4().hex[:16]
        # what our own messages start with: skipped without decoding them (envelope())
        self._own = f'{{"origin":"{self._origin}",'.encode()

    @property
    def name(self) -> str:
        return "redis"

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        self.deliver_locally(topic, data)
        await self._redis.publish(*self.envelope(topic, data))

    def envelope(self, topic: str, data: dict[str, Any]) -> tuple[str, str]:
        """The Redis channel and payload of a message, for a writer that publishes it in
        a pipeline of its own (then :meth:`deliver_locally`)."""
        return self._prefix + topic, json.dumps(
            {"origin": self._origin, "topic": topic, "data": data}, separators=(",", ":"))

    def deliver_locally(self, topic: str, data: dict[str, Any]) -> None:
        self._local.deliver(Message(topic, data))

    async def _on_new_topics(self, topics: list[str]) -> None:
        if topics:
            await self._subscribe_confirmed([self._prefix + t for t in topics])

    async def _on_gone_topics(self, topics: list[str]) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.unsubscribe(*(self._prefix + t for t in topics))

    async def _subscribe_confirmed(self, channels: list[str]) -> None:
        # SUBSCRIBE returns once written; a PUBLISH from another connection could overtake
        # it. Waiting for the server's confirmation makes "subscribed" mean "will receive".
        async with self._lock:
            await self._ensure_reader_locked()
            loop = asyncio.get_running_loop()
            futures = []
            for ch in channels:
                fut: asyncio.Future[None] = loop.create_future()
                self._confirm.setdefault(ch, []).append(fut)
                futures.append(fut)
            await self._pubsub.subscribe(*channels)
        await asyncio.wait_for(asyncio.gather(*futures), timeout=5)

    async def _ensure_reader_locked(self) -> None:
        if self._reader is None:
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[None] = loop.create_future()
            self._confirm.setdefault(_CONTROL, []).append(fut)
            await self._pubsub.subscribe(_CONTROL)
            self._reader = asyncio.create_task(self._read_loop(), name="redis-bus-reader")
            await asyncio.wait_for(fut, timeout=5)

    async def _read_loop(self) -> None:
        backoff = 0.1
        while True:
            try:
                raw = await self._pubsub.get_message(ignore_subscribe_messages=False, timeout=1.0)
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                logger.warning("redis bus connection lost (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if raw is not None:
                self._handle(raw)

    def _handle(self, raw: dict[str, Any]) -> None:
        kind = raw.get("type")
        channel = raw.get("channel")
        if isinstance(channel, bytes):
            channel = channel.decode()
        if kind == "subscribe":
            for fut in self._confirm.pop(channel, []):
                if not fut.done():
                    fut.set_result(None)
            return
        if kind != "message":
            return
        data = raw.get("data")
        if isinstance(data, bytes) and data.startswith(self._own):
            return                # ours: delivered locally when published
        try:
            body = json.loads(raw["data"])
            self._local.deliver(Message(body["topic"], body["data"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed bus message on %s", channel)

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), timeout=2))
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._redis.aclose()
