"""Redis pub/sub backend: one connection per process, shared by every local subscriber.

2,000 agent websockets in one process share a single Redis subscription connection: each
message goes from the connection's protocol to the local subscribers of its topic, with
no task in between. A lost subscription connection is opened again (0.1 s backoff doubling
to 5 s) and every topic with a local subscriber subscribed again. Commands (PUBLISH, PING)
share one more connection. Both are ``callcontrol/bus/resp.py``, not redis-py: the bus is
on the call path, and redis-py cost twice the CPU per command (that module says why).

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

from callcontrol.bus.base import Bus, Message, encode
from callcontrol.bus.resp import RespClient, RespError, RespSubscriber

logger = logging.getLogger(__name__)

CHANNEL_PREFIX = "callcontrol:"


class RedisBus(Bus):
    def __init__(self, url: str, *, prefix: str = CHANNEL_PREFIX) -> None:
        super().__init__()
        self._url = url
        self._prefix = prefix
        self._redis = RespClient(url)
        self._subscriber = RespSubscriber(url, self._handle)
        self._origin = uuid.uuid4().hex[:16]
        # what our own messages start with: skipped without decoding them (envelope())
        self._own = f'{{"origin":"{self._origin}",'.encode()
        self._head = f'{{"origin":"{self._origin}","topic":'

    @property
    def name(self) -> str:
        return "redis"

    async def publish(self, topic: str, data: dict[str, Any]) -> None:
        text = encode(data)
        self.deliver_locally(topic, data, text)
        await self._redis.execute(b"PUBLISH", *self.envelope(topic, data, text))

    def envelope(self, topic: str, data: dict[str, Any],
                 text: str | None = None) -> tuple[str, str]:
        """The Redis channel and payload of a message, for a writer that publishes it in
        a pipeline of its own (then :meth:`deliver_locally`). ``text``: ``data`` encoded
        already (:func:`encode`), put in as it is."""
        if text is None:
            text = encode(data)
        # what json.dumps({"origin": ..., "topic": ..., "data": data}) gives, compact,
        # without encoding ``data`` again
        return self._prefix + topic, (f'{self._head}{json.dumps(topic)},"data":{text}}}')

    def deliver_locally(self, topic: str, data: dict[str, Any], text: str | None = None) -> None:
        self._local.deliver(Message(topic, data, text))

    async def _on_new_topics(self, topics: list[str]) -> None:
        # The subscriber returns once Redis confirmed: "subscribed" means "will receive",
        # even a PUBLISH from another connection sent the next instant.
        if topics:
            await self._subscriber.subscribe(*(self._prefix + t for t in topics))

    async def _on_gone_topics(self, topics: list[str]) -> None:
        with contextlib.suppress(RespError, OSError):
            await self._subscriber.unsubscribe(*(self._prefix + t for t in topics))

    def _handle(self, channel: bytes, data: bytes) -> None:
        if data.startswith(self._own):
            return                # ours: delivered locally when published
        try:
            body = json.loads(data)
            self._local.deliver(Message(body["topic"], body["data"]))
        except (ValueError, KeyError, TypeError):
            logger.warning("ignored a malformed bus message on %s",
                           channel.decode("utf-8", "replace"))

    async def ping(self) -> bool:
        try:
            return await asyncio.wait_for(self._redis.execute(b"PING"), timeout=2) == b"PONG"
        except (RespError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        await self._subscriber.close()
        await self._redis.close()
