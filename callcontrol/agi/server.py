"""asyncio FastAGI server: header deadline, per-request timeout, connection cap, metrics.

Each connection is its own task, so a stalled peer or a slow look-up only ever holds its
own connection; nothing here awaits anything shared except the look-up itself.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from callcontrol.agi import lookup as lookup_script
from callcontrol.agi import protocol
from callcontrol.logs import call_context
from callcontrol.metrics import Counter

logger = logging.getLogger(__name__)

# How each connection ended, as the ``outcome`` label of callcontrol_agi_requests_total.
_ERROR_OUTCOMES: dict[type[Exception], str] = {
    protocol.AgiHangup: "hangup", protocol.AgiDeadChannel: "dead-channel",
    protocol.AgiUnknownCommand: "unknown-command", protocol.AgiClosed: "closed",
    protocol.AgiMalformed: "malformed", protocol.AgiError: "protocol-error",
    TimeoutError: "timeout", OSError: "socket-error",
}


@dataclass
class AgiServer:
    lookup: lookup_script.Lookup
    region: str = "CY"
    request_timeout: float = 2.0
    header_timeout: float = 5.0
    max_connections: int = 2000
    requests: Counter | None = None  # callcontrol_agi_requests_total{outcome}
    port: int | None = None
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def start(self, host: str, port: int) -> int:
        """Listen on host:port (0 picks a free port); return the port bound."""
        self._server = await asyncio.start_server(self._accept, host, port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("FastAGI listening on %s:%s", host, self.port)
        return self.port

    @property
    def active(self) -> int:
        """Connections being served right now."""
        return len(self._tasks)

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server:
            await self._server.wait_closed()

    def _count(self, outcome: str) -> None:
        if self.requests is not None:
            self.requests.inc(outcome=outcome)

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._tasks) >= self.max_connections:
            logger.warning("agi connection refused: %s connections open", len(self._tasks))
            self._count("rejected")
            writer.close()
            return
        self._tasks.add(task)
        try:
            self._count(await self._serve(reader, writer))
        except tuple(_ERROR_OUTCOMES) as exc:
            outcome = next(v for k, v in _ERROR_OUTCOMES.items() if isinstance(exc, k))
            logger.info("agi connection ended: %s (%s)", outcome, exc)
            self._count(outcome)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> str:
        try:
            headers = await asyncio.wait_for(protocol.read_headers(reader), self.header_timeout)
        except TimeoutError:
            logger.info("agi peer never finished its headers in %.1fs", self.header_timeout)
            return "header-timeout"
        script = headers.get("agi_network_script", "").strip("/").split("?")[0]
        with call_context(headers.get("agi_uniqueid", "-")):
            if script != "lookup":
                logger.warning("agi unknown script %r channel=%s", script,
                               headers.get("agi_channel"))
                return "unknown-script"
            # Half the budget for the database, the rest for the SET VARIABLE round trips.
            return await asyncio.wait_for(lookup_script.run(
                headers, reader, writer, self.lookup, region=self.region,
                budget=self.request_timeout * 0.5), self.request_timeout)
