from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import aiohttp
import pytest

from callcontrol.desk.pops import build_pop
from tests.desk.conftest import BOTH_DATABASES

WS = "/api/v1/ws"


def _pop(call_id: str, name: str = "Maria Georgiou") -> dict:
    from decimal import Decimal

    from callcontrol.crm.lookup import ContactMatch

    match = ContactMatch(id=1, code="C-1", name=name, kind="person", vip=False,
                         open_service_requests=0, balance_due=Decimal("0"), currency=None,
                         flash_notes=())
    return build_pop(call_id=call_id, communication_id=1, direction="inbound",
                     number="99123456", e164="+35799123456", matches=[match],
                     started_at=datetime.now(UTC))


async def _receive(ws, kind: str, timeout: float = 2.0) -> dict:
    """The next message of type ``kind`` (skipping others such as agent.state)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive_json()
            if msg["type"] == kind:
                return msg


async def _nothing(ws, timeout: float = 0.2) -> None:
    with pytest.raises(TimeoutError):
        await ws.receive_json(timeout=timeout)


async def test_no_credentials_are_refused(dsk):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await dsk.client.ws_connect(WS)
    assert info.value.status == 401


async def test_a_bad_token_is_refused(dsk):
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await dsk.client.ws_connect(WS, headers={"Authorization": "Bearer nope"})
    assert info.value.status == 401


async def test_cookie_socket_from_a_foreign_origin_is_refused(dsk):
    await dsk.user("ann")
    await dsk.sign_in("ann")
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await dsk.client.ws_connect(WS, headers={"Origin": "https://evil.example"})
    assert info.value.status == 403
    own = f"http://{dsk.client.host}:{dsk.client.port}"
    async with dsk.client.ws_connect(WS, headers={"Origin": own}) as ws:
        hello = await _receive(ws, "hello")
    assert hello["agent"]["username"] == "ann" and hello["agent"]["state"] == "logged_out"


async def test_bearer_socket_says_hello_with_the_agents_status(dsk):
    uid, token = await dsk.user("bob", extension="1001")
    await dsk.agents.cti_login(uid)
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        hello = await _receive(ws, "hello")
    assert hello["agent"]["state"] == "ready" and hello["agent"]["extension"] == "1001"


@BOTH_DATABASES
async def test_an_agent_never_receives_another_agents_pop(dsk):
    a, token_a = await dsk.user("ann")
    b, token_b = await dsk.user("bob")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token_a)) as ws_a, \
            dsk.client.ws_connect(WS, headers=dsk.bearer(token_b)) as ws_b:
        await _receive(ws_a, "hello")
        await _receive(ws_b, "hello")
        await dsk.pops.ringing(a, _pop("call-a", "For Ann"))
        got = await _receive(ws_a, "call.ringing")
        assert got["call_id"] == "call-a" and got["contacts"][0]["name"] == "For Ann"
        await _nothing(ws_b)
        await dsk.pops.ringing(b, _pop("call-b", "For Bob"))
        assert (await _receive(ws_b, "call.ringing"))["call_id"] == "call-b"
        await _nothing(ws_a)


async def test_a_reconnecting_agent_gets_the_ringing_pop_again(dsk):
    uid, token = await dsk.user("ann")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        await dsk.pops.ringing(uid, _pop("call-1"))
        first = await _receive(ws, "call.ringing")
        assert "replay" not in first
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        again = await _receive(ws, "call.ringing")
        assert again["call_id"] == "call-1" and again["replay"] is True
        await ws.send_json({"type": "pop.ack", "call_id": "call-1"})
        await ws.send_json({"type": "ping"})
        await _receive(ws, "pong")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        assert (await _receive(ws, "call.ringing"))["acked"] is True
    await dsk.pops.closed(uid, "call-1", "answered elsewhere")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        await _nothing(ws)


async def test_pop_closed_reaches_every_agent_offered_the_call(dsk):
    users = [await dsk.user(name) for name in ("ann", "bob", "cy")]
    sockets = [await dsk.client.ws_connect(WS, headers=dsk.bearer(t)) for _, t in users]
    try:
        for (uid, _), ws in zip(users, sockets, strict=True):
            await _receive(ws, "hello")
            await dsk.pops.ringing(uid, _pop("call-q"))
        for (uid, _), ws in zip(users, sockets, strict=True):
            await _receive(ws, "call.ringing")
            await dsk.pops.closed(uid, "call-q", "answered by another agent")
        for ws in sockets:
            closed = await _receive(ws, "pop.closed")
            assert closed == {"type": "pop.closed", "call_id": "call-q",
                              "reason": "answered by another agent"}
    finally:
        for ws in sockets:
            await ws.close()


async def test_client_messages_are_validated_and_change_only_the_own_state(dsk):
    a, token = await dsk.user("ann", extension="1001")
    b, _ = await dsk.user("bob", extension="1002")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        await ws.send_str("{not json")
        assert (await _receive(ws, "error"))["error"] == "bad-message"
        await ws.send_json(["a", "list"])
        assert (await _receive(ws, "error"))["error"] == "bad-message"
        await ws.send_json({"type": "launch.missiles"})
        assert (await _receive(ws, "error"))["error"] == "unknown-type"
        await ws.send_json({"type": "agent.state", "state": "ready"})
        refused = await _receive(ws, "error")
        assert refused["error"] == "agent-state-conflict" and "log in" in refused["message"]
        await ws.send_json({"type": "agent.state", "state": "on_call"})
        assert (await _receive(ws, "error"))["error"] == "invalid-input"
        await ws.send_json({"type": "agent.cti_login", "user_id": b})
        assert (await _receive(ws, "agent.state"))["state"] == "ready"
        await ws.send_json({"type": "agent.state", "state": "not_ready", "reason": "lunch"})
        state = await _receive(ws, "agent.state")
        assert state["state"] == "not_ready" and state["reason"] == "lunch"
        assert state["user_id"] == a
        await ws.send_json({"type": "agent.pop_preference", "preference": "answer"})
        assert (await _receive(ws, "agent.pop_preference"))["preference"] == "answer"
        await ws.send_json({"type": "agent.pop_preference", "preference": "loud"})
        assert (await _receive(ws, "error"))["error"] == "invalid-input"
        await ws.send_json({"type": "pop.ack"})
        assert (await _receive(ws, "error"))["error"] == "invalid-input"
    assert (await dsk.agents.get(b)).state.value == "logged_out"
    assert (await dsk.agents.get(a)).pop_preference == "answer"


async def test_state_changes_made_elsewhere_are_pushed_to_the_agent(dsk):
    uid, token = await dsk.user("ann", extension="1001")
    await dsk.agents.cti_login(uid)
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        await dsk.agents.reserve()
        assert (await _receive(ws, "agent.state"))["state"] == "ringing"
        await dsk.agents.ring_failed(uid, "no answer")
        pushed = await _receive(ws, "agent.state")
        assert pushed["state"] == "not_ready" and pushed["reason"] == "no answer"


@pytest.mark.redis
async def test_a_pop_published_by_one_process_reaches_a_socket_on_another(
        make_desk, redis_url, unique_name):
    one = await make_desk(redis_url=redis_url, prefix=unique_name + ":")
    two = await make_desk(redis_url=redis_url, prefix=unique_name + ":")
    uid, token = await one.user("ann", extension="1001")
    async with two.client.ws_connect(WS, headers=two.bearer(token)) as ws:
        await _receive(ws, "hello")
        await one.pops.ringing(uid, _pop("call-x"))
        got = await _receive(ws, "call.ringing")
        assert got["call_id"] == "call-x"
        await one.agents.cti_login(uid)
        assert (await _receive(ws, "agent.state"))["state"] == "ready"
    # The active pop lives in Redis: a socket on the other process gets it on reconnect.
    async with two.client.ws_connect(WS, headers=two.bearer(token)) as ws:
        assert (await _receive(ws, "call.ringing"))["replay"] is True
    await one.pops.ended(uid, "call-x", {})
    async with two.client.ws_connect(WS, headers=two.bearer(token)) as ws:
        await _receive(ws, "hello")
        await _nothing(ws)


@pytest.mark.redis
async def test_with_redis_a_socket_on_the_publishing_process_gets_the_json_made_once(
        make_desk, redis_url, unique_name):
    """On the process that publishes, the socket sends the JSON the pop store and the bus
    got (encoded once), and gets it once, not again when Redis hands it back."""
    one = await make_desk(redis_url=redis_url, prefix=unique_name + ":")
    uid, token = await one.user("bea", extension="1002")
    async with one.client.ws_connect(WS, headers=one.bearer(token)) as ws:
        await _receive(ws, "hello")
        await one.pops.ringing(uid, _pop("call-y"))
        raw = await ws.receive_str(timeout=2)
        stored = await one.pops.store._redis.execute(b"HGET", one.pops.store._key(uid),
                                                     "call-y")
        assert raw == stored.decode()
        assert json.loads(raw)["type"] == "call.ringing"
        await _nothing(ws)
    await one.pops.ended(uid, "call-y", {})


async def test_a_flood_of_client_messages_is_rate_limited_not_served(dsk):
    _, token = await dsk.user("ann")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        for _ in range(40):
            await ws.send_json({"type": "ping"})
        replies = [await ws.receive_json(timeout=2) for _ in range(40)]
    kinds = [r["type"] if r["type"] == "pong" else r["error"] for r in replies]
    # The burst is served; the rest (minus what refilled meanwhile, 5 a second) is refused.
    assert kinds.count("pong") >= 20 and kinds.count("rate-limited") >= 5


async def test_oversized_and_binary_messages_do_not_crash_the_socket(dsk):
    _, token = await dsk.user("ann")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        await ws.send_bytes(b"\x00\x01")
        assert (await _receive(ws, "error"))["error"] == "bad-message"
        await ws.send_json({"type": "ping"})
        await _receive(ws, "pong")
        await ws.send_str("x" * 20000)  # over the limit: the server closes with 1009
        msg = await ws.receive(timeout=2)
    closing = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
    assert msg.type in closing


async def test_a_deactivated_users_socket_is_closed(dsk, monkeypatch):
    from sqlalchemy import update

    from callcontrol.crm.models import User
    from callcontrol.desk import ws as desk_ws

    monkeypatch.setattr(desk_ws, "REVALIDATE_SECONDS", 0.05)
    uid, token = await dsk.user("ann")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
        await _receive(ws, "hello")
        await asyncio.sleep(0.15)
        assert not ws.closed
        async with dsk.db.sessions() as session, session.begin():
            await session.execute(update(User).where(User.id == uid).values(active=False))
        msg = await ws.receive(timeout=2)
    assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1008


async def test_a_bus_failure_closes_the_socket_so_the_page_reconnects(dsk):
    import contextlib

    from callcontrol.app import BUS

    class DownBus:
        @contextlib.asynccontextmanager
        async def subscribe(self, *topics):
            raise ConnectionError("redis is down")
            yield  # pragma: no cover

    _, token = await dsk.user("ann")
    real = dsk.app[BUS]
    dsk.app._state[BUS] = DownBus()  # the app is frozen once started
    try:
        async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as ws:
            msg = await ws.receive(timeout=2)
        assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1011
    finally:
        dsk.app._state[BUS] = real


async def test_an_agents_other_tabs_follow_a_preference_change(dsk):
    _, token = await dsk.user("ann")
    async with dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as one, \
            dsk.client.ws_connect(WS, headers=dsk.bearer(token)) as two:
        await _receive(one, "hello")
        await _receive(two, "hello")
        await one.send_json({"type": "agent.pop_preference", "preference": "never"})
        pushed = await _receive(two, "agent.state")
    assert pushed["pop_preference"] == "never" and pushed["state"] == "logged_out"


async def test_sockets_that_connect_together_check_their_user_at_different_times(dsk,
                                                                                  monkeypatch):
    """Twenty agents connecting at once must not re-check their accounts in the same
    instant every interval (a burst that held the event loop while calls waited)."""
    import time

    from sqlalchemy import event

    from callcontrol.app import ENGINE
    from callcontrol.desk import ws as desk_ws

    monkeypatch.setattr(desk_ws, "REVALIDATE_SECONDS", 1.0)
    tokens = [(await dsk.user(f"agent{i}"))[1] for i in range(20)]
    checks: list[float] = []

    def seen(_conn, _cursor, statement, *_args):  # noqa: ANN001, ANN202
        if statement.startswith("SELECT users.active \nFROM users"):
            checks.append(time.monotonic())
    engine = dsk.client.app[ENGINE]
    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        sockets = [await dsk.client.ws_connect(WS, headers=dsk.bearer(t)) for t in tokens]
        for ws in sockets:
            await _receive(ws, "hello")
        await asyncio.sleep(1.3)
        for ws in sockets:
            await ws.close()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert len(checks) >= 20                       # every socket checked within the interval
    first = sorted(checks)[:20]
    assert first[-1] - first[0] > 0.3              # spread over it, not one burst


async def test_sockets_that_connect_together_are_pinged_at_different_times(dsk, monkeypatch):
    """Each socket gets its own heartbeat period (within 20 % of the nominal one), so the
    pings of sockets opened together are not sent in one burst every period."""
    import time

    from aiohttp import WSMsgType

    from callcontrol.desk import ws as desk_ws

    monkeypatch.setattr(desk_ws, "HEARTBEAT_SECONDS", 0.5)
    tokens = [(await dsk.user(f"agent{i}"))[1] for i in range(20)]

    async def period() -> tuple[float, float]:
        """The socket's heartbeat period, bounded: from the hello to the first ping (the
        server started the period before it sent the hello) and from before the handshake
        to the first ping (it started after that). On a slow machine the two differ by
        tens of milliseconds."""
        started = time.monotonic()
        ws = await dsk.client.ws_connect(WS, headers=dsk.bearer(tokens.pop()), autoping=False)
        try:
            await _receive(ws, "hello")
            opened = time.monotonic()
            while True:
                msg = await ws.receive(timeout=3)
                if msg.type == WSMsgType.PING:
                    now = time.monotonic()
                    return now - opened, now - started
        finally:
            await ws.close()

    bounds = await asyncio.gather(*(period() for _ in range(20)))
    at_least = [low for low, _ in bounds]
    at_most = [high for _, high in bounds]
    assert min(at_most) > 0.35 and max(at_least) < 0.65   # 0.4 to 0.6 s, with some slack
    # not one period for all: one socket's period surely ended after another's surely did
    assert max(at_least) > min(at_most)
