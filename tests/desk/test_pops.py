from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from callcontrol.bus import create_bus
from callcontrol.crm.lookup import ContactMatch
from callcontrol.desk.pops import (
    MemoryPopStore,
    PopService,
    RedisPopStore,
    build_pop,
    contact_payload,
)
from callcontrol.metrics import product_registry

MATCH = ContactMatch(id=5, code="C-5", name="Maria Georgiou", kind="person", vip=True,
                     open_service_requests=2, balance_due=Decimal("120.50"), currency="EUR",
                     flash_notes=("Disputed bill",))


def _pop(call_id: str = "call-1") -> dict:
    return build_pop(call_id=call_id, communication_id=7, direction="inbound",
                     number="99 123456", e164="+35799123456", matches=[MATCH],
                     started_at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC))


def test_contact_payload_carries_the_summary_with_exact_money():
    assert contact_payload(MATCH) == {
        "id": 5, "code": "C-5", "name": "Maria Georgiou", "kind": "person", "vip": True,
        "summary": {"open_service_requests": 2, "balance_due": "120.50", "currency": "EUR",
                    "flash_notes": ["Disputed bill"]},
    }
    pop = _pop()
    assert pop["caller"] == {"number": "99 123456", "e164": "+35799123456"}
    assert pop["started_at"] == "2026-11-23T11:00:00+00:00"


async def _lifecycle(store, bus=None) -> None:
    bus = bus or create_bus(None)
    metrics = product_registry()
    pops = PopService(bus, store, metrics)
    async with bus.subscribe("agent.1") as mine, bus.subscribe("agent.2") as other:
        await pops.ringing(1, _pop())
        ringing = await mine.get(timeout=1)
        assert ringing.data["type"] == "call.ringing"
        assert ringing.data["contacts"][0]["name"] == "Maria Georgiou"
        assert other.get_nowait() is None
        [active] = await pops.active(1)
        assert active["call_id"] == "call-1" and active["replay"] is True
        assert await pops.active(2) == []
        assert await pops.ack(1, "call-1") and (await pops.active(1))[0]["acked"] is True
        await pops.answered(1, "call-1", await pops.payload(1, "call-1"))
        answered = await mine.get(timeout=1)
        assert answered.data["type"] == "call.answered" and answered.data["contacts"]
        await pops.ended(1, "call-1", {"duration_seconds": 3})
        assert (await mine.get(timeout=1)).data["type"] == "call.ended"
        assert await pops.active(1) == []
        await pops.ringing(1, _pop("call-2"))
        await mine.get(timeout=1)
        await pops.closed(1, "call-2", "answered elsewhere")
        closed = await mine.get(timeout=1)
        assert closed.data == {"type": "pop.closed", "call_id": "call-2",
                               "reason": "answered elsewhere"}
        assert await pops.active(1) == []
    assert metrics.counter("callcontrol_pops_total").value() == 2
    with pytest.raises(ValueError, match="call_id"):
        await pops.ringing(1, {"contacts": []})
    await pops.close()


async def test_memory_store_keeps_active_pops_until_ended_or_closed():
    await _lifecycle(MemoryPopStore())


async def test_redis_store_keeps_active_pops_until_ended_or_closed(redis_url, unique_name):
    await _lifecycle(RedisPopStore(redis_url, prefix=f"{unique_name}:pops:"))


class CountingRedisStore(RedisPopStore):
    steps = 0

    async def put(self, agent_id, call_id, message):
        self.steps += 1
        await super().put(agent_id, call_id, message)

    async def remove(self, agent_id, call_id):
        self.steps += 1
        await super().remove(agent_id, call_id)


async def test_with_redis_for_both_a_pop_is_kept_and_published_in_one_step(redis_url,
                                                                            unique_name):
    """Redis store and Redis bus: each pop message is stored (or dropped) and published in
    one MULTI/EXEC; this process's subscribers get it once, another process's too."""
    from callcontrol.bus.redis import RedisBus

    bus, other = RedisBus(redis_url), RedisBus(redis_url)
    store = CountingRedisStore(redis_url, prefix=f"{unique_name}:pops:")
    try:
        async with other.subscribe("agent.1") as theirs:
            await _lifecycle(store, bus)
            kinds = [(await theirs.get(timeout=2)).data["type"] for _ in range(5)]
        assert kinds == ["call.ringing", "call.answered", "call.ended", "call.ringing",
                         "pop.closed"]
        assert store.steps == 1          # only ack() stored on its own
        # what is kept for a replay is the JSON that went out, encoded once for both
        kept = RedisPopStore(redis_url, prefix=f"{unique_name}:pops:")
        pops = PopService(bus, kept)
        async with bus.subscribe("agent.2") as mine:
            await pops.ringing(2, {"call_id": "c-json", "caller": {"number": "\u00e9"}})
            sent = mine.get_nowait()
        raw = await kept._redis.execute(b"HGET", kept._key(2), "c-json")
        await pops.close()
        assert sent is not None and sent.text == raw.decode()
        assert json.loads(raw) == {"call_id": "c-json", "caller": {"number": "\u00e9"},
                                   "type": "call.ringing"}
    finally:
        await bus.close()
        await other.close()


async def test_memory_store_forgets_pops_after_their_ttl():
    store = MemoryPopStore(ttl=0.0)
    await store.put(1, "c", {"call_id": "c"})
    assert await store.all(1) == [] and await store.get(1, "c") is None
    for agent in range(300):  # agents who never come back do not keep memory forever
        await store.put(agent, "lost", {"call_id": "lost"})
    assert len(store._pops) < 100


class BrokenStore(MemoryPopStore):
    async def put(self, agent_id, call_id, message):
        raise ConnectionError("redis is down")

    async def remove(self, agent_id, call_id):
        raise ConnectionError("redis is down")


async def test_a_pop_store_outage_does_not_stop_the_live_pop(caplog):
    bus = create_bus(None)
    pops = PopService(bus, BrokenStore())
    async with bus.subscribe("agent.1") as sub:
        await pops.ringing(1, _pop())
        assert (await sub.get(timeout=1)).data["type"] == "call.ringing"
        await pops.closed(1, "call-1", "abandoned")
        assert (await sub.get(timeout=1)).data["type"] == "pop.closed"
    assert "could not keep a pop" in caplog.text
