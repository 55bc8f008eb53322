"""A small RESP2 client for the bus and the pop store, on asyncio protocols.

Why not redis-py: at a call storm the bus publishes about four messages a call on their own
and runs three MULTI/EXEC transactions (the pop store and its publication), and its reader
gets about seven messages back. redis-py's share of that was a fifth of callcontrol's CPU
per call (command objects, a connection pool, its parser's buffers, a dict per pub/sub
message); hiredis did not change it. This client encodes a command into one bytes object,
writes it once and parses the replies with bytes operations: a PUBLISH sent on its own
costs half of redis-py's CPU (39 us against 76), a three-command transaction a third (51
against 174), less still when several are in flight (``python -m bench.redis_client``).

What it does, and no more:

* :class:`RespClient`: one connection for commands. Commands are written as they come and
  their replies matched in order (a deque of waiters), so any number can be in flight at
  once: pipelining for free. :meth:`RespClient.transaction` writes MULTI, the commands and
  EXEC in one write. An error reply raises :class:`ReplyError`; a lost connection fails
  every command waiting on it with :class:`RespConnectionError` (a ``ConnectionError``) and
  the next command connects again. So does a connection whose oldest command has waited
  :data:`REPLY_TIMEOUT` seconds for its reply (a Redis that hangs behind a live
  connection must not hold the call path's publications for ever). A command is never
  sent twice: whether one whose connection died after it was written ran or not is
  unknown, and PUBLISH is not idempotent. A cancelled command keeps its place in the
  queue; its reply is dropped.
* :class:`RespSubscriber`: one pub/sub connection. :meth:`RespSubscriber.subscribe` returns
  once the server confirmed (from then on, a message published anywhere is received);
  messages go to a callback as ``(channel, data)`` bytes, straight from the protocol, with
  no task or future per message. A lost connection is reopened with a capped backoff and
  every channel still wanted subscribed again; so is a silent one (a PING every
  :data:`PING_EVERY` seconds, unanswered by the next).

URLs: ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS, the system's
certificate authorities) and ``unix:///path/to.sock[?db=N]``; AUTH (with the user name when
there is one) and SELECT (when the database is not 0) are sent on connecting, within the
connect timeout. RESP2 only (no HELLO): what every Redis since 2.x speaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl as sslmod
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias
from urllib.parse import parse_qsl, unquote, urlsplit

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0
SUBSCRIBE_TIMEOUT = 5.0
REPLY_TIMEOUT = 2.0  # a connection whose oldest command waits longer is given up
PING_EVERY = 5.0  # the subscriber's connection is PINGed this often (it answers nothing else)
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0

Arg: TypeAlias = bytes | str | int
Reply: TypeAlias = Any  # bytes (bulk and simple strings), int, None, list of replies

_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"


class RespError(Exception):
    """Base of this client's errors."""


class ReplyError(RespError):
    """The server answered with an error (``-ERR ...``); the message is the server's."""


class ProtocolError(RespError):
    """Bytes that are not RESP2, or a reply nobody asked for: the connection is closed."""


class RespConnectionError(RespError, ConnectionError):
    """No connection, or it was lost before the reply came: whether a command that was
    written ran is unknown."""


# --- URLs ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where Redis is and how to start a session with it."""

    host: str = ""
    port: int = 6379
    path: str | None = None  # a unix socket
    tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0

    @property
    def where(self) -> str:
        return self.path if self.path is not None else f"{self.host}:{self.port}"

    def handshake(self) -> list[tuple[Arg, ...]]:
        """The commands that start a session: AUTH and SELECT, when needed."""
        commands: list[tuple[Arg, ...]] = []
        if self.password is not None:
            commands.append((b"AUTH", self.username, self.password) if self.username
                            else (b"AUTH", self.password))
        if self.db:
            commands.append((b"SELECT", self.db))
        return commands


