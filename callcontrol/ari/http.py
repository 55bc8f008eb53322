"""A small HTTP/1.1 keep-alive client for ARI's REST interface, on asyncio protocols.

Why not aiohttp's ClientSession: ARI is one host, short JSON requests and answers, a few
thousand a second at a call storm. aiohttp's client spends about 0.2 ms of CPU a request on
things ARI does not need (URL objects, cookie jar, tracing, redirects, per-request timers,
a response object with its stream), which was a quarter of callcontrol's CPU per call. This
client writes the request as one bytes object and parses the answer with bytes operations:
about a fifth of that (``python -m bench.ari_http``).

What it does: a pool of persistent connections to one origin (http or https), at most
``limit`` open, idle ones reused last-in first-out; ``Content-Length`` and chunked bodies;
``Connection: close`` and HTTP/1.0 answers end the connection after the body. A connection
the server closed while idle is dropped before use; a request that finds its reused
connection closed before any byte of the answer came back is sent again on a new
connection, once, when its method is idempotent (GET, PUT, DELETE). A request
cancelled or timed out mid-answer closes its connection (its answer may still arrive).

Timeouts: ``request(..., timeout=s)`` bounds the whole request. Waiting for the answer on a
connection, the common case, is bounded by one sweep every :data:`SWEEP_EVERY` seconds over
the requests in flight (a timeout fires up to that much late) instead of a timer per
request: nine ARI requests a call each made and cancelled an ``asyncio.timeout`` with its
timer; waiting for a free or a new connection, the rare case, keeps ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import ssl as sslmod
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "OPTIONS"})
MAX_HEAD = 64 * 1024
SWEEP_EVERY = 0.05   # seconds between two looks at the deadlines of the requests in flight


class HttpError(Exception):
    """No complete HTTP answer: connection refused, reset or closed early, or garbled."""


class _Stale(HttpError):
    """A reused connection was closed before the answer started (safe to resend if idempotent)."""


@dataclass(slots=True)
class Response:
    status: int
    reason: str
    headers: dict[str, str]  # names lower-cased; a repeated header keeps its last value
    body: bytes


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; parses one answer at a time."""

    __slots__ = ("transport", "closed", "reused", "_buf", "_waiter", "_head")

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reused = False
        self._buf = bytearray()
        self._waiter: asyncio.Future[Response] | None = None
        self._head: tuple[int, str, dict[str, str], int] | None = None  # status, reason, hdrs, end

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if self._waiter is not None:
            self._parse(eof=False)

    def eof_received(self) -> bool:
        return False  # let the transport close; connection_lost finishes the answer

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.transport = None
        if self._waiter is not None and not self._waiter.done():
            self._parse(eof=True, exc=exc)

    # requests
    def send(self, data: bytes, waiter: asyncio.Future[Response]) -> None:
        if self.transport is None or self.closed:
            raise _Stale("connection closed") if self.reused else HttpError("connection closed")
        self._waiter = waiter
        self._head = None
        self.transport.write(data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: HttpError) -> None:
        assert self._waiter is not None
        if not self._waiter.done():
            self._waiter.set_exception(exc)
        self._waiter = None

    def _parse(self, *, eof: bool, exc: BaseException | None = None) -> None:
        buf = self._buf
        if self._head is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self.close()
                    self._fail(HttpError("answer headers too long"))
                elif eof:
                    why = f"connection closed ({exc})" if exc else "connection closed"
                    if not buf and self.reused:
                        self._fail(_Stale(why))
                    else:
                        self._fail(HttpError(why + " before the answer"))
                return
            try:
                self._head = _head(bytes(buf[:end]), end + 4)
            except ValueError as bad:
                self.close()
                self._fail(HttpError(f"garbled answer: {bad}"))
                return
        status, reason, headers, start = self._head
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body, keep = _chunked(buf, start)
            if body is None:
                if eof:
                    self._fail(HttpError("connection closed inside a chunked answer"))
                return
            used = keep
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                self.close()
                self._fail(HttpError("garbled answer: bad Content-Length"))
                return
            if len(buf) - start < length:
                if eof:
                    self._fail(HttpError("connection closed inside the answer"))
                return
            body, used = bytes(buf[start:start + length]), start + length
        elif status in (204, 304) or 100 <= status < 200:
            body, used = b"", start
        else:  # the body runs to the end of the connection
            if not eof:
                return
            body, used = bytes(buf[start:]), len(buf)
            headers["connection"] = "close"
        del buf[:used]
        if buf:  # bytes nobody asked for: do not trust this connection with another request
            headers["connection"] = "close"
        self._head = None
        waiter, self._waiter = self._waiter, None
        assert waiter is not None
        if not waiter.done():
            waiter.set_result(Response(status, reason, headers, body))


