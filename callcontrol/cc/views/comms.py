"""Communication pages: edit a draft, save (complete), follow up, listen to the recording,
fill from a template; templates for supervisors and administrators."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from callcontrol.app import CONFIG
from callcontrol.cc import comms
from callcontrol.cc.actions.forms import ActionFailed
from callcontrol.cc.views.common import (
    WRITE_ROLES,
    path_id,
    pop_notice,
    query_id,
    set_notice,
)
from callcontrol.crm.models import Communication, CommunicationTemplate, Contact
from callcontrol.web.auth import SESSIONS, current_user
from callcontrol.web.pages import page, render

TEMPLATE_ROLES = ("supervisor", "admin")


async def _load(session, comm_id: int) -> tuple[Communication, Contact | None, list]:
    comm = await session.get(Communication, comm_id)
    if comm is None:
        raise web.HTTPNotFound()
    contact = await session.get(Contact, comm.contact_id) if comm.contact_id else None
    follow_ups = list(await session.scalars(select(Communication).where(
        Communication.parent_id == comm.id).order_by(Communication.id)))
    return comm, contact, follow_ups


async def _page(request, session, comm_id, values=None, errors=None, status=200):
    comm, contact, follow_ups = await _load(session, comm_id)
    directory = request.app[CONFIG].calls.recordings_dir
    return await render(request, "cc/communication.html", {
        "comm": comm, "contact": contact, "follow_ups": follow_ups, "errors": errors or {},
        "values": values or {f.name: getattr(comm, f.name) or "" for f in comms.EDIT_FIELDS},
        "fields": comms.EDIT_FIELDS, "notice": await pop_notice(request),
        "has_recording": comms.recording_path(directory, comm.recording) is not None,
    }, status=status)


@page
async def edit(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        return await _page(request, session, path_id(request))


@page(roles=WRITE_ROLES)
async def save(request: web.Request) -> web.Response:
    comm_id = path_id(request)
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    complete = form.get("submit") == "complete"
    async with request.app[SESSIONS]() as session:
        comm, _, _ = await _load(session, comm_id)
        try:
            await comms.update(session, current_user(request), comm, form, complete,
                               request.app[CONFIG].default_region)
            await session.commit()
        except ActionFailed as exc:
            await session.rollback()
            return await _page(request, session, comm_id, form, exc.errors, 422)
    await set_notice(request, "Communication saved" if complete else "Draft saved")
    raise web.HTTPSeeOther(f"/cc/communications/{comm_id}")


@page(roles=WRITE_ROLES)
async def follow_up(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        comm, _, _ = await _load(session, path_id(request))
        row = await comms.follow_up(session, current_user(request), comm)
        await session.commit()
    await set_notice(request, "Follow-up created; it is a draft until you save it")
    raise web.HTTPSeeOther(f"/cc/communications/{row.id}")


@page
async def recording(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        comm, _, _ = await _load(session, path_id(request))
    path = comms.recording_path(request.app[CONFIG].calls.recordings_dir, comm.recording)
    if path is None:
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Content-Type": "audio/wav"})


@page
async def fill(request: web.Request) -> web.Response:
    """Out-of-band swaps of the subject and content fields (htmx), or the problem."""
    contact_id = query_id(request.query.get("contact"))
    async with request.app[SESSIONS]() as session:
        contact = await session.get(Contact, contact_id) if contact_id else None
        if contact is None:
            raise web.HTTPNotFound()
        try:
            filled = await comms.fill_from_template(session, request.query.get("template", ""),
                                                    contact)
            error = None
        except ActionFailed as exc:
            filled, error = None, exc.errors.get("template", "the template cannot be used")
    return await render(request, "cc/_template_fill.html", {"filled": filled, "error": error})


@page(roles=TEMPLATE_ROLES)
async def templates(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        rows = list(await session.scalars(select(CommunicationTemplate)
                                          .order_by(CommunicationTemplate.name)))
    return await render(request, "cc/templates.html", {
        "rows": rows, "notice": await pop_notice(request)})


async def _template_page(request, row, values, errors, status=200):
    return await render(request, "cc/template_form.html", {
        "row": row, "values": values, "errors": errors, "fields": comms.TEMPLATE_FIELDS,
        "tags": comms.TAG_HELP}, status=status)


@page(roles=TEMPLATE_ROLES)
async def template_form(request: web.Request) -> web.Response:
    row = None
    if "id" in request.match_info:
        async with request.app[SESSIONS]() as session:
            row = await session.get(CommunicationTemplate, path_id(request))
        if row is None:
            raise web.HTTPNotFound()
    values = {f.name: getattr(row, f.name) for f in comms.TEMPLATE_FIELDS} if row else {}
    return await _template_page(request, row, values, {})


@page(roles=TEMPLATE_ROLES)
async def template_save(request: web.Request) -> web.Response:
    template_id = path_id(request) if "id" in request.match_info else None
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    async with request.app[SESSIONS]() as session:
        try:
            await comms.save_template(session, current_user(request), form, template_id,
                                      request.app[CONFIG].default_region)
            await session.commit()
        except LookupError:
            raise web.HTTPNotFound() from None
        except ActionFailed as exc:
            await session.rollback()
            return await _template_page(request, None, form, exc.errors, 422)
    await set_notice(request, "Template saved")
    raise web.HTTPSeeOther("/cc/templates")


def setup(app: web.Application) -> None:
    app.router.add_get("/cc/communications/fill", fill)
    app.router.add_get(r"/cc/communications/{id:\d+}", edit)
    app.router.add_post(r"/cc/communications/{id:\d+}", save)
    app.router.add_post(r"/cc/communications/{id:\d+}/follow-up", follow_up)
    app.router.add_get(r"/cc/communications/{id:\d+}/recording", recording)
    app.router.add_get("/cc/templates", templates)
    app.router.add_get("/cc/templates/new", template_form)
    app.router.add_post("/cc/templates/new", template_save)
    app.router.add_get(r"/cc/templates/{id:\d+}", template_form)
    app.router.add_post(r"/cc/templates/{id:\d+}", template_save)
