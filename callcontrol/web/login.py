"""Sign-in and sign-out pages: argon2 passwords, limited failures, safe ``next`` redirects."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session, new_session

from callcontrol.crm.users import authenticate
from callcontrol.web.auth import SESSIONS, USER, public
from callcontrol.web.csrf import CsrfFailed, verify_csrf
from callcontrol.web.pages import render
from callcontrol.web.ratelimit import FailureLimiter, InProcessLimiter, RedisLimiter
from callcontrol.web.sessions import CSRF, USER_ID, new_csrf_token

logger = logging.getLogger(__name__)

# Per account: 5 failures, then a doubling wait. Per client address a looser limit, since
# many people may share one address (an office NAT, a reverse proxy).
USER_LIMITER = web.AppKey("login_user_limiter", InProcessLimiter)
ADDRESS_LIMITER = web.AppKey("login_address_limiter", InProcessLimiter)
# Namespace of the shared counts in Redis (tests sharing one Redis server set their own).
REDIS_PREFIX = web.AppKey("login_redis_prefix", str)
USER_FAILURES = 5
ADDRESS_FAILURES = 20
HOME = "/"
MAX_USERNAME = 64
MAX_PASSWORD = 1024


def safe_next(value: str | None) -> str:
    """``value`` if it is a path on this site, else the home page (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return HOME
    if any(ord(c) < 32 or c == "\\" for c in value):
        return HOME
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return HOME
    return value


def _keys(request: web.Request, username: str) -> tuple[str, str]:
    return username.strip().lower(), request.remote or "unknown"


async def _form(request: web.Request, *, status: int = 200, error: str | None = None,
                username: str = "", next_path: str = HOME, notice: str | None = None,
                headers: dict[str, str] | None = None) -> web.Response:
    response = await render(request, "login.html", {
        "error": error, "username": username, "next": next_path, "notice": notice,
    }, status=status)
    response.headers.update(headers or {})
    return response


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if request.get(USER) is not None:
        raise web.HTTPSeeOther(next_path)
    notice = "You have signed out." if "signed_out" in request.query else None
    return await _form(request, next_path=next_path, notice=notice)


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", ""))[:MAX_USERNAME].strip()
    password = str(form.get("password", ""))[:MAX_PASSWORD]
    next_path = safe_next(str(form.get("next", "")))
    try:
        await verify_csrf(request)
    except CsrfFailed as exc:
        return await _form(request, status=403, error=exc.message, username=username,
                           next_path=next_path)
    if not username or not password:
        return await _form(request, status=400, error="Enter your username and password.",
                           username=username, next_path=next_path)
    return await _attempt(request, username, password, next_path)


async def _attempt(request: web.Request, username: str, password: str,
                   next_path: str) -> web.StreamResponse:
    users, addresses = request.app[USER_LIMITER], request.app[ADDRESS_LIMITER]
    user_key, ip_key = _keys(request, username)
    wait = max(await users.retry_after(user_key), await addresses.retry_after(ip_key))
    if wait:
        logger.warning("sign-in refused for %r from %s: too many failures", username,
                       request.remote)
        return await _form(
            request, status=429, username=username, next_path=next_path,
            error=f"Too many failed sign-ins. Try again in {wait} seconds.",
            headers={"Retry-After": str(wait)})
    async with request.app[SESSIONS]() as db, db.begin():
        user = await authenticate(db, username, password)
    if user is None:
        await users.failed(user_key)
        await addresses.failed(ip_key)
        logger.info("failed sign-in for %r from %s", username, request.remote)
        return await _form(request, status=401, username=username, next_path=next_path,
                           error="Wrong username or password.")
    # Only the account's count is cleared: one valid account must not reset an address
    # that is guessing other accounts' passwords.
    await users.succeeded(user_key)
    session = await new_session(request)  # a fresh session: no fixation across sign-in
    session[USER_ID] = user.id
    session[CSRF] = new_csrf_token()
    logger.info("user %s signed in from %s", user.username, request.remote)
    raise web.HTTPSeeOther(next_path)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    session.invalidate()
    raise web.HTTPSeeOther("/login?signed_out=1")


async def _shared_limits(app: web.Application, *, url: str) -> AsyncIterator[None]:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    prefix = app.get(REDIS_PREFIX, "callcontrol:") + "signin-failures:"
    app[USER_LIMITER] = RedisLimiter(client, prefix + "user:", app[USER_LIMITER].local)
    app[ADDRESS_LIMITER] = RedisLimiter(client, prefix + "ip:", app[ADDRESS_LIMITER].local)
    yield
    await client.aclose()


@public
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/cc")


def setup(app: web.Application, redis_url: str | None = None) -> None:
    app[USER_LIMITER] = InProcessLimiter(FailureLimiter(limit=USER_FAILURES))
    app[ADDRESS_LIMITER] = InProcessLimiter(FailureLimiter(limit=ADDRESS_FAILURES))
    if redis_url:
        app.cleanup_ctx.append(functools.partial(_shared_limits, url=redis_url))
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", home)
