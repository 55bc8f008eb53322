"""Screen pops: what call control tells an agent's browser about a call, and replay on reconnect.

Messages go to the bus topic ``agent.<agent_id>``; the agent's websockets (any process)
forward them. The pop payload, built by call control (``build_pop`` helps)::

    {
      "call_id": "1700000000.42",          # the call's id (ARI channel id or the PBX's id)
      "communication_id": 17,              # the Communication row logged for the call
      "direction": "inbound" | "outbound",
      "caller": {"number": "99 123456",    # as dialled / presented by the network
                 "e164": "+35799123456"},  # normalised, or null if not a valid number
      "contacts": [                        # 0, 1 or several matches (contact_payload)
        {"id": 5, "code": "C-0005", "name": "Maria Georgiou", "kind": "person",
         "vip": false,
         "summary": {"open_service_requests": 1, "balance_due": "120.50",
                     "currency": "EUR", "flash_notes": ["Disputed bill, see SR-9"]}}
      ],
      "started_at": "2026-11-23T11:00:00+00:00"
    }

Message types: ``call.ringing`` (the pop), ``call.answered`` and ``call.ended`` (same
payload, so an agent who pops "on answer" has everything), ``pop.closed`` (``call_id``,
``reason``: the call was taken by someone else or abandoned).

Active pops (ringing or answered, not yet ended/closed) are kept in a store, in memory or
in Redis when ``redis_url`` is configured, so a websocket that reconnects to ANY process
gets them again (marked ``"replay": true``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any, Protocol

from callcontrol.bus.base import encode
from callcontrol.bus.resp import Arg, RespClient
from callcontrol.crm.lookup import ContactMatch

logger = logging.getLogger(__name__)
POP_TTL_SECONDS = 3600  # a pop nobody ended (a lost hang-up event) does not live forever
SWEEP_EVERY = 256


def contact_payload(match: ContactMatch) -> dict[str, Any]:
    """One look-up match as the pop's contact entry (money as a string: exact in JSON)."""
    return {
        "id": match.id, "code": match.code, "name": match.name, "kind": match.kind,
        "vip": match.vip,
        "summary": {
            "open_service_requests": match.open_service_requests,
            "balance_due": str(match.balance_due),
            "currency": match.currency,
            "flash_notes": list(match.flash_notes),
        },
    }


def build_pop(*, call_id: str, communication_id: int | None, direction: str,
              number: str | None, e164: str | None, matches: Sequence[ContactMatch],
              started_at: datetime) -> dict[str, Any]:
    return {
        "call_id": call_id, "communication_id": communication_id, "direction": direction,
        "caller": {"number": number, "e164": e164},
        "contacts": [contact_payload(m) for m in matches],
        "started_at": started_at.isoformat(),
    }


def topic(agent_id: int) -> str:
    return f"agent.{agent_id}"


class PopStore(Protocol):
    async def put(self, agent_id: int, call_id: str, message: dict[str, Any]) -> None: ...
    async def get(self, agent_id: int, call_id: str) -> dict[str, Any] | None: ...
    async def remove(self, agent_id: int, call_id: str) -> None: ...
    async def all(self, agent_id: int) -> list[dict[str, Any]]: ...
    async def close(self) -> None: ...


class MemoryPopStore:
    """Active pops of this process (single-process runs and tests)."""

    def __init__(self, ttl: float = POP_TTL_SECONDS) -> None:
        self._ttl = ttl
        self._pops: dict[int, dict[str, tuple[float, dict[str, Any]]]] = {}
        self._puts = 0

    async def put(self, agent_id: int, call_id: str, message: dict[str, Any]) -> None:
        self._puts += 1
        if self._puts % SWEEP_EVERY == 0:  # pops whose end was lost, of agents who left
            self._sweep(time.monotonic())
        self._pops.setdefault(agent_id, {})[call_id] = (time.monotonic() + self._ttl, message)

    def _sweep(self, now: float) -> None:
        for agent_id in list(self._pops):
            pops = self._pops[agent_id]
            for call_id in [c for c, (exp, _) in pops.items() if exp <= now]:
                del pops[call_id]
            if not pops:
                del self._pops[agent_id]

    async def get(self, agent_id: int, call_id: str) -> dict[str, Any] | None:
        entry = self._pops.get(agent_id, {}).get(call_id)
        return entry[1] if entry and entry[0] > time.monotonic() else None

    async def remove(self, agent_id: int, call_id: str) -> None:
        pops = self._pops.get(agent_id)
        if pops is not None:
            pops.pop(call_id, None)
            if not pops:
                del self._pops[agent_id]

    async def all(self, agent_id: int) -> list[dict[str, Any]]:
        now = time.monotonic()
        pops = self._pops.get(agent_id, {})
        for call_id in [c for c, (exp, _) in pops.items() if exp <= now]:
            del pops[call_id]
        return [message for _, message in pops.values()]

    async def close(self) -> None:
        self._pops.clear()


