"""The RESP2 client under the Redis bus and pop store: against the real Redis, and against
raw servers that answer byte for byte for what a real one will not do on demand."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callcontrol.bus import resp
from callcontrol.bus.resp import (
    Endpoint,
    ProtocolError,
    ReplyError,
    RespClient,
    RespConnectionError,
    RespSubscriber,
    encode,
    parse_url,
)

BINARY = bytes(range(256)) + b"\r\n$3\r\n*1\r\n"


class RawRedis:
    """Reads RESP commands and answers each with ``answer(command, connection_number)``:
    bytes to send, or None to close the connection."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.commands: list[list[bytes]] = []
        self.connections = 0
        self.server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task] = set()

    async def start(self, path: str | None = None) -> str:
        if path is not None:
            self.server = await asyncio.start_unix_server(self._handle, path)
            return f"unix://{path}"
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"redis://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        self._handlers.add(task)
        try:
            await self._serve(reader, writer, self.connections)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     number: int) -> None:
        while True:
            command = await read_command(reader)
            self.commands.append(command)
            reply = self.answer(command, number)
            if asyncio.iscoroutine(reply):
                reply = await reply
            if reply is None:
                return
            writer.write(reply)
            await writer.drain()

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self.server.wait_closed()


async def read_command(reader: asyncio.StreamReader) -> list[bytes]:
    head = await reader.readuntil(b"\r\n")
    assert head[:1] == b"*", head
    args = []
    for _ in range(int(head[1:-2])):
        size = await reader.readuntil(b"\r\n")
        assert size[:1] == b"$", size
        args.append((await reader.readexactly(int(size[1:-2]) + 2))[:-2])
    return args


class Inbox:
    """A subscriber's callback that keeps what it got; ``await inbox.wait(n)``."""

    def __init__(self) -> None:
        self.got: list[tuple[bytes, bytes]] = []
        self._more = asyncio.Event()

    def __call__(self, channel: bytes, data: bytes) -> None:
        self.got.append((channel, data))
        self._more.set()

    async def wait(self, count: int = 1, timeout: float = 2) -> None:
        async with asyncio.timeout(timeout):
            while len(self.got) < count:
                self._more.clear()
                await self._more.wait()


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%b\r\n" % (len(data), data)


@pytest.fixture
async def raw():
    servers: list[RawRedis] = []

    async def make(answer, path: str | None = None) -> tuple[RawRedis, str]:
        server = RawRedis(answer)
        url = await server.start(path)
        servers.append(server)
        return server, url

    yield make
    for server in servers:
        await server.close()


@pytest.fixture
async def client(redis_url):
    c = RespClient(redis_url)
    yield c
    await c.close()


# --- against the real Redis -----------------------------------------------------------


@pytest.mark.redis
async def test_commands_in_flight_together_are_answered_in_order(client, unique_name):
    key = f"{unique_name}:n"
    try:
        replies = await asyncio.gather(*(client.execute(b"INCR", key) for _ in range(200)))
        conn = client._conn
        assert replies == list(range(1, 201))
        assert await client.execute("GET", key) == b"200"
        assert await client.execute(b"PING") == b"PONG"
        assert client._conn is conn  # all of it on one connection
    finally:
        await client.execute(b"DEL", key)


@pytest.mark.redis
async def test_an_error_reply_raises_with_the_servers_message(client, unique_name):
    with pytest.raises(ReplyError, match="wrong number of arguments"):
        await client.execute(b"HSET", f"{unique_name}:h")
    replies = await asyncio.gather(client.execute(b"PING"), client.execute(b"NOSUCHCOMMAND"),
                                   client.execute(b"ECHO", "after"), return_exceptions=True)
    assert replies[0] == b"PONG" and isinstance(replies[1], ReplyError)
    assert replies[2] == b"after"


@pytest.mark.redis
async def test_a_transaction_returns_execs_replies(client, unique_name):
    key = f"{unique_name}:pops"
    try:
        replies = await client.transaction((b"HSET", key, "call-1", b"{}"),
                                           (b"EXPIRE", key, 60),
                                           (b"PUBLISH", f"{unique_name}:ch", "x"))
        assert replies == [1, 1, 0]
        assert await client.execute(b"HGETALL", key) == [b"call-1", b"{}"]
        assert 0 < await client.execute(b"TTL", key) <= 60
    finally:
        await client.execute(b"DEL", key)


