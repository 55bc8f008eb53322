"""Authentication and authorisation for handlers: bearer tokens now, session cookie later.

Every route under /api/ is denied without a user unless its handler is marked public
with ``@public``; handlers then call ``current_user`` / ``require_role``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.crm.models import User
from callcontrol.crm.users import user_for_token
from callcontrol.errors import Forbidden, Unauthorized

SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
USER = web.RequestKey("user", object)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def public(handler: Handler) -> Handler:
    handler.__callcontrol_public__ = True  # type: ignore[attr-defined]
    return handler


def _is_public(request: web.Request) -> bool:
    handler = request.match_info.handler
    return bool(getattr(handler, "__callcontrol_public__", False))


async def _bearer_user(request: web.Request) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    async with request.app[SESSIONS]() as session:
        user = await user_for_token(session, token.strip())
    if user is None:
        raise Unauthorized("invalid or expired API token")
    return user


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[USER] = await _bearer_user(request)
    if request.path.startswith("/api/") and request[USER] is None and not _is_public(request):
        raise Unauthorized("authentication required")
    return await handler(request)


def current_user(request: web.Request) -> User:
    user = request.get(USER)
    if user is None:
        raise Unauthorized("authentication required")
    return user


def require_role(request: web.Request, *roles: str) -> User:
    user = current_user(request)
    if user.role not in roles:
        raise Forbidden(f"this needs one of the roles: {', '.join(roles)}")
    return user


def requires(*roles: str) -> Callable[[Handler], Handler]:
    def wrap(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            require_role(request, *roles)
            return await handler(request)
        return checked
    return wrap
