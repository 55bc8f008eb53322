"""Call control on Stasis: inbound calls to agents, click-to-call, recording and logging.

``setup(app)`` registers the API (``callcontrol.calls.api``) and a cleanup context that
creates the ARI client and :class:`CallControl` from the app's config, sessions, metrics,
bus, agent and pop services (the desk's ``setup`` must come first in the setups list), and
sets ``app[ARI_STATE]`` so ``/healthz`` reports the ARI websocket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from callcontrol.ari import AriClient
from callcontrol.calls.api import CALLS, add_routes
from callcontrol.calls.control import CallControl, CallError
from callcontrol.calls.store import RecordingStore

__all__ = ["ARI_CLIENT", "CALLS", "RECORDINGS", "CallControl", "CallError", "RecordingStore",
           "setup"]

ARI_CLIENT = web.AppKey("ari_client", AriClient)
RECORDINGS = web.AppKey("recordings", RecordingStore)


def setup(app: web.Application) -> None:
    add_routes(app)
    __import__("callcontrol.calls.pages", fromlist=["_"]).add_page_routes(app)
    app.cleanup_ctx.append(_call_control)


async def _call_control(app: web.Application) -> AsyncIterator[None]:
    from callcontrol.app import ARI_STATE, BUS, CALL_SESSIONS, CONFIG, DIRECT, METRICS
    from callcontrol.desk.keys import AGENTS, POPS

    config = app[CONFIG]
    client = AriClient(config.ari)
    store = RecordingStore(config.calls.recordings_dir)
    calls = CallControl(config, client, app[CALL_SESSIONS], app[AGENTS], app[POPS], app[BUS],
                        app[METRICS], store, direct=app[DIRECT])
    app[ARI_CLIENT] = client
    app[RECORDINGS] = store
    app[CALLS] = calls
    app[ARI_STATE] = calls
    await calls.start()
    try:
        yield
    finally:
        await calls.close()
        await client.close()
