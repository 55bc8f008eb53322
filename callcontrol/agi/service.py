"""Wire the FastAGI server to the CRM (called by ``callcontrol serve``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.agi.crm import CallerMatch, find_callers
from callcontrol.agi.server import AgiServer
from callcontrol.config import Config
from callcontrol.crm.fastreads import fast_reads
from callcontrol.metrics import Registry


async def start_agi_server(config: Config | Any,
                           sessions: async_sessionmaker[AsyncSession],
                           metrics: Registry | None = None) -> AgiServer:
    """Listen on config.agi.host:port; ``await server.close()`` to stop.

    ``metrics``: the app's registry (``app[METRICS]``); counts every request by outcome in
    ``callcontrol_agi_requests_total``.
    """

    reads = fast_reads(sessions)   # one statement straight on the driver, as call control

    async def lookup(e164: str) -> list[CallerMatch]:
        return await find_callers(reads, e164)

    counter = metrics.counter("callcontrol_agi_requests_total") if metrics else None
    server = AgiServer(lookup=lookup, region=config.default_region,
                       request_timeout=config.agi.request_timeout, requests=counter)
    await server.start(config.agi.host, config.agi.port)
    return server
