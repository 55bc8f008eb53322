"""Build the aiohttp application: typed AppKeys, one cleanup_ctx per resource, domains.

Middlewares, outermost first: security headers, request counting, JSON errors for /api/,
HTML error pages, the session cookie, authentication (cookie or bearer), CSRF.
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
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcontrol.bus import Bus, create_bus
from callcontrol.config import Config
from callcontrol.crm import db as crm_db
from callcontrol.crm.direct import Direct, open_direct
from callcontrol.errors import api_error_middleware
from callcontrol.metrics import CONTENT_TYPE, Registry, product_registry
from callcontrol.web import login
from callcontrol.web.auth import SESSIONS, auth_middleware, public
from callcontrol.web.csrf import ALLOWED_ORIGINS, csrf_middleware
from callcontrol.web.errorpages import html_error_pages
from callcontrol.web.headers import security_headers
from callcontrol.web.sessions import sessions_middleware
from callcontrol.web.templating import setup_templates

logger = logging.getLogger(__name__)
CHECK_TIMEOUT = 2.0


class AriState(Protocol):
    @property
    def connected(self) -> bool: ...


CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", AsyncEngine)
METRICS = web.AppKey("metrics", Registry)
ARI_STATE = web.AppKey("ari_state", object)
BUS = web.AppKey("bus", Bus)
# the sessions of the call path (call control, agent service): see crm.db._check_quietly
CALL_SESSIONS = web.AppKey("call_sessions", async_sessionmaker[AsyncSession])
DIRECT = web.AppKey("direct", Direct)
STATE_DIRECT = web.AppKey("state_direct", Direct)

Setup = Callable[[web.Application], None]
DOMAINS: list[Setup] = []


async def _database(app: web.Application) -> AsyncIterator[None]:
    engine = crm_db.create_engine(app[CONFIG].database_url)
    app[ENGINE] = engine
    app[SESSIONS] = crm_db.session_factory(engine)
    # PostgreSQL: call control and the agent service get their own pool, checked without a
    # round trip per checkout (they retry a dropped connection); SQLite: the same engine
    # (one writer per file)
    hot = engine if engine.dialect.name != "postgresql" else \
        crm_db.create_engine(app[CONFIG].database_url, call_path=True)
    app[CALL_SESSIONS] = crm_db.session_factory(hot)
    # the call path's hottest statements (agent transitions, journal) skip SQLAlchemy
    app[DIRECT] = open_direct(app[CONFIG].database_url)
    # agent states: atomic and shared at once, not waiting for the disk (Direct.relaxed)
    app[STATE_DIRECT] = app[DIRECT].relaxed()
    yield
    if app[STATE_DIRECT] is not app[DIRECT]:
        await app[STATE_DIRECT].close()
    await app[DIRECT].close()
    if hot is not engine:
        await hot.dispose()
    await engine.dispose()


async def _bus(app: web.Application) -> AsyncIterator[None]:
    app[BUS] = create_bus(app[CONFIG].redis_url)
    yield
    await app[BUS].close()


async def _check_bus(app: web.Application) -> dict[str, object]:
    if not app[CONFIG].redis_url:
        return {"ok": True, "mode": "in-process"}
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            ok = await app[BUS].ping()
        return {"ok": bool(ok), "mode": "redis"}
    except Exception as exc:  # any failure means unreachable; the type is enough detail
        return {"ok": False, "mode": "redis", "error": type(exc).__name__}


def _check_ari(app: web.Application) -> tuple[dict[str, object], bool]:
    """The ARI check and whether it is healthy; without an ARI part it is not counted."""
    ari = app.get(ARI_STATE)
    if ari is None:
        return {"configured": False}, True
    connected = bool(getattr(ari, "connected", False))
    return {"configured": True, "connected": connected}, connected


async def _check_database(engine: AsyncEngine) -> dict[str, object]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        return {"ok": True}
    except Exception as exc:  # any failure means unreachable; the type is enough detail
        return {"ok": False, "error": type(exc).__name__}


@public
async def healthz(request: web.Request) -> web.Response:
    app = request.app
    database, redis = await asyncio.gather(_check_database(app[ENGINE]), _check_bus(app))
    ari, ari_ok = _check_ari(app)
    checks = {"database": database, "redis": redis, "ari": ari}
    ok = bool(database["ok"] and redis["ok"] and ari_ok)
    body = {"status": "ok" if ok else "degraded", "checks": checks}
    return web.json_response(body, status=200 if ok else 503)


@public
async def metrics(request: web.Request) -> web.Response:
    registry = request.app[METRICS]
    return web.Response(body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})


@web.middleware
async def count_requests(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # redirects are raised
        _count(request, exc.status)
        raise
    _count(request, response.status)
    return response


def _count(request: web.Request, status: int) -> None:
    request.app[METRICS].counter("callcontrol_http_requests_total").inc(
        method=request.method, status=str(status))


def build_app(config: Config, *, ari_state: object | None = None,
              setups: Sequence[Setup] = ()) -> web.Application:
    middlewares = [
        security_headers, count_requests, api_error_middleware, html_error_pages,
        sessions_middleware(config.secret_key), auth_middleware, csrf_middleware,
    ]
    app = web.Application(middlewares=middlewares)
    app[CONFIG] = config
    app[METRICS] = product_registry()
    app[ALLOWED_ORIGINS] = config.http.allowed_origins
    if ari_state is not None:
        app[ARI_STATE] = ari_state
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_bus)
    setup_templates(app)
    login.setup(app, redis_url=config.redis_url)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    for setup in (*DOMAINS, *setups):
        setup(app)
    return app