def _head(raw: bytes, end: int) -> tuple[int, str, dict[str, str], int]:
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"status line {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"header line {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    if version == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
        headers["connection"] = "close"
    return int(code), reason, headers, end


def _chunked(buf: bytearray, pos: int) -> tuple[bytes | None, int]:
    """The body of a complete chunked answer in buf from pos, and where it ends; (None, 0)
    while incomplete."""
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None, 0
        size_text = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return b"", len(buf)  # garbled: take what came, the caller closes on connection
        pos = eol + 2
        if size == 0:
            end = buf.find(b"\r\n\r\n", pos - 2)  # trailers, then an empty line
            if end < 0:
                return None, 0
            return b"".join(parts), end + 4
        if len(buf) < pos + size + 2:
            return None, 0
        parts.append(bytes(buf[pos:pos + size]))
        pos += size + 2


class HttpPool:
    """Keep-alive connections to the origin of ``base_url``; ``request`` takes a path under
    the base URL's path."""

    def __init__(self, base_url: str, *, headers: dict[str, str] | None = None,
                 limit: int = 100) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"ARI URL {base_url!r} must be http:// or https:// with a host")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: sslmod.SSLContext | None = (sslmod.create_default_context()
                                              if parts.scheme == "https" else None)
        self.prefix = parts.path.rstrip("/")
        host_header = parts.netloc.rpartition("@")[2]
        fixed = {"Host": host_header, **(headers or {})}
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in fixed.items())
        self.limit = limit
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._closed = False
        # answers awaited, with their deadlines (loop time), and the sweep that fails them
        self._inflight: dict[asyncio.Future[Response], float] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    async def request(self, method: str, path: str, *, body: bytes | None = None,
                      content_type: str = "application/json",
                      timeout: float | None = None) -> Response:
        """One request and its whole answer; raises HttpError when no answer came back,
        TimeoutError when none came within ``timeout`` seconds (a request that timed out or
        was cancelled closes its connection)."""
        head = f"{method} {self.prefix}{path} HTTP/1.1\r\n{self._fixed}"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
            data = head.encode("latin-1") + body
        else:
            data = (head + ("Content-Length: 0\r\n\r\n" if method in ("POST", "PUT")
                            else "\r\n")).encode("latin-1")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        try:
            return await self._exchange(loop, method, data, deadline)
        except _Stale:
            if method not in IDEMPOTENT:
                raise HttpError("connection closed by the server before the answer") from None
            return await self._exchange(loop, method, data, deadline, fresh=True)

    async def _exchange(self, loop: asyncio.AbstractEventLoop, method: str, data: bytes,
                        deadline: float | None, *, fresh: bool = False) -> Response:
        conn = None if fresh or self._closed else self._take_idle()
        if conn is None:   # no idle connection: wait for one, or open one
            if deadline is None:
                conn = await self._acquire(fresh)
            else:
                async with asyncio.timeout_at(deadline):
                    conn = await self._acquire(fresh)
        waiter: asyncio.Future[Response] = loop.create_future()
        ok = False
        try:
            conn.send(data, waiter)
            if deadline is not None:
                self._inflight[waiter] = deadline
                if self._sweeper is None:
                    self._sweeper = loop.call_later(SWEEP_EVERY, self._sweep)
            response = await waiter
            ok = response.headers.get("connection", "").lower() != "close"
            return response
        finally:
            self._inflight.pop(waiter, None)
            if not ok:
                conn.close()
            self._release(conn, keep=ok)

    def _sweep(self) -> None:
        """Fail the answers awaited past their deadline; again while any is awaited."""
        self._sweeper = None
        if not self._inflight:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        for waiter, deadline in list(self._inflight.items()):
            if deadline <= now:
                del self._inflight[waiter]
                if not waiter.done():
                    waiter.set_exception(TimeoutError())
        if self._inflight:
            self._sweeper = loop.call_later(SWEEP_EVERY, self._sweep)

    async def _acquire(self, fresh: bool) -> _Connection:
        if self._closed:
            raise HttpError("client closed")
        if not fresh and (conn := self._take_idle()) is not None:
            return conn
        if fresh and self._open >= self.limit and self._idle:
            self._idle.popleft().close()  # make room for the new connection
            self._open -= 1
        while self._open >= self.limit:
            waiter = asyncio.get_running_loop().create_future()
            self._waiting.append(waiter)
            try:
                await waiter
            except BaseException:
                if not waiter.cancelled() and waiter.done():
                    self._wake()  # pass the slot we were given on
                raise
            if not fresh and (conn := self._take_idle()) is not None:
                return conn
        self._open += 1
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                _Connection, self.host, self.port, ssl=self.ssl)
        except BaseException as exc:
            self._open -= 1
            self._wake()
            if isinstance(exc, OSError):
                raise HttpError(f"cannot connect to {self.host}:{self.port}: "
                                f"{exc.strerror or exc}") from exc
            raise
        return conn

    def _take_idle(self) -> _Connection | None:
        """The most recently used idle connection still open (closed ones are dropped)."""
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                conn.reused = True
                return conn
            self._open -= 1
        return None

    def _release(self, conn: _Connection, *, keep: bool) -> None:
        if keep and not conn.closed and not self._closed:
            self._idle.append(conn)
        else:
            conn.close()
            self._open -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        while self._idle:
            self._idle.pop().close()
            self._open -= 1
        for waiter in self._waiting:
            if not waiter.done():
                waiter.set_exception(HttpError("client closed"))
        self._waiting.clear()
