"""What every page handler uses: ``render`` (user, CSRF token, navigation) and ``@page``.

    @page(roles=("supervisor", "admin"))
    async def definitions(request):
        return await render(request, "cc/definitions.html", {"rows": rows})

Templates extend ``base.html`` and fill the blocks ``title``, ``head``, ``content`` and
``scripts``. Forms carry ``{% include "partials/csrf.html" %}``; htmx requests get the
header from ``app.js``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import SESSION_KEY

from callcontrol.crm.models import User
from callcontrol.web.auth import USER, Handler, current_user, require_role
from callcontrol.web.sessions import CSRF, csrf_token, pop_flashes


@dataclass(frozen=True, slots=True)
class NavItem:
    label: str
    href: str
    roles: tuple[str, ...] | None = None  # None: every signed-in user

    def allows(self, user: User) -> bool:
        return self.roles is None or user.role in self.roles


NAV: tuple[NavItem, ...] = (
    NavItem("Communication Centre", "/cc"),
    NavItem("Definitions", "/cc/definitions", ("supervisor", "admin")),
    NavItem("Dialplan", "/dialplan", ("engineer", "admin")),
)


# Links a domain adds for its own pages (``add_nav``), after the built-in ones.
EXTRA_NAV = web.AppKey("extra_nav", list)


def add_nav(app: web.Application, item: NavItem) -> None:
    """Add a top-bar link, e.g. ``add_nav(app, NavItem("Simulate a call", "/demo"))``."""
    app.setdefault(EXTRA_NAV, []).append(item)


def _under(path: str, href: str) -> bool:
    return path == href or path.startswith(href.rstrip("/") + "/")


def nav_for(user: User | None, path: str, items: Iterable[NavItem] = NAV) -> list[dict]:
    """The links ``user`` may follow, the one for ``path`` (longest match) marked current."""
    if user is None:
        return []
    allowed = [item for item in items if item.allows(user)]
    matching = [item for item in allowed if _under(path, item.href)]
    current = max(matching, key=lambda item: len(item.href), default=None)
    return [{"label": i.label, "href": i.href, "current": i is current} for i in allowed]


def base_context(request: web.Request, token: str) -> dict[str, Any]:
    user = request.get(USER)
    items = (*NAV, *request.app.get(EXTRA_NAV, ()))
    return {"user": user, "csrf_token": token, "nav": nav_for(user, request.path, items),
            "request": request}


async def render(request: web.Request, template: str, context: dict[str, Any] | None = None,
                 *, status: int = 200) -> web.Response:
    """Render ``template`` with ``user``, ``csrf_token`` and ``nav`` added to ``context``."""
    ctx = base_context(request, await csrf_token(request))
    ctx["flashes"] = await pop_flashes(request)
    ctx.update(context or {})
    response = aiohttp_jinja2.render_template(template, request, ctx, status=status)
    response.headers["Cache-Control"] = "no-store"  # pages show personal data
    return response


def render_outside_session(request: web.Request, template: str, context: dict[str, Any],
                           *, status: int) -> web.Response:
    """For error pages rendered after the session middleware has finished: never writes."""
    session = request.get(SESSION_KEY)
    token = session.get(CSRF, "") if session is not None else ""
    ctx = base_context(request, token)
    ctx.update(context)
    return aiohttp_jinja2.render_template(template, request, ctx, status=status)


def page(handler: Handler | None = None, *, roles: Iterable[str] | None = None):
    """Mark a page handler: a signed-in user is required, with one of ``roles`` if given.

    Without a user the auth middleware has already redirected to the sign-in page; a user
    without the role gets the 403 page.
    """
    allowed = tuple(roles) if roles is not None else None

    def wrap(inner: Handler) -> Handler:
        @functools.wraps(inner)
        async def checked(request: web.Request) -> web.StreamResponse:
            if allowed is None:
                current_user(request)
            else:
                require_role(request, *allowed)
            return await inner(request)
        return checked

    return wrap(handler) if handler is not None else wrap

