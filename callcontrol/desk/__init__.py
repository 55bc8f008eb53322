"""The agent desktop link: screen pops, the agent websocket, agent REST, the CTI listener.

``setup(app)`` (pass it to ``build_app(setups=[...])``) registers the routes and a
cleanup context that creates the ``AgentService`` and ``PopService`` from the app's
config, bus and database; call control fetches them with ``app[AGENTS]`` / ``app[POPS]``
(``callcontrol.desk.keys``). It must run after the app's database and bus contexts, which
``build_app`` installs before any domain's setup.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator

from aiohttp import web

from callcontrol.desk.keys import AGENTS, POPS

__all__ = ["AGENTS", "POPS", "REDIS_PREFIX", "setup"]

# Namespace for the desk's Redis keys (active pops); tests and shared Redis servers set it.
REDIS_PREFIX = web.AppKey("desk_redis_prefix", str)


async def _services(app: web.Application) -> AsyncIterator[None]:
    from callcontrol.agents.service import AgentService
    from callcontrol.app import BUS, CONFIG, METRICS, STATE_DIRECT
    from callcontrol.desk.cti import LISTENER, CtiListener
    from callcontrol.desk.pops import MemoryPopStore, PopService, RedisPopStore
    from callcontrol.web.auth import SESSIONS

    config = app[CONFIG]
    agents = AgentService(app[SESSIONS], app[BUS], metrics=app.get(METRICS),
                          wrapup_seconds=config.calls.wrapup_seconds,
                          direct=app[STATE_DIRECT])
    prefix = app.get(REDIS_PREFIX, "callcontrol:") + "pops:"
    store = RedisPopStore(config.redis_url, prefix=prefix) if config.redis_url \
        else MemoryPopStore()
    pops = PopService(app[BUS], store, metrics=app.get(METRICS))
    app[AGENTS], app[POPS] = agents, pops
    app[LISTENER] = CtiListener(app)
    await agents.start()
    try:
        yield
    finally:
        await agents.close()
        await pops.close()


def setup(app: web.Application) -> None:
    import aiohttp_jinja2

    from callcontrol.desk import cti, http, ws

    env = aiohttp_jinja2.get_env(app) if aiohttp_jinja2.APP_KEY in app else None
    if env is not None:  # the top bar's telephone and pop dialogs (desk/topbar.html)
        env.globals["desk_enabled"] = True
    app[ws.SOCKETS] = weakref.WeakSet()
    app.cleanup_ctx.append(_services)
    app.on_shutdown.append(ws.close_all)
    app.router.add_get("/api/v1/ws", ws.websocket)
    app.router.add_post("/api/v1/cti/events", cti.events)
    http.add_routes(app)
