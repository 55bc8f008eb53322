"""Error pages for browsers: 4xx/5xx outside /api/ render a template, /api/ stays JSON.

Sits inside ``api_error_middleware`` so that an ApiError raised by a page handler (a
Forbidden from ``@page(roles=...)``) becomes the 403 page rather than JSON.
"""

from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from callcontrol.errors import ApiError
from callcontrol.web.auth import Handler
from callcontrol.web.pages import render_outside_session

logger = logging.getLogger(__name__)

TITLES = {
    400: "Bad request", 401: "Sign-in required", 403: "Not allowed", 404: "Page not found",
    405: "Method not allowed", 413: "Too large", 429: "Too many requests",
    500: "Something went wrong", 503: "Service unavailable",
}
# Headers of an HTTP error that still mean something on the rendered page.
KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate", "HX-Redirect")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    context = {"status": status, "title": TITLES.get(status, "Error"), "message": message}
    env = aiohttp_jinja2.get_env(request.app)
    name = env.select_template([f"errors/{status}.html", "errors/error.html"]).name
    return render_outside_session(request, name or "errors/error.html", context, status=status)


@web.middleware
async def html_error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as exc:
        return error_page(request, exc.status, exc.message)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        page = error_page(request, exc.status, _http_message(exc))
        page.headers.update({k: v for k, v in exc.headers.items() if k in KEPT_HEADERS})
        return page
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_page(request, 500, "The error has been logged. Please try again.")


def _http_message(exc: web.HTTPException) -> str:
    # A handler's own plain-text explanation (raise HTTPBadRequest(text=...)) is kept.
    text = (exc.text or "").strip()
    if text and text != f"{exc.status}: {exc.reason}" and exc.content_type == "text/plain":
        return text[:500]
    if exc.status == 404:
        return "There is no page at this address."
    if exc.status == 405:
        return "This address does not accept that kind of request."
    return exc.reason or "error"