@pytest.mark.redis
async def test_a_refused_transaction_raises_and_runs_nothing(client, unique_name):
    key = f"{unique_name}:h"
    with pytest.raises(ReplyError, match="unknown command"):
        await client.transaction((b"HSET", key, "a", "1"), (b"NOSUCHCOMMAND",))
    assert await client.execute(b"EXISTS", key) == 0
    await client.execute(b"SET", key, "a string")
    try:  # a command failing inside EXEC: raised; the others ran (Redis does not roll back)
        with pytest.raises(ReplyError, match="WRONGTYPE"):
            await client.transaction((b"HSET", key, "a", "1"), (b"SET", f"{key}:2", "ran"))
        assert await client.execute(b"GET", f"{key}:2") == b"ran"
    finally:
        await client.execute(b"DEL", key, f"{key}:2")
    assert await client.execute(b"PING") == b"PONG"


@pytest.mark.redis
async def test_payloads_are_binary_safe(client, redis_url, unique_name):
    inbox = Inbox()
    sub = RespSubscriber(redis_url, inbox)
    key, channel = f"{unique_name}:bin", f"{unique_name}:ch"
    try:
        await client.execute(b"SET", key, BINARY)
        assert await client.execute(b"GET", key) == BINARY
        await sub.subscribe(channel)
        assert await client.execute(b"PUBLISH", channel, BINARY) == 1
        await inbox.wait()
        assert inbox.got == [(channel.encode(), BINARY)]
    finally:
        await sub.close()
        await client.execute(b"DEL", key)


@pytest.mark.redis
async def test_a_big_reply_is_read_whole(client, unique_name):
    key = f"{unique_name}:big"
    big = bytes(range(256)) * 4096  # 1 MiB: it arrives in many reads
    try:
        await client.execute(b"SET", key, big)
        one, two = await asyncio.gather(client.execute(b"GET", key), client.execute(b"GET", key))
        assert one == two == big
    finally:
        await client.execute(b"DEL", key)


@pytest.mark.redis
async def test_subscribed_means_will_receive(client, redis_url, unique_name):
    inbox = Inbox()
    sub = RespSubscriber(redis_url, inbox)
    a, b = f"{unique_name}:a", f"{unique_name}:b"
    try:
        await sub.subscribe(a, b)
        assert sub.channels == {a.encode(), b.encode()}
        # published from another connection right after subscribe() returned: received
        assert await client.execute(b"PUBLISH", a, "1") == 1
        assert await client.execute(b"PUBLISH", b, "2") == 1
        await sub.unsubscribe(b)
        await client.execute(b"PUBLISH", b, "after")
        await client.execute(b"PUBLISH", a, "3")
        await inbox.wait(3)
        await asyncio.sleep(0.05)
        assert inbox.got == [(a.encode(), b"1"), (b.encode(), b"2"), (a.encode(), b"3")]
    finally:
        await sub.close()


@pytest.mark.redis
async def test_the_subscriber_subscribes_again_after_redis_drops_it(client, redis_url,
                                                                    unique_name, caplog):
    inbox = Inbox()
    sub = RespSubscriber(redis_url, inbox)
    channel = f"{unique_name}:ch"
    try:
        await sub.subscribe(channel)
        host, port = sub._conn.transport.get_extra_info("sockname")[:2]
        with caplog.at_level(logging.WARNING, logger="callcontrol.bus.resp"):
            assert await client.execute(b"CLIENT", b"KILL", b"ADDR", f"{host}:{port}") == 1
            for _ in range(150):  # until it is back: 0.1 s of backoff, then SUBSCRIBE again
                if await client.execute(b"PUBLISH", channel, "back") == 1:
                    break
                await asyncio.sleep(0.02)
            await inbox.wait()
        assert inbox.got[0] == (channel.encode(), b"back")
        assert "redis subscriber connection lost" in caplog.text
    finally:
        await sub.close()


async def test_an_unreachable_redis_fails_at_once_with_a_connection_error(unused_tcp_port):
    url = f"redis://127.0.0.1:{unused_tcp_port}/0"
    c = RespClient(url)
    sub = RespSubscriber(url, lambda channel, data: None)
    try:
        async with asyncio.timeout(2):
            with pytest.raises(RespConnectionError, match="cannot connect"):
                await c.execute(b"PING")
            with pytest.raises(OSError):  # what the callers catch
                await c.execute(b"PING")
            with pytest.raises(RespConnectionError, match="cannot connect"):
                await sub.subscribe("x")
        assert sub.channels == frozenset()
    finally:
        await c.close()
        await sub.close()


# --- against raw servers --------------------------------------------------------------


