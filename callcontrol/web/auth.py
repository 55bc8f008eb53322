"""Authentication and authorisation: the session cookie or a bearer token.

``auth_middleware`` puts the user (or None) on every request. Without a user, routes
under /api/ answer 401 JSON and pages redirect to ``/login?next=...``, unless the
handler is marked ``@public`` (or the path is a static file). Handlers then call
``current_user`` / ``require_role`` or use ``@requires`` (API) / ``pages.page`` (pages).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from aiohttp_session import STORAGE_KEY, get_session
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callcontrol.crm.models import User
from callcontrol.crm.users import user_for_token
from callcontrol.errors import Forbidden, Unauthorized

SESSIONS = web.AppKey("sessions", async_sessionmaker[AsyncSession])
USER = web.RequestKey("user", object)
# How the request was authenticated: "session", "bearer" or None (CSRF applies to "session").
AUTH_VIA = web.RequestKey("auth_via", object)
LOGIN_PATH = "/login"
PUBLIC_PREFIXES = ("/static/",)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def public(handler: Handler) -> Handler:
    handler.__callcontrol_public__ = True  # type: ignore[attr-defined]
    return handler


def _is_public(request: web.Request) -> bool:
    if request.path.startswith(PUBLIC_PREFIXES):
        return True
    handler = request.match_info.handler
    return bool(getattr(handler, "__callcontrol_public__", False))


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def _token_user(request: web.Request, token: str) -> User | None:
    async with request.app[SESSIONS]() as session, session.begin():
        return await user_for_token(session, token)


async def _session_user(request: web.Request) -> User | None:
    if request.get(STORAGE_KEY) is None:  # no session middleware (a bare test app)
        return None
    session = await get_session(request)
    user_id = session.get("uid")
    if not isinstance(user_id, int):
        return None
    async with request.app[SESSIONS]() as db:
        user = await db.get(User, user_id)
    if user is None or not user.active:
        session.invalidate()
        return None
    return user


async def user_from_request(request: web.Request) -> User | None:
    """The user behind a bearer token or, without one, the session cookie; None if neither.

    For the websocket handshake: pair it with ``csrf.check_origin`` for cookie users.
    """
    token = _bearer(request)
    if token is not None:
        return await _token_user(request, token)
    return await _session_user(request)


def login_url(next_path: str) -> str:
    return f"{LOGIN_PATH}?{urlencode({'next': next_path})}"


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(PUBLIC_PREFIXES):  # no database round trip per stylesheet
        request[USER], request[AUTH_VIA] = None, None
        return await handler(request)
    token = _bearer(request)
    if token is not None:
        user = await _token_user(request, token)
        if user is None:
            raise Unauthorized("invalid or expired API token")
        request[USER], request[AUTH_VIA] = user, "bearer"
    else:
        user = await _session_user(request)
        request[USER], request[AUTH_VIA] = user, ("session" if user else None)
    if user is None and not _is_public(request):
        if request.path.startswith("/api/"):
            raise Unauthorized("authentication required")
        if request.match_info.http_exception is None:  # unknown paths stay 404
            _to_sign_in(request)
    return await handler(request)


def _to_sign_in(request: web.Request) -> None:
    if request.headers.get("HX-Request") == "true":
        # An htmx fragment must not swap the sign-in page into the page: send the whole
        # tab there, and back to the page it was on afterwards.
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back = page.path + (f"?{page.query}" if page.query else "") if page.path else "/"
        raise web.HTTPUnauthorized(headers={"HX-Redirect": login_url(back)})
    raise web.HTTPSeeOther(login_url(request.path_qs))


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
