"""Wire the FastAGI server to the real CRM look-up (called by ``callcontrol serve``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.agi.server import AgiServer
from callcontrol.config import Config
from callcontrol.crm.lookup import ContactMatch, find_contacts_by_phone
from callcontrol.metrics import Registry

MAX_MATCHES = 10


async def start_agi_server(config: Config | Any,
                           sessions: async_sessionmaker[AsyncSession],
                           metrics: Registry | None = None) -> AgiServer:
    """Listen on config.agi.host:port; ``await server.close()`` to stop.

    ``metrics``: the app's registry (``app[METRICS]``); counts every request by outcome in
    ``callcontrol_agi_requests_total``.
    """

    async def lookup(e164: str) -> list[ContactMatch]:
        async with sessions() as session:
            return await find_contacts_by_phone(session, e164, limit=MAX_MATCHES)

    counter = metrics.counter("callcontrol_agi_requests_total") if metrics else None
    server = AgiServer(lookup=lookup, region=config.default_region,
                       request_timeout=config.agi.request_timeout, requests=counter)
    await server.start(config.agi.host, config.agi.port)
    return server
