"""The small HTTP/1.1 client under AriClient, against raw servers that answer byte for byte."""

import asyncio

import pytest
from aiohttp import web

from callcontrol.ari import AriClient
from callcontrol.ari.errors import AriUnavailable, NotFound
from callcontrol.ari.http import HttpError, HttpPool
from callcontrol.config import AriConfig


class RawServer:
    """Reads requests (head + Content-Length body) and answers each with `answer(request)`:
    bytes to send, or None to close the connection without answering."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[bytes] = []
        self.connections = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/ari"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b""
                self.requests.append(head + body)
                reply = self.answer(head + body)
                if asyncio.iscoroutine(reply):
                    reply = await reply
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    async def restart(self, serve) -> str:
        """Listen again, each connection served by ``serve(reader, writer)``."""
        self._serve = serve
        await self.close()
        return await self.start()


async def get_once(url: str, path: str) -> bytes:
    """One GET through a pool of its own; the answer's body."""
    pool = HttpPool(url)
    try:
        return (await pool.request("GET", path)).body
    finally:
        await pool.close()


def ok(body: bytes = b'{"ok": true}', extra: bytes = b"") -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body)


@pytest.fixture
async def raw():
    servers = []

    async def make(answer):
        server = RawServer(answer)
        url = await server.start()
        servers.append(server)
        return server, url

    yield make
    for server in servers:
        await server.close()


async def test_sequential_requests_reuse_one_connection(raw):
    server, url = await raw(lambda req: ok())
    pool = HttpPool(url)
    try:
        for _ in range(5):
            response = await pool.request("GET", "/asterisk/info")
            assert (response.status, response.body) == (200, b'{"ok": true}')
    finally:
        await pool.close()
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /ari/asterisk/info HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in server.requests[0]


async def test_concurrent_requests_open_no_more_than_the_limit(raw):
    async def slow(req):
        await asyncio.sleep(0.02)
        return ok()

    server, url = await raw(slow)
    pool = HttpPool(url, limit=3)
    try:
        answers = await asyncio.gather(*(pool.request("GET", f"/channels/{i}")
                                         for i in range(12)))
    finally:
        await pool.close()
    assert [a.status for a in answers] == [200] * 12
    assert server.connections == 3
    assert len(server.requests) == 12


async def test_a_chunked_answer_is_put_together(raw):
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\n{\"a\":\r\n3;ext=1\r\n 1}\r\n0\r\nX-Trailer: t\r\n\r\n")
    server, url = await raw(lambda req: chunked)
    pool = HttpPool(url)
    try:
        first = await pool.request("GET", "/x")
        second = await pool.request("GET", "/x")  # the connection is still in step
    finally:
        await pool.close()
    assert first.body == second.body == b'{"a": 1}'
    assert server.connections == 1


async def test_an_answer_arriving_byte_by_byte_is_read_whole(raw):
    async def trickle(req):
        return ok(b'{"id": "1700000000.1"}')

    server, url = await raw(trickle)
    # split the answer on the server side: replace the writer with one write per byte
    original = server._serve

    async def byte_by_byte(reader, writer):
        write = writer.write

        def one_at_a_time(data):
            for i in range(len(data)):
                write(data[i:i + 1])
        writer.write = one_at_a_time
        await original(reader, writer)

    url = await server.restart(byte_by_byte)
    assert await get_once(url, "/channels/1") == b'{"id": "1700000000.1"}'


async def test_connection_close_answers_are_not_reused(raw):
    server, url = await raw(lambda req: ok(extra=b"Connection: close\r\n"))
    pool = HttpPool(url)
    try:
        for _ in range(3):
            assert (await pool.request("GET", "/x")).status == 200
    finally:
        await pool.close()
    assert server.connections == 3


async def test_an_answer_without_length_runs_to_the_end_of_the_connection(raw):
    server, _ = await raw(lambda req: None)

    async def serve_once(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 200 OK\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    url = await server.restart(serve_once)
    assert await get_once(url, "/x") == b"all of it"


async def test_a_stale_keep_alive_connection_is_retried_once_for_idempotent_methods(raw):
    answered = []

    def answer_once_per_connection(req):
        # the server closes every connection after one answer, without saying so
        if answered and answered[-1] == server.connections:
            return None
        answered.append(server.connections)
        return ok()

    server, url = await raw(answer_once_per_connection)
    pool = HttpPool(url)
    try:
        assert (await pool.request("GET", "/x")).status == 200
        await asyncio.sleep(0.05)  # the close may or may not have been seen: both must work
        assert (await pool.request("DELETE", "/x")).status == 200
        # the server closes the next one too; a POST must not be sent twice
        server.answer = lambda req: None
        with pytest.raises(HttpError):
            await pool.request("POST", "/channels/c1/answer")
    finally:
        await pool.close()
    assert sum(r.startswith(b"POST") for r in server.requests) == 1


async def test_a_garbled_answer_is_an_error_and_the_connection_goes(raw):
    server, url = await raw(lambda req: b"NONSENSE\r\n\r\n")
    pool = HttpPool(url)
    try:
        with pytest.raises(HttpError, match="garbled"):
            await pool.request("GET", "/x")
        server.answer = lambda req: ok()
        assert (await pool.request("GET", "/x")).status == 200
    finally:
        await pool.close()
    assert server.connections == 2


async def test_a_cancelled_request_closes_its_connection(raw):
    release = asyncio.Event()

    async def late(req):
        await release.wait()
        return ok()

    server, url = await raw(late)
    pool = HttpPool(url)
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.05):
                await pool.request("GET", "/slow")
        release.set()
        server.answer = lambda req: ok(b'{"fresh": 1}')
        # the late answer of the first request must not be taken for the second's
        assert (await pool.request("GET", "/x")).body == b'{"fresh": 1}'
    finally:
        await pool.close()
    assert server.connections == 2


