"""Build the aiohttp application: typed AppKeys, one cleanup_ctx per resource, domains.

Work in progress: sign-in, sessions, CSRF and the auth middleware are not wired yet.
Domains register themselves by appending a ``setup(app)`` callable to ``DOMAINS``
(or passing ``setups=`` to ``build_app``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Protocol

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callcontrol.config import Config
from callcontrol.crm import db as crm_db
from callcontrol.errors import api_error_middleware
from callcontrol.metrics import CONTENT_TYPE, Registry, product_registry
from callcontrol.web.auth import SESSIONS, auth_middleware
from callcontrol.web.headers import security_headers

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0


class AriState(Protocol):
    @property
    def connected(self) -> bool: ...


CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", AsyncEngine)
METRICS = web.AppKey("metrics", Registry)
ARI_STATE = web.AppKey("ari_state", object)

Setup = Callable[[web.Application], None]
DOMAINS: list[Setup] = []


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = crm_db.create_engine(app[CONFIG].database_url)
    app[ENGINE] = engine
    app[SESSIONS] = crm_db.session_factory(engine)
    yield
    await engine.dispose()


async def _check_database(engine: AsyncEngine) -> dict[str, object]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:  # any failure means unreachable; the type is enough detail
        return {"ok": False, "error": type(exc).__name__}


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database = await _check_database(app[ENGINE])
    ari = app.get(ARI_STATE)
    connected = bool(getattr(ari, "connected", False))
    checks = {"database": database, "redis": "not configured", "ari": {"connected": connected}}
    ok = database["ok"] and connected
    body = {"status": "ok" if ok else "degraded", "checks": checks}
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    return web.Response(body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})


@web.middleware
async def count_requests(request: web.Request, handler):
    response = await handler(request)
    request.app[METRICS].counter("callcontrol_http_requests_total").inc(
        method=request.method, status=str(response.status))
    return response


def build_app(config: Config, *, ari_state: object | None = None,
              setups: Sequence[Setup] = ()) -> web.Application:
    middlewares = [security_headers, api_error_middleware, count_requests, auth_middleware]
    app = web.Application(middlewares=middlewares)
    app[CONFIG] = config
    app[METRICS] = product_registry()
    if ari_state is not None:
        app[ARI_STATE] = ari_state
    app.cleanup_ctx.append(_database)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for setup in (*DOMAINS, *setups):
        setup(app)
    return app
