"""Action forms: GET shows the form, POST validates and performs (CSRF checked upstream)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from callcontrol.cc import actions
from callcontrol.cc.actions import ActionFailed, ActionForbidden, Context
from callcontrol.cc.comms import template_options
from callcontrol.cc.fields import ACTIONS
from callcontrol.cc.settings import Settings
from callcontrol.cc.views.common import load_settings, query_id, set_notice
from callcontrol.crm.models import Contact
from callcontrol.errors import Forbidden
from callcontrol.web.auth import SESSIONS, current_user
from callcontrol.web.pages import page, render

PREFILL = ("phone", "email", "first_name", "last_name", "company_name", "subject")


async def _context(request: web.Request, session, contact_id: int | None,
                   settings: Settings | None = None) -> Context:
    settings = settings or await load_settings(request)
    contact = None
    if contact_id is not None:
        contact = await session.get(Contact, contact_id)
        if contact is None:
            raise web.HTTPNotFound()
    return Context(current_user(request), contact, settings)


async def _form_page(request: web.Request, session, slug: str, ctx: Context,
                     values: Mapping[str, str], errors: dict[str, str],
                     status: int = 200, reveal: dict | None = None) -> web.Response:
    try:
        action = actions.get_action(slug, ctx)
    except ActionForbidden as exc:
        raise Forbidden(str(exc)) from None
    except ActionFailed as exc:  # a contact action without a contact
        return await render(request, "cc/action_needs_contact.html",
                            {"info": ACTIONS[slug], "message": exc.errors.get("", "")},
                            status=400)
    options = await actions.form_options(session, action, ctx)
    templates = []
    if slug == "create-communication" and ctx.contact is not None:
        templates = await template_options(session, ctx.contact)
    return await render(request, "cc/action.html", {
        "action": action, "info": ACTIONS[slug], "contact": ctx.contact, "values": values,
        "errors": errors, "options": options, "reveal": reveal, "templates": templates,
    }, status=status)


def _slug(request: web.Request) -> str:
    slug = request.match_info["slug"]
    if slug not in ACTIONS:
        raise web.HTTPNotFound()
    return slug


@page
async def action_form(request: web.Request) -> web.Response:
    slug = _slug(request)
    values = {k: request.query[k][:200] for k in PREFILL if k in request.query}
    async with request.app[SESSIONS]() as session:
        ctx = await _context(request, session, query_id(request.query.get("contact")))
        return await _form_page(request, session, slug, ctx, values, {})


@page
async def action_submit(request: web.Request) -> web.Response:
    slug = _slug(request)
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    contact_id = query_id(form.get("contact") or request.query.get("contact"))
    async with request.app[SESSIONS]() as session:
        ctx = await _context(request, session, contact_id)
        try:
            outcome = await actions.run(session, slug, ctx, form)
            await session.commit()
        except ActionForbidden as exc:
            await session.rollback()
            raise Forbidden(str(exc)) from None
        except ActionFailed as exc:
            await session.rollback()  # expires what was loaded: load the contact again
            ctx = await _context(request, session, contact_id, ctx.settings)
            return await _form_page(request, session, slug, ctx, form, exc.errors, 422)
        if outcome.reveal:
            return await _form_page(request, session, slug, ctx, {}, {}, 200, {
                "message": outcome.message, "values": outcome.reveal})
    await set_notice(request, outcome.message)
    if outcome.contact_id is None:
        raise web.HTTPSeeOther("/cc")
    anchor = f"#section-{outcome.section}" if outcome.section else ""
    raise web.HTTPSeeOther(f"/cc/contacts/{outcome.contact_id}{anchor}")


def setup(app: web.Application) -> None:
    app.router.add_get(r"/cc/actions/{slug}", action_form)
    app.router.add_post(r"/cc/actions/{slug}", action_submit)
