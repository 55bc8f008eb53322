"""asyncio FastAGI server: header deadline, per-request timeout, connection cap."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from callcontrol.agi import lookup as lookup_script
from callcontrol.agi import protocol

logger = logging.getLogger(__name__)


@dataclass
class AgiServer:
    lookup: lookup_script.Lookup
    region: str = "CY"
    request_timeout: float = 2.0
    header_timeout: float = 5.0
    max_connections: int = 2000
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task] = field(default_factory=set)

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, host, port, backlog=4096)
        return self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._tasks) >= self.max_connections:
            writer.close()
            return
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (protocol.AgiError, OSError, TimeoutError) as exc:
            logger.info("agi connection ended: %s", type(exc).__name__)
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        headers = await asyncio.wait_for(protocol.read_headers(reader), self.header_timeout)
        script = headers.get("agi_network_script", "").strip("/").split("?")[0]
        if script != "lookup":
            logger.warning("agi unknown script %r channel=%s", script,
                           headers.get("agi_channel"))
            return
        budget = self.request_timeout * 0.5
        await asyncio.wait_for(lookup_script.run(
            headers, reader, writer, self.lookup, region=self.region, budget=budget),
            self.request_timeout)
