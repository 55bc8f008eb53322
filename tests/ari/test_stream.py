"""EventStream against a small websocket server that can drop, refuse and go half-dead."""

from __future__ import annotations

import asyncio
import logging
import socket
import time

import pytest
from aiohttp import web

from callcontrol.ari import ConnectionState, EventStream, bind_metrics, events
from callcontrol.ari.stream import backoff_delay, events_url
from callcontrol.config import AriConfig
from callcontrol.metrics import product_registry


def _event(channel_id: str, type_: str = "StasisEnd") -> dict:
    return {"type": type_, "application": "callcontrol",
            "timestamp": "2026-11-22T11:34:51.373+0000", "asterisk_id": "02:fc:00:00:00:01",
            "channel": {"id": channel_id, "name": f"PJSIP/{channel_id}", "state": "Up"}}


class FakeEvents:
    """`/ari/events`: counts connections, sends what `on_connect` sends, can drop them."""

    def __init__(self) -> None:
        self.sockets: list[web.WebSocketResponse] = []
        self.requests: list[tuple[dict, str]] = []
        self.on_connect = None
        self.refuse_status: int | None = None
        self.half_dead_first = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append((dict(request.query), request.headers.get("Authorization", "")))
        if self.refuse_status:
            return web.Response(status=self.refuse_status)
        half_dead = self.half_dead_first and not self.sockets
        ws = web.WebSocketResponse(autoping=not half_dead)
        await ws.prepare(request)
        self.sockets.append(ws)
        if self.on_connect is not None:
            await self.on_connect(ws, len(self.sockets))
        if half_dead:  # never reads, so never answers a ping: a dead peer behind a live TCP
            await asyncio.sleep(30)
        async for _ in ws:
            pass
        return ws

    async def drop(self) -> None:
        for ws in list(self.sockets):
            await ws.close()


@pytest.fixture
async def server(aiohttp_server):
    fake = FakeEvents()
    app = web.Application()
    app.router.add_get("/ari/events", fake.handle)
    srv = await aiohttp_server(app)
    fake.config = AriConfig(url=str(srv.make_url("/ari")), request_timeout=1.0)
    return fake


def _free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def _until(predicate, timeout=3.0):
    async with asyncio.timeout(timeout):
        while not predicate():  # noqa: ASYNC110 - polling test state is the point
            await asyncio.sleep(0.01)


class Recorder:
    def __init__(self) -> None:
        self.log: list[str] = []

    async def handler(self, event: events.Event) -> None:
        self.log.append(event.channel_id or event.type)

    async def resync(self) -> None:
        self.log.append("resync")


async def test_resync_runs_first_then_events_in_arrival_order(server):
    async def send(ws, n):
        for i in range(30):
            await ws.send_json(_event(f"c{i}"))

    server.on_connect = send
    rec = Recorder()
    stream = EventStream(server.config, rec.handler, on_resync=rec.resync)
    await stream.start()
    try:
        assert stream.connected
        await _until(lambda: len(rec.log) == 31)
        assert rec.log == ["resync"] + [f"c{i}" for i in range(30)]
    finally:
        await stream.close()
    assert not stream.connected


@pytest.mark.parametrize("slow_resync", [False, True])
async def test_inline_delivery_keeps_the_order_when_the_handler_waits_now_and_then(
        server, slow_resync):
    """``inline=True``: events that find nothing before them are handled by the reader; a
    delivery that waits (a slow resync, a handler that sleeps on c9) makes the next ones
    queue, and everything still comes out in arrival order."""
    async def send(ws, n):
        for i in range(40):
            await ws.send_json(_event(f"c{i}"))
            if i == 9:
                await asyncio.sleep(0.08)   # c10.. arrive while c9 is being handled
            if i == 19:
                await asyncio.sleep(0.2)    # c20.. find the queue empty again

    server.on_connect = send
    log: list[str] = []
    inline: list[bool] = []
    stream: EventStream | None = None

    async def handler(event):
        inline.append(asyncio.current_task() is stream._reader)
        if event.channel_id == "c9":
            await asyncio.sleep(0.05)
        log.append(event.channel_id)

    async def resync():
        if slow_resync:
            await asyncio.sleep(0.05)
        log.append("resync")

    stream = EventStream(server.config, handler, on_resync=resync, inline=True)
    await stream.start()
    try:
        await _until(lambda: len(log) == 41)
        assert log == ["resync"] + [f"c{i}" for i in range(40)]
    finally:
        await stream.close()
    assert inline[-1]                       # c39 found nothing queued: the reader took it
    if slow_resync:
        assert not inline[0]                # c0 came during the resync: it queued


