"""Editor pages opened from the contact view: contact information and a subscription."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from callcontrol.app import CONFIG
from callcontrol.cc import editing
from callcontrol.cc.actions.forms import ActionFailed
from callcontrol.cc.contact_view import load_contact
from callcontrol.cc.views.common import WRITE_ROLES, path_id, pop_notice, set_notice
from callcontrol.crm.models import AccountReceivable, Contact, Subscription
from callcontrol.crm.models import SubscriptionService as Service
from callcontrol.web.auth import SESSIONS, current_user
from callcontrol.web.pages import page, render


def _form(posted) -> dict[str, str]:
    return {k: v for k, v in posted.items() if isinstance(v, str)}


async def _contact_page(request, contact: Contact, values, errors, status=200):
    return await render(request, "cc/contact_edit.html", {
        "contact": contact, "fields": editing.contact_fields(contact), "values": values,
        "errors": errors}, status=status)


@page
async def edit_contact(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        contact = await load_contact(session, path_id(request))
    if contact is None:
        raise web.HTTPNotFound()
    values = {f.name: getattr(contact, f.name) or "" for f in editing.contact_fields(contact)
              if not f.name.startswith("new_")}
    return await _contact_page(request, contact, values, {})


@page(roles=WRITE_ROLES)
async def save_contact(request: web.Request) -> web.Response:
    contact_id = path_id(request)
    form = _form(await request.post())
    region = request.app[CONFIG].default_region
    async with request.app[SESSIONS]() as session:
        contact = await load_contact(session, contact_id)
        if contact is None:
            raise web.HTTPNotFound()
        try:
            changed = await editing.update_contact(session, current_user(request), contact,
                                                   form, region)
            await session.commit()
        except ActionFailed as exc:
            await session.rollback()
            reloaded = await load_contact(session, contact_id)
            if reloaded is None:
                raise web.HTTPNotFound() from None
            return await _contact_page(request, reloaded, form, exc.errors, 422)
    await set_notice(request, "Contact information saved" if changed else "Nothing changed")
    raise web.HTTPSeeOther(f"/cc/contacts/{contact_id}#section-info")


async def _subscription(session, sub_id: int) -> tuple[Subscription, Contact, list[Service]]:
    sub = await session.get(Subscription, sub_id)
    if sub is None:
        raise web.HTTPNotFound()
    account = await session.get(AccountReceivable, sub.account_id)
    contact = await session.get(Contact, account.contact_id) if account else None
    if contact is None:
        raise web.HTTPNotFound()
    services = list(await session.scalars(select(Service).where(
        Service.subscription_id == sub.id).order_by(Service.mandatory.desc(), Service.id)))
    return sub, contact, services


async def _subscription_page(request, session, sub_id, errors=None, values=None, status=200):
    sub, contact, services = await _subscription(session, sub_id)
    return await render(request, "cc/subscription.html", {
        "sub": sub, "contact": contact, "services": services, "errors": errors or {},
        "values": values or {}, "notice": await pop_notice(request)}, status=status)


@page
async def subscription_page(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        return await _subscription_page(request, session, path_id(request))


async def _subscription_change(request: web.Request, change, notice: str) -> web.Response:
    sub_id = path_id(request)
    form = _form(await request.post())
    async with request.app[SESSIONS]() as session:
        sub, contact, _ = await _subscription(session, sub_id)
        try:
            await change(session, current_user(request), sub, form,
                         request.app[CONFIG].default_region)
            await session.commit()
        except ActionFailed as exc:
            await session.rollback()
            return await _subscription_page(request, session, sub_id, exc.errors, form, 422)
    await set_notice(request, notice)
    raise web.HTTPSeeOther(f"/cc/subscriptions/{sub_id}")


@page(roles=WRITE_ROLES)
async def add_service(request: web.Request) -> web.Response:
    return await _subscription_change(request, editing.add_service, "Service added")


@page(roles=WRITE_ROLES)
async def bill(request: web.Request) -> web.Response:
    return await _subscription_change(request, editing.bill_subscription,
                                      "Subscription billed; the bill is in Financials")


def setup(app: web.Application) -> None:
    app.router.add_get(r"/cc/contacts/{id}/edit", edit_contact)
    app.router.add_post(r"/cc/contacts/{id}/edit", save_contact)
    app.router.add_get(r"/cc/subscriptions/{id}", subscription_page)
    app.router.add_post(r"/cc/subscriptions/{id}/services", add_service)
    app.router.add_post(r"/cc/subscriptions/{id}/bill", bill)
