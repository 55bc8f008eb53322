"""EventStream: the ARI events websocket, kept connected, delivering typed events in order.

One task reads the socket (so aiohttp's heartbeat keeps working while a handler is slow) and
puts events on a queue; one task dispatches them in arrival order. After every (re)connect a
resync marker goes on the queue first, so `on_resync` runs before any event of the new
connection reaches the handler and no event received during the resync is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from callcontrol.ari.events import ApplicationReplaced, Event, UnknownEvent, parse_event
from callcontrol.ari.state import ConnectionState
from callcontrol.config import AriConfig
from callcontrol.logs import CALL_ID, call_context

logger = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]
Resync = Callable[[], Awaitable[None]]
_RESYNC = object()
CLOSE_TIMEOUT = 1.0
BACKLOG_WARNING = 1000


def backoff_delay(attempt: int, initial: float, maximum: float,
                  rand: Callable[[], float] = random.random) -> float:
    """Exponential backoff with equal jitter: in [d/2, d] for d = min(max, initial * 2**n)."""
    ceiling = min(maximum, initial * (2 ** min(attempt, 32)))
    return ceiling * (0.5 + 0.5 * rand())


def events_url(ari_url: str) -> str:
    """`http://host:8088/ari` -> `ws://host:8088/ari/events` (https -> wss)."""
    base = ari_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://"):]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://"):]
    return base + "/events"


class EventStream:
    def __init__(self, config: AriConfig, handler: Handler, *, on_resync: Resync | None = None,
                 subscribe_all: bool = False, backoff_initial: float = 0.1,
                 backoff_max: float = 5.0, heartbeat: float = 10.0,
                 connect_timeout: float | None = None, state: ConnectionState | None = None,
                 session: aiohttp.ClientSession | None = None, inline: bool = False) -> None:
        """``inline=True`` is for a handler that never waits (it only routes the event): an
        event that finds nothing queued before it is then handled by the reader itself, not
        handed to the dispatcher through the queue (a future and a task switch less per
        event). Order is kept either way."""
        if backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ValueError("need 0 < backoff_initial <= backoff_max")
        self._inline = inline
        self._delivering = False  # the dispatcher is inside a delivery (or a resync)
        self._config = config
        self._handler = handler
        self._on_resync = on_resync
        self._subscribe_all = subscribe_all
        self._backoff = (backoff_initial, backoff_max)
        self._heartbeat = heartbeat
        self._connect_timeout = connect_timeout or config.request_timeout
        self.state = state or ConnectionState()
        self._session = session
        self._owns_session = session is None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._first_attempt = asyncio.Event()
        self._connected_event = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closing = False
        self._replaced = False

    @property
    def connected(self) -> bool:
        return self.state.connected

    async def start(self) -> None:
        """Start; returns once the first connection attempt finished, whether it worked or not."""
        if self._reader is not None:
            raise RuntimeError("EventStream already started")
        self._reader = asyncio.create_task(self._run(), name="ari-events-reader")
        self._dispatcher = asyncio.create_task(self._dispatch(), name="ari-events-dispatch")
        first = asyncio.create_task(self._first_attempt.wait())
        await asyncio.wait({first, self._reader}, return_when=asyncio.FIRST_COMPLETED)
        first.cancel()

    async def wait_connected(self, timeout: float) -> None:
        """Wait until the socket is open; raises TimeoutError after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while not self.connected:
                self._connected_event.clear()
                await self._connected_event.wait()

    async def close(self) -> None:
        """Stop reading and dispatching; never waits more than about CLOSE_TIMEOUT seconds."""
        self._closing = True
        tasks = [t for t in (self._reader, self._dispatcher) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), CLOSE_TIMEOUT)
        if self._owns_session and self._session is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._session.close(), CLOSE_TIMEOUT)
            self._session = None
        self.state.down()

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            auth = aiohttp.encode_basic_auth(self._config.username, self._config.password)
            timeout = aiohttp.ClientTimeout(total=None, connect=self._connect_timeout,
                                            sock_connect=self._connect_timeout)
            self._session = aiohttp.ClientSession(headers={"Authorization": auth},
                                                  timeout=timeout)
        return self._session

    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._closing:
            opened = loop.time()
            try:
                was_up = await self._connect_and_read()
            except Exception:  # a bug here must not end the stream for good
                logger.exception("ARI events: unexpected error on the websocket")
                self.state.down("unexpected error")
                was_up = False
            self._first_attempt.set()
            if self._closing:
                return
            if self._replaced:
                # Another websocket took our application (a second callcontrol with the same
                # app name): reconnecting would steal it back and the two would fight.
                logger.error("ARI events: application %s was taken over by another "
                             "connection; not reconnecting", self._config.app)
                self.state.down("application replaced by another connection")
                return
            # A connection that stayed up a while starts the backoff afresh; one that drops
            # right after opening keeps growing it, so a flapping server is not hammered.
            if was_up and loop.time() - opened >= self._backoff[1]:
                attempt = 0
            delay = backoff_delay(attempt, *self._backoff)
            attempt += 1
            logger.info("ARI events: reconnecting in %.2f s (attempt %d)", delay, attempt)
            await asyncio.sleep(delay)

    async def _connect_and_read(self) -> bool:
        """One connection: open, read until it closes. False when it never opened."""
        self.state.attempt()
        params = {"app": self._config.app,
                  "subscribeAll": "true" if self._subscribe_all else "false"}
        try:
            ws = await self._get_session().ws_connect(
                events_url(self._config.url), params=params, heartbeat=self._heartbeat,
                timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT))
        except aiohttp.WSServerHandshakeError as exc:
            logger.error("ARI events: websocket refused: %s %s", exc.status, exc.message)
            self.state.down(f"handshake {exc.status}")
            return False
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            logger.warning("ARI events: cannot connect to %s: %s", self._config.url,
                           str(exc) or type(exc).__name__)
            self.state.down(str(exc) or type(exc).__name__)
            return False
        self._ws = ws
        self._queue.put_nowait(_RESYNC)
        self.state.up()
        self._connected_event.set()
        self._first_attempt.set()
        logger.info("ARI events: connected (app %s)", self._config.app)
        try:
            await self._read(ws)
        finally:
            self._ws = None
            self.state.down(f"closed ({ws.close_code})")
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), CLOSE_TIMEOUT)
        if not self._closing:
            logger.warning("ARI events: websocket closed (code %s, %s)", ws.close_code,
                           ws.exception() or "no error")
        return True

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                event = _decode(msg.data)
                if self._inline and not self._delivering and self._queue.empty():
                    await self._deliver(event)
                else:
                    self._queue.put_nowait(event)
                    if self._queue.qsize() == BACKLOG_WARNING:
                        logger.warning("ARI events: %d events waiting for the handler",
                                       BACKLOG_WARNING)
                if isinstance(event, ApplicationReplaced):
                    self._replaced = True
                    break
            elif msg.type == aiohttp.WSMsgType.ERROR:
                break

    async def _dispatch(self) -> None:
        while True:
            item = await self._queue.get()
            self._delivering = True
            try:
                if item is _RESYNC:
                    await self._resync()
                else:
                    await self._deliver(item)
            finally:
                self._delivering = self._queue.qsize() > 0

    async def _resync(self) -> None:
        if self._on_resync is None:
            return
        try:
            await self._on_resync()
        except Exception:
            logger.exception("ARI events: resync hook failed")

    async def _deliver(self, event: Event) -> None:
        channel_id = event.channel_id
        context = (call_context(channel_id) if channel_id and CALL_ID.get() == "-"
                   else contextlib.nullcontext())
        with context:
            try:
                await self._handler(event)
            except Exception:
                logger.exception("ARI events: handler failed on %s (channel %s)",
                                 event.type, channel_id or "-")


def _decode(text: str) -> Event:
    try:
        data = json.loads(text)
    except ValueError:
        logger.warning("ARI events: message is not JSON: %.200s", text)
        return UnknownEvent(raw={"text": text})
    return parse_event(data)
