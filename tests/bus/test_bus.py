from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from callcontrol.bus import Bus, create_bus
from callcontrol.bus.base import Subscription, encode
from callcontrol.bus.redis import RedisBus


@pytest.fixture(params=["memory", "redis"])
async def bus_url(request: pytest.FixtureRequest) -> str | None:
    if request.param == "memory":
        return None
    return request.getfixturevalue("redis_url")


@pytest.fixture
async def bus(bus_url: str | None) -> AsyncIterator[Bus]:
    b = create_bus(bus_url)
    yield b
    await b.close()


async def test_subscriber_gets_messages_published_after_subscribing(
    bus: Bus, unique_name: str
) -> None:
    async with bus.subscribe(f"{unique_name}.a") as sub:
        for i in range(5):
            await bus.publish(f"{unique_name}.a", {"n": i})
        got = [(await sub.get(timeout=2)).data["n"] for _ in range(5)]
    assert got == [0, 1, 2, 3, 4]


async def test_topics_are_isolated(bus: Bus, unique_name: str) -> None:
    async with (
        bus.subscribe(f"{unique_name}.mine") as mine,
        bus.subscribe(f"{unique_name}.other") as other,
    ):
        await bus.publish(f"{unique_name}.other", {"secret": 1})
        await bus.publish(f"{unique_name}.mine", {"ok": 1})
        assert (await mine.get(timeout=2)).data == {"ok": 1}
        assert (await other.get(timeout=2)).data == {"secret": 1}
        await asyncio.sleep(0.05)
        assert mine.get_nowait() is None


async def test_several_local_subscribers_each_get_a_copy(bus: Bus, unique_name: str) -> None:
    topic = f"{unique_name}.fan"
    async with bus.subscribe(topic) as s1, bus.subscribe(topic) as s2:
        await bus.publish(topic, {"x": 1})
        assert (await s1.get(timeout=2)).data == {"x": 1}
        assert (await s2.get(timeout=2)).data == {"x": 1}


async def test_after_unsubscribe_nothing_is_queued(bus: Bus, unique_name: str) -> None:
    topic = f"{unique_name}.gone"
    async with bus.subscribe(topic) as sub:
        pass
    await bus.publish(topic, {"late": True})
    await asyncio.sleep(0.05)
    assert sub.get_nowait() is None


async def test_two_processes_share_messages_through_redis(redis_url: str, unique_name: str) -> None:
    # Two bus instances with their own connections stand for two callcontrol processes.
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    try:
        async with b.subscribe(f"{unique_name}.agent.7") as sub:
            await a.publish(f"{unique_name}.agent.7", {"type": "call.ringing"})
            msg = await sub.get(timeout=2)
        assert msg.topic == f"{unique_name}.agent.7"
        assert msg.data == {"type": "call.ringing"}
    finally:
        await a.close()
        await b.close()


async def test_a_process_gets_its_own_messages_once_and_at_once(redis_url: str,
                                                                 unique_name: str) -> None:
    """Local subscribers get a message when it is published (not after the trip through
    Redis), exactly once, while the other process gets it through Redis."""
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    topic = f"{unique_name}.agent.8"
    try:
        async with a.subscribe(topic) as mine, b.subscribe(topic) as theirs:
            await a.publish(topic, {"n": 1})
            first = mine.get_nowait()                     # delivered while publishing
            assert first is not None and first.data == {"n": 1}
            assert (await theirs.get(timeout=2)).data == {"n": 1}
            await asyncio.sleep(0.1)                      # Redis has handed it back to a
            assert mine.get_nowait() is None              # and a did not deliver it again
    finally:
        await a.close()
        await b.close()


def test_the_envelope_is_what_json_encodes_with_the_message_encoded_once() -> None:
    """The Redis payload is built around the message's JSON instead of encoding it again,
    and stays byte for byte what json.dumps of the whole envelope gives: processes of the
    previous release read it (and it theirs) during a rolling upgrade."""
    bus = RedisBus("redis://127.0.0.1:1/0")
    data = {"type": "call.ringing", "caller": {"number": '+357 "99"\\ \u00e9\u2603'},
            "contacts": [{"id": 5, "vip": False, "summary": {"balance_due": "1.50"}}],
            "n": None}
    for topic in ("agent.7", 'weird "topic" \u00e9'):
        channel, payload = bus.envelope(topic, data)
        assert channel == "callcontrol:" + topic
        assert payload == json.dumps({"origin": bus._origin, "topic": topic, "data": data},
                                     separators=(",", ":"))
        assert bus.envelope(topic, data, encode(data)) == (channel, payload)
        assert json.loads(payload) == {"origin": bus._origin, "topic": topic, "data": data}


async def test_a_published_message_reaches_local_subscribers_with_its_json(
        redis_url: str, unique_name: str) -> None:
    """What a local subscriber (an agent's websocket) gets carries the JSON the publisher
    made, so the socket sends it without encoding it again; what came through Redis from
    another process has none and is encoded where it is sent."""
    a, b = RedisBus(redis_url), RedisBus(redis_url)
    topic = f"{unique_name}.agent.9"
    try:
        async with a.subscribe(topic) as mine, b.subscribe(topic) as theirs:
            await a.publish(topic, {"n": 1, "s": "\u00e9"})
            local = mine.get_nowait()
            assert local is not None and json.loads(local.text) == {"n": 1, "s": "\u00e9"}
            remote = await theirs.get(timeout=2)
            assert remote.data == {"n": 1, "s": "\u00e9"} and remote.text is None
    finally:
        await a.close()
        await b.close()


async def test_local_subscribers_get_messages_while_redis_is_away(unique_name: str) -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(Exception):  # noqa: B017 - redis-py's connection error
            await bus.publish(f"{unique_name}.x", {"n": 1})
        # subscribing needs Redis; delivery to existing local subscribers does not
        from callcontrol.bus.base import Subscription as Sub

        sub = Sub((f"{unique_name}.x",))
        bus._local.add(sub)
        with pytest.raises(Exception):  # noqa: B017
            await bus.publish(f"{unique_name}.x", {"n": 2})
        assert sub.get_nowait().data == {"n": 2}  # type: ignore[union-attr]
    finally:
        await bus.close()


def test_a_subscriber_that_stops_reading_loses_oldest_not_memory() -> None:
    sub = Subscription(("t",), limit=3)
    from callcontrol.bus.base import Message

    for i in range(5):
        sub.deliver(Message("t", {"n": i}))
    assert sub.dropped == 2
    assert [sub.get_nowait().data["n"] for _ in range(3)] == [2, 3, 4]  # type: ignore[union-attr]


async def test_ping_reports_an_unreachable_redis() -> None:
    bus = RedisBus("redis://127.0.0.1:1/0")
    try:
        assert await bus.ping() is False
    finally:
        await bus.close()


def test_unknown_bus_url_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported bus URL"):
        create_bus("kafka://x")