async def test_reconnects_after_server_drops_and_resyncs_every_time(server):
    async def send(ws, n):
        await ws.send_json(_event(f"conn{n}"))

    server.on_connect = send
    rec = Recorder()
    stream = EventStream(server.config, rec.handler, on_resync=rec.resync,
                         backoff_initial=0.02, backoff_max=0.1)
    await stream.start()
    try:
        await _until(lambda: rec.log == ["resync", "conn1"])
        for n in (2, 3):
            await server.drop()
            await _until(lambda n=n: len(server.sockets) == n and stream.connected)
            await _until(lambda n=n: rec.log[-2:] == ["resync", f"conn{n}"])
        assert rec.log == ["resync", "conn1", "resync", "conn2", "resync", "conn3"]
        assert stream.state.reconnects == 2
    finally:
        await stream.close()


async def test_events_arriving_during_a_slow_resync_are_delivered_after_it(server):
    async def send(ws, n):
        for i in range(5):
            await ws.send_json(_event(f"n{n}-{i}"))

    server.on_connect = send
    log: list[str] = []

    async def resync():
        log.append("resync-start")
        await asyncio.sleep(0.2)  # call control listing channels and bridges
        log.append("resync-end")

    async def handler(event):
        log.append(event.channel_id)

    stream = EventStream(server.config, handler, on_resync=resync, backoff_initial=0.02)
    await stream.start()
    try:
        await _until(lambda: len(log) == 7)
        await server.drop()
        await _until(lambda: len(log) == 14)
    finally:
        await stream.close()
    expected = []
    for n in (1, 2):
        expected += ["resync-start", "resync-end"] + [f"n{n}-{i}" for i in range(5)]
    assert log == expected


async def test_a_failing_handler_is_logged_with_the_channel_and_does_not_stop_the_stream(
        server, caplog):
    async def send(ws, n):
        await ws.send_json(_event("bad"))
        await ws.send_json(_event("good"))

    server.on_connect = send
    delivered = []

    async def handler(event):
        if event.channel_id == "bad":
            raise RuntimeError("boom")
        delivered.append(event.channel_id)

    stream = EventStream(server.config, handler)
    with caplog.at_level(logging.ERROR, logger="callcontrol.ari.stream"):
        await stream.start()
        try:
            await _until(lambda: delivered == ["good"])
        finally:
            await stream.close()
    record = next(r for r in caplog.records if "handler failed" in r.getMessage())
    assert "bad" in record.getMessage() and record.exc_info is not None


async def test_handler_runs_with_the_channel_as_call_id(server):
    from callcontrol.logs import CALL_ID

    async def send(ws, n):
        await ws.send_json(_event("c42"))
        await ws.send_json({"type": "ApplicationReplaced", "application": "callcontrol"})

    server.on_connect = send
    seen = []

    async def handler(event):
        seen.append(CALL_ID.get())

    stream = EventStream(server.config, handler)
    await stream.start()
    try:
        await _until(lambda: len(seen) == 2)
    finally:
        await stream.close()
    assert seen == ["c42", "-"]


async def test_url_query_and_basic_auth_are_those_asterisk_expects(server):
    stream = EventStream(server.config, Recorder().handler, subscribe_all=True)
    await stream.start()
    await stream.close()
    query, auth = server.requests[0]
    assert query == {"app": "callcontrol", "subscribeAll": "true"}
    assert auth == "Basic Y2FsbGNvbnRyb2w6Y2FsbGNvbnRyb2w="
    assert events_url("http://h:8088/ari/") == "ws://h:8088/ari/events"
    assert events_url("https://h/ari") == "wss://h/ari/events"


def test_backoff_grows_exponentially_and_is_capped_with_jitter():
    top = [backoff_delay(n, 0.1, 5.0, rand=lambda: 1.0) for n in range(10)]
    assert top == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0])
    bottom = [backoff_delay(n, 0.1, 5.0, rand=lambda: 0.0) for n in range(10)]
    assert bottom == pytest.approx([d / 2 for d in top])
    assert backoff_delay(10_000, 0.1, 5.0) <= 5.0
    samples = {backoff_delay(3, 0.1, 5.0) for _ in range(50)}
    assert len(samples) > 1 and all(0.4 <= s <= 0.8 for s in samples)