async def test_a_reply_arriving_in_pieces_is_put_together(raw):
    big = bytes(range(256)) * 4096
    server, url = await raw(lambda command, number: None)

    async def serve(reader, writer, number):  # both replies in one stream, cut anywhere
        for _ in range(2):
            await read_command(reader)
        reply = b"$1048576\r\n" + big + b"\r\n*2\r\n:7\r\n$3\r\nend\r\n"
        cuts = [0, 3, 9, 10, 12, 70000, 500000, len(reply) - 14, len(reply) - 2, len(reply)]
        for start, end in zip(cuts, cuts[1:], strict=False):
            writer.write(reply[start:end])
            await writer.drain()
            await asyncio.sleep(0.005)

    server._serve = serve
    c = RespClient(url)
    try:
        one, two = await asyncio.gather(c.execute(b"GET", "k"), c.execute(b"X"))
    finally:
        await c.close()
    assert one == big and two == [7, b"end"]


async def test_a_server_closing_mid_reply_fails_the_waiting_commands_then_one_reconnects(raw):
    def answer(command, number):
        if number == 1 and command[0] == b"GET":
            return b"$10\r\nhalf"  # then the connection closes (the next command's turn)
        if number == 1:
            return None
        return b"+PONG\r\n"

    server, url = await raw(answer)
    c = RespClient(url)
    try:
        first, second = await asyncio.gather(c.execute(b"GET", "k"), c.execute(b"PING"),
                                             return_exceptions=True)
        assert isinstance(first, RespConnectionError) and isinstance(second, RespConnectionError)
        assert "lost" in str(first)
        assert await c.execute(b"PING") == b"PONG"
    finally:
        await c.close()
    assert server.connections == 2
    # nothing was sent again on the new connection: only the new PING
    assert server.commands == [[b"GET", b"k"], [b"PING"], [b"PING"]]


async def test_a_cancelled_command_keeps_the_replies_in_step(raw):
    async def slow(command, number):
        if command[1] == b"slow":
            await asyncio.sleep(0.2)
        return bulk(command[1])

    server, url = await raw(slow)
    c = RespClient(url)
    try:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(c.execute(b"ECHO", "slow"), 0.05)
        assert await c.execute(b"ECHO", "fast") == b"fast"
    finally:
        await c.close()
    assert server.connections == 1


async def test_a_garbled_reply_closes_the_connection(raw):
    server, url = await raw(lambda command, number: b"?what\r\n" if number == 1 else b"+OK\r\n")
    c = RespClient(url)
    try:
        with pytest.raises(ProtocolError, match="garbled"):
            await c.execute(b"PING")
        assert await c.execute(b"PING") == b"OK"
    finally:
        await c.close()
    assert server.connections == 2


@pytest.mark.parametrize(("userinfo", "path", "expected"), [
    ("user:p%40ss@", "/3", [[b"AUTH", b"user", b"p@ss"], [b"SELECT", b"3"], [b"PING"]]),
    (":secret@", "/0", [[b"AUTH", b"secret"], [b"PING"]]),
    ("", "/2", [[b"SELECT", b"2"], [b"PING"]]),
    ("", "", [[b"PING"]]),
])
async def test_the_session_starts_with_auth_and_select_from_the_url(raw, userinfo, path,
                                                                    expected):
    server, url = await raw(lambda command, number: b"+OK\r\n")
    c = RespClient(url.replace("redis://", f"redis://{userinfo}") + path)
    try:
        assert await c.execute(b"PING") == b"OK"
    finally:
        await c.close()
    assert server.commands == expected


async def test_a_refused_password_is_an_error_reply(raw):
    server, url = await raw(lambda command, number: (
        b"-WRONGPASS invalid username-password pair\r\n" if command[0] == b"AUTH"
        else b"+PONG\r\n"))
    c = RespClient(url.replace("redis://", "redis://:nope@"))
    try:
        with pytest.raises(ReplyError, match="WRONGPASS"):
            await c.execute(b"PING")
    finally:
        await c.close()
    assert [b"PING"] not in server.commands


async def test_a_unix_socket_url(raw, tmp_path):
    server, url = await raw(lambda command, number: b"+OK\r\n", path=str(tmp_path / "r.sock"))
    c = RespClient(url + "?db=4")
    try:
        assert await c.execute(b"PING") == b"OK"
    finally:
        await c.close()
    assert server.commands == [[b"SELECT", b"4"], [b"PING"]]


async def test_a_server_that_never_answers_the_session_start_times_out(raw, monkeypatch):
    async def never(command, number):
        await asyncio.sleep(10)

    monkeypatch.setattr(resp, "CONNECT_TIMEOUT", 0.1)
    server, url = await raw(never)
    c = RespClient(url.replace("redis://", "redis://:pw@"))
    try:
        with pytest.raises(RespConnectionError, match="no answer within 0.1 s"):
            await c.execute(b"PING")
    finally:
        await c.close()


