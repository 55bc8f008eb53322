"""Wire the FastAGI server to the CRM (called by ``callcontrol serve``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.agi.crm import CallerMatch, find_callers
from callcontrol.agi.server import AgiServer
from callcontrol.config import Config
from callcontrol.crm.db import reading
from callcontrol.metrics import Registry


async def start_agi_server(config: Config | Any,
                           sessions: async_sessionmaker[AsyncSession],
                           metrics: Registry | None = None) -> AgiServer:
    """Listen on config.agi.host:port; ``await server.close()`` to stop.

    ``metrics``: the app's registry (``app[METRICS]``); counts every request by outcome in
    ``callcontrol_agi_requests_total``.
    """

    reads = reading(sessions)   # one statement: no transaction around it on PostgreSQL

    async def lookup(e164: str) -> list[CallerMatch]:
        async with reads() as session:
            return await find_callers(session, e164)

    counter = metrics.counter("callcontrol_agi_requests_total") if metrics else None
    server = AgiServer(lookup=lookup, region=config.default_region,
                       request_timeout=config.agi.request_timeout, requests=counter)
    await server.start(config.agi.host, config.agi.port)
    return server