async def test_no_busy_loop_while_the_pbx_is_down():
    config = AriConfig(url=f"http://127.0.0.1:{_free_port()}/ari", request_timeout=1.0)
    stream = EventStream(config, Recorder().handler, backoff_initial=0.05, backoff_max=0.2)
    started = time.monotonic()
    await stream.start()
    assert not stream.connected
    await asyncio.sleep(1.0 - (time.monotonic() - started))
    attempts = stream.state.attempts
    await stream.close()
    # delays in [d/2, d] for d = 0.05, 0.1, 0.2, 0.2, ...: between 5 and 11 tries in 1 s
    assert 4 <= attempts <= 12, attempts
    assert stream.state.last_error


async def test_close_during_backoff_returns_at_once():
    config = AriConfig(url=f"http://127.0.0.1:{_free_port()}/ari", request_timeout=1.0)
    stream = EventStream(config, Recorder().handler, backoff_initial=5.0, backoff_max=5.0)
    await stream.start()
    started = time.monotonic()
    await stream.close()
    assert time.monotonic() - started < 0.5


async def test_close_returns_fast_even_while_the_handler_is_stuck(server):
    async def send(ws, n):
        await ws.send_json(_event("c1"))

    server.on_connect = send
    entered = asyncio.Event()

    async def handler(event):
        entered.set()
        await asyncio.sleep(60)

    stream = EventStream(server.config, handler)
    await stream.start()
    await asyncio.wait_for(entered.wait(), 2)
    started = time.monotonic()
    await stream.close()
    assert time.monotonic() - started < 1.5


async def test_half_dead_connection_is_detected_by_heartbeat_and_replaced(server):
    server.half_dead_first = True
    stream = EventStream(server.config, Recorder().handler, heartbeat=0.2,
                         backoff_initial=0.02)
    await stream.start()
    try:
        assert stream.connected
        await _until(lambda: len(server.sockets) == 2 and stream.connected, timeout=3)
        assert stream.state.reconnects == 1
    finally:
        await stream.close()


async def test_refused_handshake_is_reported_and_retried(server):
    server.refuse_status = 401
    stream = EventStream(server.config, Recorder().handler, backoff_initial=0.02,
                         backoff_max=0.05)
    await stream.start()
    try:
        assert not stream.connected
        assert "401" in stream.state.last_error
        await _until(lambda: len(server.requests) >= 3)
        server.refuse_status = None
        await stream.wait_connected(2)
        assert stream.connected and stream.state.last_error is None
    finally:
        await stream.close()


async def test_wait_connected_times_out_when_the_pbx_is_down():
    config = AriConfig(url=f"http://127.0.0.1:{_free_port()}/ari", request_timeout=1.0)
    stream = EventStream(config, Recorder().handler)
    await stream.start()
    try:
        with pytest.raises(TimeoutError):
            await stream.wait_connected(0.1)
    finally:
        await stream.close()


async def test_connection_state_drives_the_gauge_and_reconnect_counter(server):
    registry = product_registry()
    state = ConnectionState()
    bind_metrics(state, registry)
    gauge = registry["callcontrol_ari_connected"]
    reconnects = registry["callcontrol_ari_reconnects_total"]
    assert gauge.value() == 0
    stream = EventStream(server.config, Recorder().handler, state=state, backoff_initial=0.02)
    await stream.start()
    try:
        assert gauge.value() == 1 and reconnects.value() == 0
        await server.drop()
        await _until(lambda: len(server.sockets) == 2 and stream.connected)
        assert gauge.value() == 1 and reconnects.value() == 1
    finally:
        await stream.close()
    assert gauge.value() == 0
    assert state.as_dict()["reconnects"] == 1


async def test_application_replaced_stops_the_stream_instead_of_fighting(server):
    async def send(ws, n):
        await ws.send_json({"type": "ApplicationReplaced", "application": "callcontrol"})

    server.on_connect = send
    rec = Recorder()
    stream = EventStream(server.config, rec.handler, backoff_initial=0.02, backoff_max=0.05)
    await stream.start()
    try:
        await _until(lambda: "ApplicationReplaced" in rec.log)
        await _until(lambda: not stream.connected)
        await asyncio.sleep(0.3)  # several backoff periods: no new connection
        assert len(server.requests) == 1
        assert "replaced" in stream.state.last_error
    finally:
        await stream.close()
