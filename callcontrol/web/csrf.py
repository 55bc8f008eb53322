"""Cross-site protections: CSRF tokens for cookie-authenticated writes, Origin checks.

Every non-GET request authenticated by the session cookie must carry the session's token,
as the form field ``csrf_token`` or the header ``X-CSRF-Token`` (htmx sends the header on
every request, see ``webui/static/app.js``). Bearer-token requests are exempt: a browser
never attaches an Authorization header cross-site on its own.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp_session import get_session

from callcontrol.errors import Forbidden
from callcontrol.web.auth import AUTH_VIA, Handler
from callcontrol.web.sessions import CSRF

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
ALLOWED_ORIGINS = web.AppKey("allowed_origins", tuple)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class CsrfFailed(Forbidden):
    error_id = "csrf-failed"


async def submitted_token(request: web.Request) -> str:
    token = request.headers.get(HEADER, "")
    if not token and request.content_type in FORM_TYPES:
        form = await request.post()  # cached: the handler reads the same form again
        value = form.get(FIELD, "")
        token = value if isinstance(value, str) else ""
    return token


async def verify_csrf(request: web.Request) -> None:
    """Raise CsrfFailed unless the request carries this session's token."""
    expected = (await get_session(request)).get(CSRF) or ""
    given = await submitted_token(request)
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise CsrfFailed(
            "the form's security token is missing or out of date; reload the page and try again"
        )


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method not in SAFE_METHODS and request.get(AUTH_VIA) == "session":
        await verify_csrf(request)
    return await handler(request)


def _origin_of(url: str) -> tuple[str, str] | None:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return parts.scheme, parts.netloc.lower()


def check_origin(request: web.Request, allowed: tuple[str, ...] = ()) -> bool:
    """Whether the request's Origin is this server or one of ``allowed`` origins.

    ``allowed`` defaults to the app's ``ALLOWED_ORIGINS`` (``config.http.allowed_origins``).
    A request without an Origin header did not come from a cross-site page (browsers send
    it on every websocket handshake and cross-site POST), so it passes.
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parsed = _origin_of(origin)
    if parsed is None:
        return False
    if parsed[1] == request.host.lower():
        return True
    if not allowed:
        allowed = request.app.get(ALLOWED_ORIGINS, ())
    return any(_origin_of(a) == parsed for a in allowed)
