"""The contact view: header, call banner, the action panel and lazily loaded sections."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from callcontrol.cc import contact_view
from callcontrol.cc.actions import Context, available
from callcontrol.cc.fields import ACTIONS
from callcontrol.cc.views.common import path_id, pop_notice, settings_in
from callcontrol.crm.models import Communication
from callcontrol.crm.states import LIFECYCLES
from callcontrol.web.auth import SESSIONS, current_user
from callcontrol.web.pages import page, render

SECTION_TITLES = {
    "info": "Contact information", "subscriptions": "Subscriptions",
    "financials": "Financials", "work": "Jobs and service requests",
    "customer": "Customer management", "rewards": "Rewards",
}
MAX_CALL_ID = 64


async def _call(session, call_id: str | None) -> dict | None:
    if not call_id:
        return None
    if len(call_id) > MAX_CALL_ID:
        raise web.HTTPBadRequest(reason="the call id is too long")
    found = await session.scalar(select(Communication).where(Communication.call_id == call_id)
                                 .order_by(Communication.id.desc()).limit(1))
    return {"id": call_id, "communication": found}


@page
async def contact_page(request: web.Request) -> web.Response:
    contact_id = path_id(request)
    async with request.app[SESSIONS]() as session, session.begin():  # one transaction
        settings = await settings_in(request, session)
        contact = await contact_view.load_contact(session, contact_id)
        if contact is None:
            raise web.HTTPNotFound()
        info = await contact_view.info_section(session, contact_id, settings.section_limit)
        call = await _call(session, request.query.get("call"))
    ctx = Context(current_user(request), contact, settings)
    return await render(request, "cc/contact.html", {
        "contact": contact, "info": info, "call": call, "settings": settings,
        "titles": SECTION_TITLES, "lazy": contact_view.SECTIONS[1:],
        "actions": [ACTIONS[a] for a in available(ctx)], "notice": await pop_notice(request),
        "limit": settings.section_limit,
    })


@page
async def section_fragment(request: web.Request) -> web.Response:
    contact_id = path_id(request)
    name = request.match_info["name"]
    if name not in contact_view.SECTIONS:
        raise web.HTTPNotFound()
    # One session and transaction for the settings, the contact and the section: each
    # checkout (with its ping on PostgreSQL) and commit is a round trip more.
    async with request.app[SESSIONS]() as session, session.begin():
        settings = await settings_in(request, session)
        if name == "info":  # the only section that shows the contact's own rows
            contact = await contact_view.load_contact(session, contact_id)
            found = contact is not None
        else:
            contact, found = None, await contact_view.contact_exists(session, contact_id)
        if not found:
            raise web.HTTPNotFound()
        data = await contact_view.section(session, name, contact_id, settings.section_limit)
    return await render(request, f"cc/sections/{name}.html", {
        "contact": contact, "data": data, "name": name, "title": SECTION_TITLES[name],
        "lifecycles": LIFECYCLES, "limit": settings.section_limit,
    })


@page
async def lazy_sections(request: web.Request) -> web.Response:
    """Every lazy section of the page in one response, for htmx to swap each into its place
    (out of band). The page loads them all at once anyway: five requests cost five times
    the authentication, the settings, a session and its commit, and five responses."""
    contact_id = path_id(request)
    async with request.app[SESSIONS]() as session, session.begin():
        settings = await settings_in(request, session)
        if not await contact_view.contact_exists(session, contact_id):
            raise web.HTTPNotFound()
        parts = [(name, await contact_view.section(session, name, contact_id,
                                                   settings.section_limit))
                 for name in contact_view.SECTIONS[1:]]
    return await render(request, "cc/sections/_lazy.html", {
        "parts": parts, "lifecycles": LIFECYCLES, "limit": settings.section_limit,
    })


def setup(app: web.Application) -> None:
    app.router.add_get(r"/cc/contacts/{id}", contact_page)
    app.router.add_get(r"/cc/contacts/{id}/sections", lazy_sections)
    app.router.add_get(r"/cc/contacts/{id}/sections/{name}", section_fragment)