def parse_url(url: str) -> Endpoint:
    """An :class:`Endpoint` from a ``redis://``, ``rediss://`` or ``unix://`` URL; raises
    ValueError for anything else (another scheme, an option this client does not know)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ValueError(f"Redis URL {url!r}: expected redis://, rediss:// or unix://")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    db_text = query.pop("db", None)
    if query:
        raise ValueError(f"Redis URL {url!r}: unsupported option(s) {', '.join(sorted(query))}")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"Redis URL {url!r}: expected unix:///path/to.sock")
        return Endpoint(path=unquote(parts.path), username=username, password=password,
                        db=_db(url, db_text))
    if not parts.hostname:
        raise ValueError(f"Redis URL {url!r}: no host")
    try:
        port = parts.port or 6379
    except ValueError:
        raise ValueError(f"Redis URL {url!r}: bad port") from None
    path_db = parts.path.strip("/")
    return Endpoint(host=parts.hostname, port=port, tls=parts.scheme == "rediss",
                    username=username, password=password,
                    db=_db(url, db_text if db_text is not None else path_db or None))


def _db(url: str, text: str | None) -> int:
    if text is None or text == "":
        return 0
    if not text.isdigit():
        raise ValueError(f"Redis URL {url!r}: the database must be a number, got {text!r}")
    return int(text)


# --- encoding and parsing -------------------------------------------------------------


def encode(args: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            data = arg.encode()
        elif isinstance(arg, bytes):
            data = arg
        elif isinstance(arg, int) and not isinstance(arg, bool):
            data = b"%d" % arg
        else:
            raise TypeError(f"a Redis argument is bytes, str or int, not {type(arg).__name__}")
        out.append(b"$%d\r\n" % len(data))
        out.append(data)
        out.append(b"\r\n")
    return b"".join(out)


class _Incomplete(Exception):  # noqa: N818 - a signal, not an error
    """More bytes are needed: at least up to ``need`` (an index into the data)."""

    def __init__(self, need: int) -> None:
        self.need = need


def parse(data: bytes, pos: int) -> tuple[Reply, int]:
    """The reply starting at ``data[pos]`` and where the next one starts. An error reply is
    a :class:`ReplyError` value (inside an array too); raises _Incomplete or ProtocolError."""
    eol = data.find(b"\r\n", pos)
    if eol < 0:
        raise _Incomplete(len(data) + 1)
    kind = data[pos]
    try:
        if kind == 36:  # $ bulk string
            size = int(data[pos + 1:eol])
            if size < 0:
                return None, eol + 2
            end = eol + 2 + size
            if len(data) < end + 2:
                raise _Incomplete(end + 2)
            return data[eol + 2:end], end + 2
        if kind == 58:  # : integer
            return int(data[pos + 1:eol]), eol + 2
        if kind == 43:  # + simple string
            return data[pos + 1:eol], eol + 2
        if kind == 42:  # * array
            count = int(data[pos + 1:eol])
            if count < 0:
                return None, eol + 2
            items = []
            pos = eol + 2
            for _ in range(count):
                item, pos = parse(data, pos)
                items.append(item)
            return items, pos
        if kind == 45:  # - error
            return ReplyError(data[pos + 1:eol].decode("utf-8", "replace")), eol + 2
    except ValueError:
        raise ProtocolError(f"garbled reply {bytes(data[pos:eol + 2])[:80]!r}") from None
    raise ProtocolError(f"garbled reply {bytes(data[pos:eol + 2])[:80]!r}")


# --- connections ----------------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One connection: requests are written at once, their replies matched in order."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.lost: asyncio.Future[BaseException | None] = (
            asyncio.get_running_loop().create_future())
        self._waiters: deque[tuple[asyncio.Future[Any], int, float]] = deque()
        self._partial: list[Reply] = []  # replies so far of the first waiter's batch
        self._buf = bytearray()
        self._need = 0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._buf:
            self._buf += data
            if len(self._buf) < self._need:
                return
            data = bytes(self._buf)
            self._buf.clear()
        pos, end = 0, len(data)
        try:
            while pos < end:
                value, pos = parse(data, pos)
                self._reply(value)
        except _Incomplete as more:
            self._buf += memoryview(data)[pos:]
            self._need = more.need - pos
        except ProtocolError as exc:
            self.abort(exc)

    def eof_received(self) -> bool:
        self.closed = True
        return False

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.transport = None
        why = f"connection to Redis at {self.where} lost" + (f" ({exc})" if exc else "")
        self._fail(RespConnectionError(why))
        if not self.lost.done():
            self.lost.set_result(exc)

    # requests
    def request(self, data: bytes, count: int = 1) -> asyncio.Future[Any]:
        """Write ``data`` (``count`` commands); the future gets the reply, or the list of
        ``count`` replies when there are several."""
        if self.closed or self.transport is None:
            raise RespConnectionError(f"connection to Redis at {self.where} closed")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self._waiters.append((fut, count, loop.time()))
        self.transport.write(data)
        return fut

    def waiting_since(self) -> float | None:
        """When the oldest command still without its reply was written (loop time)."""
        return self._waiters[0][2] if self._waiters else None

    def write(self, data: bytes) -> None:
        """Write commands whose replies nobody waits for here (pub/sub: the server
        pushes them)."""
        if self.transport is not None and not self.closed:
            self.transport.write(data)

    def _reply(self, value: Reply) -> None:
        if not self._waiters:
            raise ProtocolError("a reply nobody asked for")
        fut, count, _ = self._waiters[0]
        if count == 1:
            self._waiters.popleft()
            if fut.done():
                return
            if type(value) is ReplyError:
                fut.set_exception(value)
            else:
                fut.set_result(value)
            return
        self._partial.append(value)
        if len(self._partial) == count:
            self._waiters.popleft()
            replies, self._partial = self._partial, []
            if not fut.done():
                fut.set_result(replies)

    def _fail(self, exc: RespError) -> None:
        waiters, self._waiters = self._waiters, deque()
        self._partial = []
        for fut, _, _ in waiters:
            if not fut.done():
                fut.set_exception(exc)

    def abort(self, exc: RespError) -> None:
        """Close the connection and fail what waits on it with ``exc``."""
        self.closed = True
        self._fail(exc)
        if self.transport is not None:
            self.transport.close()


class _SubscriberConnection(_Connection):
    """A connection in pub/sub mode: pushed messages and confirmations go to callbacks."""

    def __init__(self, where: str, on_message: Callable[[bytes, bytes], None],
                 on_subscribed: Callable[[bytes], None]) -> None:
        super().__init__(where)
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self.confirmed = False
        self.ping_sent: float | None = None  # loop time of the PING not answered yet

    def _reply(self, value: Reply) -> None:
        if type(value) is list and len(value) == 3:
            kind = value[0]
            if kind == b"message":
                try:
                    self._on_message(value[1], value[2])
                except Exception:
                    logger.exception("redis subscriber: the message callback failed")
                return
            if kind == b"subscribe":
                self.confirmed = True
                self._on_subscribed(value[1])
                return
            if kind == b"unsubscribe":
                return
        if self.ping_sent is not None and (value == b"PONG" or (
                type(value) is list and len(value) == 2 and value[0] == b"pong")):
            self.ping_sent = None   # subscribed: ["pong", ""]; with no channel left: PONG
            return
        super()._reply(value)  # AUTH and SELECT while the session starts


async def _open(endpoint: Endpoint, factory: Callable[[], _Connection]) -> _Connection:
    """A connection with its session started (AUTH, SELECT), within CONNECT_TIMEOUT."""
    loop = asyncio.get_running_loop()
    conn: _Connection | None = None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            if endpoint.path is not None:
                _, conn = await loop.create_unix_connection(factory, endpoint.path)
            else:
                tls = sslmod.create_default_context() if endpoint.tls else None
                _, conn = await loop.create_connection(
                    factory, endpoint.host, endpoint.port, ssl=tls,
                    server_hostname=endpoint.host if tls else None)
            handshake = endpoint.handshake()
            if handshake:
                replies = await conn.request(b"".join(encode(c) for c in handshake),
                                             len(handshake))
                if len(handshake) == 1:
                    replies = [replies]
                for reply in replies:
                    if isinstance(reply, ReplyError):
                        raise reply
    except BaseException as exc:
        if conn is not None:
            conn.abort(RespConnectionError("session start failed"))
        if isinstance(exc, TimeoutError):
            raise RespConnectionError(f"cannot connect to Redis at {endpoint.where}: no "
                                      f"answer within {CONNECT_TIMEOUT:g} s") from None
        if isinstance(exc, OSError) and not isinstance(exc, RespError):
            raise RespConnectionError(f"cannot connect to Redis at {endpoint.where}: "
                                      f"{exc.strerror or exc}") from exc
        raise
    return conn


# --- the two clients ------------------------------------------------------------------


class RespClient:
    """Commands on one connection, opened when first needed and again after it is lost.

    A Redis that stops answering without closing the connection (a hung server, a network
    that drops packets) would leave every command waiting, and with them the agent state
    changes and pops that publish: a check every ``reply_timeout / 2`` seconds gives the
    connection up (its commands fail with :class:`RespConnectionError`) once its oldest
    command has waited ``reply_timeout`` seconds, and the next command connects again. A
    timer per connection, not one per command.
    """

    def __init__(self, url: str, *, reply_timeout: float = REPLY_TIMEOUT) -> None:
        self.endpoint = parse_url(url)
        self.reply_timeout = reply_timeout
        self._conn: _Connection | None = None
        self._connecting: asyncio.Task[_Connection] | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False

    async def execute(self, *args: Arg) -> Reply:
        """One command and its reply; an error reply raises :class:`ReplyError`."""
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connection()
        return await conn.request(encode(args))

    async def transaction(self, *commands: Sequence[Arg]) -> list[Reply]:
        """MULTI, ``commands``, EXEC in one write; EXEC's replies. Raises ReplyError when
        the server refused a command (then none ran) or one failed inside EXEC (the others
        ran: Redis does not roll back)."""
        data = b"".join([_MULTI, *(encode(c) for c in commands), _EXEC])
        conn = self._conn
        if conn is None or conn.closed:
            conn = await self._connection()
        replies = await conn.request(data, len(commands) + 2)
        for reply in replies:
            if type(reply) is ReplyError:
                raise reply
        result = replies[-1]
        if result is None:
            raise ReplyError("transaction aborted (EXEC returned nil)")
        for reply in result:
            if type(reply) is ReplyError:
                raise reply
        return result

    async def _connection(self) -> _Connection:
        if self._closed:
            raise RespConnectionError("client closed")
        task = self._connecting
        if task is None:
            task = self._connecting = asyncio.get_running_loop().create_task(
                self._connect(), name="redis-connect")
            task.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and current is not None and not current.cancelling():
                raise RespConnectionError("client closed") from None  # close() stopped it
            raise

    async def _connect(self) -> _Connection:
        try:
            conn = await _open(self.endpoint, lambda: _Connection(self.endpoint.where))
            if self._closed:
                conn.abort(RespConnectionError("client closed"))
                raise RespConnectionError("client closed")
            self._conn = conn
            self._watch(conn)
            return conn
        finally:
            self._connecting = None

    def _watch(self, conn: _Connection) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        self._watchdog = asyncio.get_running_loop().call_later(
            self.reply_timeout / 2, self._check, conn)

    def _check(self, conn: _Connection) -> None:
        self._watchdog = None
        if conn.closed or self._closed:
            return
        since = conn.waiting_since()
        if since is not None and asyncio.get_running_loop().time() - since > self.reply_timeout:
            logger.warning("redis at %s: no reply within %g s; connecting again",
                           self.endpoint.where, self.reply_timeout)
            conn.abort(RespConnectionError(f"no reply from Redis at {self.endpoint.where} "
                                           f"within {self.reply_timeout:g} s"))
            if self._conn is conn:
                self._conn = None
            return
        self._watch(conn)

    async def close(self) -> None:
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._connecting is not None:
            self._connecting.cancel()
        if self._conn is not None:
            self._conn.abort(RespConnectionError("client closed"))
            self._conn = None


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # every waiter may have been cancelled: not "never retrieved"


class RespSubscriber:
    """Pub/sub on one connection: ``on_message(channel, data)`` for every message of the
    channels subscribed; re-subscribes them all after a lost connection.

    A subscriber only listens, so a connection that went silent (a hung Redis, a peer gone
    without closing) would look like a quiet one for hours: it is PINGed every
    ``ping_every`` seconds, and given up (then opened and subscribed again) when a PING
    had no answer by the next one, at least ``reply_timeout`` seconds later.
    """

    def __init__(self, url: str, on_message: Callable[[bytes, bytes], None], *,
                 ping_every: float = PING_EVERY, reply_timeout: float = REPLY_TIMEOUT) -> None:
        self.endpoint = parse_url(url)
        self.ping_every = ping_every
        self.reply_timeout = reply_timeout
        self._pinger: asyncio.TimerHandle | None = None
        self._on_message = on_message
        self._wanted: set[bytes] = set()
        self._confirm: dict[bytes, list[asyncio.Future[None]]] = {}
        self._conn: _SubscriberConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    @property
    def channels(self) -> frozenset[bytes]:
        return frozenset(self._wanted)

    async def subscribe(self, *channels: str | bytes, timeout: float = SUBSCRIBE_TIMEOUT) -> None:
        """Return once the server confirmed every channel; raise RespConnectionError when
        Redis cannot be reached, TimeoutError after ``timeout`` (the channels are then not
        wanted any more)."""
        names = [_name(c) for c in channels]
        if not names:
            return
        loop = asyncio.get_running_loop()
        waits = []
        for name in names:
            fut: asyncio.Future[None] = loop.create_future()
            self._confirm.setdefault(name, []).append(fut)
            waits.append(fut)
        added = [n for n in names if n not in self._wanted]
        self._wanted.update(names)
        if self._conn is not None and not self._conn.closed:
            self._conn.write(encode((b"SUBSCRIBE", *names)))
        else:
            self._start()
        try:
            async with asyncio.timeout(timeout):
                for fut in waits:
                    await fut
        except BaseException:
            for name, fut in zip(names, waits, strict=True):
                if fut.done() and not fut.cancelled():
                    fut.exception()
                fut.cancel()
                with contextlib.suppress(KeyError, ValueError):
                    self._confirm[name].remove(fut)
                    if not self._confirm[name]:
                        del self._confirm[name]
            self._drop(added)
            raise

    async def unsubscribe(self, *channels: str | bytes) -> None:
        """Stop receiving ``channels`` (without waiting for the server's confirmation)."""
        self._drop([_name(c) for c in channels])

    def _drop(self, names: list[bytes]) -> None:
        names = [n for n in names if n in self._wanted]
        if not names:
            return
        self._wanted.difference_update(names)
        if self._conn is not None:
            self._conn.write(encode((b"UNSUBSCRIBE", *names)))

    def _start(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name="redis-subscriber")
        self._wake.set()

    def _subscribed(self, channel: bytes) -> None:
        for fut in self._confirm.pop(channel, ()):
            if not fut.done():
                fut.set_result(None)

    def _fail_pending(self, exc: BaseException) -> None:
        confirm, self._confirm = self._confirm, {}
        for futures in confirm.values():
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc)

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            if not self._wanted:
                self._wake.clear()
                await self._wake.wait()
                continue
            self._wake.clear()  # what is wanted from here on is subscribed once connected
            try:
                conn = await _open(self.endpoint, self._factory)
            except (RespError, OSError) as exc:
                self._fail_pending(exc)
                logger.warning("redis subscriber cannot connect (%s); retrying in %.1fs",
                               exc, backoff)
                await self._pause(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
                continue
            assert isinstance(conn, _SubscriberConnection)
            self._conn = conn
            if self._wanted:
                conn.write(encode((b"SUBSCRIBE", *self._wanted)))
            self._schedule_ping(conn)
            why = await conn.lost
            self._conn = None
            if conn.confirmed:
                backoff = BACKOFF_FIRST
            logger.warning("redis subscriber connection lost (%s); reconnecting in %.1fs",
                           why or "closed", backoff)
            await self._pause(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _schedule_ping(self, conn: _SubscriberConnection) -> None:
        self._pinger = asyncio.get_running_loop().call_later(
            max(self.ping_every, self.reply_timeout), self._ping, conn)

    def _ping(self, conn: _SubscriberConnection) -> None:
        self._pinger = None
        if conn.closed or self._conn is not conn:
            return
        if conn.ping_sent is not None:
            logger.warning("redis subscriber: no answer to a PING within %g s; connecting "
                           "again", self.reply_timeout)
            conn.abort(RespConnectionError(f"no answer to a PING from Redis at "
                                           f"{self.endpoint.where}"))
            return
        conn.ping_sent = asyncio.get_running_loop().time()
        conn.write(encode((b"PING",)))
        self._schedule_ping(conn)

    def _factory(self) -> _SubscriberConnection:
        return _SubscriberConnection(self.endpoint.where, self._on_message, self._subscribed)

    async def _pause(self, seconds: float) -> None:
        """Sleep, or less when a new subscription wants the connection now."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def close(self) -> None:
        self._wanted.clear()
        if self._pinger is not None:
            self._pinger.cancel()
            self._pinger = None
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        if self._conn is not None:
            self._conn.abort(RespConnectionError("subscriber closed"))
            self._conn = None
        self._fail_pending(RespConnectionError("subscriber closed"))


def _name(channel: str | bytes) -> bytes:
    return channel.encode() if isinstance(channel, str) else channel