class RedisPopStore:
    """Active pops in a Redis hash per agent, shared by every callcontrol process (on the
    bus's own Redis client, ``callcontrol/bus/resp.py``: the pop store is on the call path
    too)."""

    def __init__(self, url: str, *, prefix: str = "callcontrol:pops:",
                 ttl: int = POP_TTL_SECONDS) -> None:
        self._redis = RespClient(url)
        self._prefix = prefix
        self._ttl = ttl

    def _key(self, agent_id: int) -> str:
        return f"{self._prefix}{agent_id}"

    def _keep(self, agent_id: int, call_id: str, text: str) -> list[tuple[Arg, ...]]:
        """The commands that keep a pop (its JSON): HSET it, and the agent's hash expires
        in ttl."""
        key = self._key(agent_id)
        return [(b"HSET", key, call_id, text), (b"EXPIRE", key, self._ttl)]

    async def put(self, agent_id: int, call_id: str, message: dict[str, Any]) -> None:
        await self._redis.transaction(*self._keep(agent_id, call_id, encode(message)))

    async def get(self, agent_id: int, call_id: str) -> dict[str, Any] | None:
        raw = await self._redis.execute(b"HGET", self._key(agent_id), call_id)
        return json.loads(raw) if raw else None

    async def remove(self, agent_id: int, call_id: str) -> None:
        await self._redis.execute(b"HDEL", self._key(agent_id), call_id)

    async def put_and_publish(self, agent_id: int, call_id: str, text: str | None,
                              envelope: tuple[str, str]) -> None:
        """Keep (``text``, the pop's JSON) or drop (None) a pop and publish a bus message,
        in one round trip (MULTI/EXEC): the store and the publication never part."""
        if text is None:
            commands: list[tuple[Arg, ...]] = [(b"HDEL", self._key(agent_id), call_id)]
        else:
            commands = self._keep(agent_id, call_id, text)
        commands.append((b"PUBLISH", *envelope))
        await self._redis.transaction(*commands)

    async def all(self, agent_id: int) -> list[dict[str, Any]]:
        raw = await self._redis.execute(b"HGETALL", self._key(agent_id))
        return [json.loads(v) for v in raw[1::2]]

    async def close(self) -> None:
        await self._redis.close()


def create_pop_store(redis_url: str | None) -> PopStore:
    return RedisPopStore(redis_url) if redis_url else MemoryPopStore()


class PopService:
    def __init__(self, bus: Any, store: PopStore, metrics: Any = None) -> None:
        self._bus = bus
        self.store = store
        self._pops_total = metrics["callcontrol_pops_total"] if metrics is not None else None

    async def _keep(self, what: str, step: Awaitable[Any]) -> None:
        # The live pop matters more than its replay: a store outage is logged, not raised.
        try:
            await step
        except Exception:
            logger.exception("pop store: could not %s", what)

    async def ringing(self, agent_id: int, payload: dict[str, Any]) -> None:
        message = {**payload, "type": "call.ringing"}
        await self._store_and_publish(agent_id, _call_id(payload), message, message)
        if self._pops_total is not None:
            self._pops_total.inc()

    async def answered(self, agent_id: int, call_id: str, payload: dict[str, Any]) -> None:
        message = {**payload, "call_id": call_id, "type": "call.answered"}
        await self._store_and_publish(agent_id, call_id, message, message)

    async def ended(self, agent_id: int, call_id: str, payload: dict[str, Any]) -> None:
        await self._store_and_publish(agent_id, call_id, None,
                                      {**payload, "call_id": call_id, "type": "call.ended"})

    async def closed(self, agent_id: int, call_id: str, reason: str) -> None:
        await self._store_and_publish(agent_id, call_id, None,
                                      {"type": "pop.closed", "call_id": call_id,
                                       "reason": reason})

    async def _store_and_publish(self, agent_id: int, call_id: str,
                                 kept: dict[str, Any] | None, message: dict[str, Any]) -> None:
        """Keep the pop (``kept``) or drop it (None), then publish ``message``: the store
        first, so a socket that connects meanwhile finds it there if it missed it live.
        With Redis for both, one round trip: the store and the publication in one
        MULTI/EXEC, then this process's own subscribers (three round trips a call less)."""
        name = topic(agent_id)
        envelope = getattr(self._bus, "envelope", None)
        if envelope is not None and isinstance(self.store, RedisPopStore):
            # encoded once: the stored pop, the bus message and the websocket frame
            text = encode(message)
            stored = None if kept is None else text if kept is message else encode(kept)
            try:
                await self.store.put_and_publish(agent_id, call_id, stored,
                                                 envelope(name, message, text))
            except Exception:  # noqa: BLE001 - Redis away: each step on its own, as below
                logger.warning("pop store and bus: one round trip failed; one step at a time")
            else:
                self._bus.deliver_locally(name, message, text)
                return
        if kept is None:
            await self._keep("drop a pop", self.store.remove(agent_id, call_id))
        else:
            await self._keep("keep a pop", self.store.put(agent_id, call_id, kept))
        await self._bus.publish(name, message)

    async def ack(self, agent_id: int, call_id: str) -> bool:
        """The agent's page showed the pop; replays say so (the page does not pop twice)."""
        message = await self.store.get(agent_id, call_id)
        if message is None:
            return False
        await self.store.put(agent_id, call_id, {**message, "acked": True})
        return True

    async def active(self, agent_id: int) -> list[dict[str, Any]]:
        pops = await self.store.all(agent_id)
        pops.sort(key=lambda m: str(m.get("started_at") or ""))
        return [{**m, "replay": True} for m in pops]

    async def payload(self, agent_id: int, call_id: str) -> dict[str, Any] | None:
        """The stored pop of an active call, without its message type (for later events)."""
        message = await self.store.get(agent_id, call_id)
        if message is None:
            return None
        return {k: v for k, v in message.items() if k not in ("type", "acked", "replay")}

    async def close(self) -> None:
        await self.store.close()


def _call_id(payload: dict[str, Any]) -> str:
    call_id = payload.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise ValueError("a pop needs a call_id")
    return call_id
