"""Security headers on every response. The CSP allows only self: no inline scripts or
styles and no eval, which is why the UI uses Alpine's CSP build and htmx with eval off.
HSTS is added when the request came over https (directly or via a proxy that says so)."""

from __future__ import annotations

from aiohttp import web

from callcontrol.web.auth import Handler
from callcontrol.web.sessions import is_https

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = {"Strict-Transport-Security": "max-age=31536000"}


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    headers = {**HEADERS, **HSTS} if is_https(request) else HEADERS
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.update(headers)
        raise
    response.headers.update(headers)
    return response
