"""Wire the FastAGI server to the real CRM look-up (called by ``callcontrol serve``)."""

from __future__ import annotations

from typing import Any

from callcontrol.agi.server import AgiServer
from callcontrol.crm.lookup import ContactMatch, find_contacts_by_phone


async def start_agi_server(config: Any, sessions: Any) -> AgiServer:
    """Start listening on config.agi.host:port; ``await server.close()`` to stop."""

    async def lookup(e164: str) -> list[ContactMatch]:
        async with sessions() as session:
            return await find_contacts_by_phone(session, e164, limit=10)

    server = AgiServer(lookup=lookup, region=config.default_region,
                       request_timeout=config.agi.request_timeout)
    await server.start(config.agi.host, config.agi.port)
    return server