async def test_the_subscriber_subscribes_every_wanted_channel_again_after_a_drop(raw,
                                                                                 caplog):
    async def pubsub(command, number):
        if command[0] == b"SUBSCRIBE":
            reply = b"".join(b"*3\r\n" + bulk(b"subscribe") + bulk(ch) + b":1\r\n"
                             for ch in command[1:])
            if number == 2:
                reply += b"*3\r\n" + bulk(b"message") + bulk(b"a") + bulk(b"after")
            return reply
        if command[0] == b"UNSUBSCRIBE":
            return None  # and the connection closes
        return b"+OK\r\n"

    server, url = await raw(pubsub)
    inbox = Inbox()
    sub = RespSubscriber(url, inbox)
    try:
        await sub.subscribe("a", "b")
        await sub.subscribe("c")
        with caplog.at_level(logging.WARNING, logger="callcontrol.bus.resp"):
            await sub.unsubscribe("b")
            await inbox.wait()
        assert inbox.got == [(b"a", b"after")]
    finally:
        await sub.close()
    first, second, unsubscribe, again = server.commands
    assert (second, unsubscribe) == ([b"SUBSCRIBE", b"c"], [b"UNSUBSCRIBE", b"b"])
    assert first[0] == again[0] == b"SUBSCRIBE"
    assert sorted(first[1:]) == [b"a", b"b"] and sorted(again[1:]) == [b"a", b"c"]
    assert "redis subscriber connection lost" in caplog.text


async def test_a_subscription_waits_for_the_servers_confirmation(raw):
    confirm = asyncio.Event()

    async def late(command, number):
        if command[0] == b"SUBSCRIBE":
            await confirm.wait()
            return b"*3\r\n" + bulk(b"subscribe") + bulk(command[1]) + b":1\r\n"
        return b"+OK\r\n"

    server, url = await raw(late)
    sub = RespSubscriber(url, lambda channel, data: None)
    try:
        waiting = asyncio.create_task(sub.subscribe("a"))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        confirm.set()
        await asyncio.wait_for(waiting, 1)
        confirm.clear()
        with pytest.raises(TimeoutError):
            await sub.subscribe("b", timeout=0.1)
        assert sub.channels == {b"a"}  # and Redis was told: UNSUBSCRIBE b
    finally:
        await sub.close()
        confirm.set()


async def test_a_failing_message_callback_is_logged_and_delivery_goes_on(raw, caplog):
    def pubsub(command, number):
        if command[0] == b"SUBSCRIBE":
            return (b"*3\r\n" + bulk(b"subscribe") + bulk(b"a") + b":1\r\n"
                    + b"*3\r\n" + bulk(b"message") + bulk(b"a") + bulk(b"boom")
                    + b"*3\r\n" + bulk(b"message") + bulk(b"a") + bulk(b"ok"))
        return b"+OK\r\n"

    inbox = Inbox()

    def on_message(channel: bytes, data: bytes) -> None:
        if data == b"boom":
            raise ValueError("bad message")
        inbox(channel, data)

    server, url = await raw(pubsub)
    sub = RespSubscriber(url, on_message)
    try:
        await sub.subscribe("a")
        await inbox.wait()
    finally:
        await sub.close()
    assert inbox.got == [(b"a", b"ok")] and "the message callback failed" in caplog.text
    assert server.connections == 1


# --- URLs and encoding ----------------------------------------------------------------


@pytest.mark.parametrize(("url", "endpoint"), [
    ("redis://127.0.0.1:6379/0", Endpoint(host="127.0.0.1")),
    ("redis://h", Endpoint(host="h")),
    ("redis://u:p@h:7000/5", Endpoint(host="h", port=7000, username="u", password="p", db=5)),
    ("redis://:p%2Fq@h?db=2", Endpoint(host="h", password="p/q", db=2)),
    ("rediss://h:6380", Endpoint(host="h", port=6380, tls=True)),
    ("unix:///run/redis.sock?db=1", Endpoint(path="/run/redis.sock", db=1)),
])
def test_urls_as_the_configuration_accepts_them(url, endpoint):
    assert parse_url(url) == endpoint


@pytest.mark.parametrize(("url", "message"), [
    ("http://h", "expected redis://"),
    ("redis://h/x", "must be a number"),
    ("redis://h?ssl_cert_reqs=none", "unsupported option"),
    ("redis://h:99999", "bad port"),
    ("unix://", "expected unix:///path"),
])
def test_urls_this_client_cannot_honour_are_refused(url, message):
    with pytest.raises(ValueError, match=message):
        parse_url(url)