async def test_a_request_times_out_on_its_connection_and_while_waiting_for_one(raw):
    import time

    from callcontrol.ari.http import SWEEP_EVERY

    release = asyncio.Event()

    async def answer(req):
        if b"/slow" in req:
            await release.wait()
        return ok(b'{"path": "' + req.split(b" ")[1] + b'"}')

    server, url = await raw(answer)
    pool = HttpPool(url, limit=1)
    try:
        assert (await pool.request("GET", "/warm", timeout=1)).status == 200
        # the answer never comes: a TimeoutError after the timeout, late by a sweep at most
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/slow", timeout=0.2)
        elapsed = time.monotonic() - started
        assert 0.2 <= elapsed < 0.2 + SWEEP_EVERY + 0.15, elapsed
        # a request waiting for the only connection times out too
        slow = asyncio.ensure_future(pool.request("GET", "/slow", timeout=5))
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            await pool.request("GET", "/queued", timeout=0.1)
        release.set()
        assert (await slow).body == b'{"path": "/ari/slow"}'
        # nothing in flight: the sweep stops after one more look; the pool still works
        assert not pool._inflight
        await asyncio.sleep(SWEEP_EVERY * 2)
        assert pool._sweeper is None
        assert (await pool.request("GET", "/after", timeout=1)).body == b'{"path": "/ari/after"}'
    finally:
        await pool.close()
    assert server.connections == 2   # the timed-out request's connection was closed


async def test_a_closed_pool_refuses_requests(raw):
    _, url = await raw(lambda req: ok())
    pool = HttpPool(url)
    await pool.close()
    with pytest.raises(HttpError, match="closed"):
        await pool.request("GET", "/x")


def test_only_http_and_https_urls_are_taken():
    with pytest.raises(ValueError, match="http"):
        HttpPool("ftp://pbx/ari")
    assert HttpPool("https://pbx.example/ari").port == 443


async def test_the_ari_client_sends_query_and_json_as_asterisk_reads_them(raw):
    server, url = await raw(lambda req: ok(b"[]"))
    async with AriClient(AriConfig(url=url)) as client:
        await client.request("POST", "/channels", params={
            "endpoint": "PJSIP/1001", "app": "callcontrol", "appArgs": "agent,x y",
            "callerId": '"A+B" <+35799>'})
        await client.request("PUT", "/applications/callcontrol/eventFilter",
                             json={"allowed": [{"type": "StasisStart"}]})
    head = server.requests[0].split(b"\r\n")[0].decode()
    assert head.startswith("POST /ari/channels?endpoint=PJSIP/1001&app=callcontrol"
                           "&appArgs=agent,x%20y&callerId=%22A%2BB%22%20%3C%2B35799%3E")
    put = server.requests[1]
    assert put.endswith(b'{"allowed": [{"type": "StasisStart"}]}')
    assert b"Content-Type: application/json\r\n" in put


async def test_the_ari_client_through_aiohttp_web(aiohttp_server):
    """Against aiohttp's server (the simulator's): keep-alive, 404 typed, bytes intact."""
    async def handler(request):
        if request.path.endswith("/missing"):
            return web.json_response({"message": "Channel not found"}, status=404)
        return web.Response(body=bytes(range(256)) * 1000)

    app = web.Application()
    app.router.add_route("*", "/ari/{tail:.*}", handler)
    server = await aiohttp_server(app)
    async with AriClient(AriConfig(url=str(server.make_url("/ari")))) as client:
        data = await client.request_bytes("GET", "/recordings/stored/r1/file")
        with pytest.raises(NotFound, match="Channel not found"):
            await client.request("GET", "/channels/missing")
    assert data == bytes(range(256)) * 1000


async def test_the_ari_client_reports_a_dropped_connection_as_unavailable(raw):
    _, url = await raw(lambda req: None)
    async with AriClient(AriConfig(url=url)) as client:
        with pytest.raises(AriUnavailable, match="closed"):
            await client.channels.answer("c1")