def test_arguments_are_encoded_once_as_bulk_strings():
    assert encode((b"PUBLISH", "chän", 42)) == (
        b"*3\r\n$7\r\nPUBLISH\r\n$5\r\nch\xc3\xa4n\r\n$2\r\n42\r\n")
    with pytest.raises(TypeError):
        encode((b"SET", "k", True))


async def test_closing_the_client_while_it_connects_fails_the_waiting_commands(raw):
    async def never(command, number):
        await asyncio.sleep(10)

    server, url = await raw(never)
    c = RespClient(url.replace("redis://", "redis://:pw@"))
    waiting = asyncio.gather(c.execute(b"PING"), c.execute(b"PING"), return_exceptions=True)
    await asyncio.sleep(0.05)
    await c.close()
    replies = await asyncio.wait_for(waiting, 1)
    assert [type(r) for r in replies] == [RespConnectionError] * 2
    assert "client closed" in str(replies[0])
    with pytest.raises(RespConnectionError, match="client closed"):
        await c.execute(b"PING")


async def test_a_redis_that_stops_answering_is_given_up_and_connected_again(raw, caplog):
    """The first connection takes commands and never answers (a hung server behind a live
    TCP connection): its commands fail within about the reply timeout, instead of waiting
    for ever, and the next command goes out on a new connection."""
    never = asyncio.Event()

    async def answer(command, number):
        if number == 1:
            await never.wait()
        return b"+PONG\r\n"

    server, url = await raw(answer)
    client = RespClient(url, reply_timeout=0.2)
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        with caplog.at_level(logging.WARNING, logger="callcontrol.bus.resp"), \
                pytest.raises(RespConnectionError, match="no reply .* within 0.2 s"):
            async with asyncio.timeout(3):   # without the check: for ever
                await asyncio.gather(client.execute(b"PING"), client.execute(b"PING"))
        assert 0.2 <= loop.time() - started < 1.0
        assert "no reply within 0.2 s" in caplog.text
        assert await client.execute(b"PING") == b"PONG"
    finally:
        await client.close()
        never.set()
    assert server.connections == 2


async def test_a_slow_but_steady_redis_is_not_given_up(raw):
    """Commands answered within the reply timeout, one after another for longer than it:
    the connection stays."""
    async def answer(command, number):
        await asyncio.sleep(0.05)
        return b"+PONG\r\n"

    server, url = await raw(answer)
    client = RespClient(url, reply_timeout=0.2)
    try:
        for _ in range(8):   # 0.4 s in all, twice the timeout
            assert await client.execute(b"PING") == b"PONG"
    finally:
        await client.close()
    assert server.connections == 1


@pytest.mark.redis
async def test_the_subscriber_pings_and_a_redis_that_answers_keeps_the_connection(
        client, redis_url, unique_name):
    inbox = Inbox()
    sub = RespSubscriber(redis_url, inbox, ping_every=0.05, reply_timeout=0.05)
    channel = f"{unique_name}:pinged"
    try:
        await sub.subscribe(channel)
        first = sub._conn
        await asyncio.sleep(0.4)   # several PINGs answered
        assert sub._conn is first and not first.closed   # each PING answered in time
        assert await client.execute(b"PUBLISH", channel, "still here") == 1
        await inbox.wait()
        assert inbox.got == [(channel.encode(), b"still here")]
    finally:
        await sub.close()


async def test_a_silent_subscriber_connection_is_given_up_and_subscribed_again(raw, caplog):
    """The first connection confirms the subscription and then answers nothing (not even
    PING): it is given up, and the channel subscribed again on a new one."""
    async def pubsub(command, number):
        if command[0] == b"SUBSCRIBE":
            return b"".join(b"*3\r\n" + bulk(b"subscribe") + bulk(ch) + b":1\r\n"
                            for ch in command[1:])
        if command[0] == b"PING" and number == 1:
            return b""   # silence
        return b"*2\r\n" + bulk(b"pong") + bulk(b"")

    server, url = await raw(pubsub)
    sub = RespSubscriber(url, lambda channel, data: None, ping_every=0.05,
                         reply_timeout=0.05)
    try:
        with caplog.at_level(logging.WARNING, logger="callcontrol.bus.resp"):
            await sub.subscribe("a")
            async with asyncio.timeout(3):
                while [c[0] for c in server.commands].count(b"SUBSCRIBE") < 2:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
        assert "no answer to a PING" in caplog.text
    finally:
        await sub.close()
    assert server.connections == 2 and server.commands[-1][0] in (b"SUBSCRIBE", b"PING")
