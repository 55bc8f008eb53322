"""Definition pages for supervisors and administrators: list, create, edit, (de)activate."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcontrol.app import CONFIG
from callcontrol.cc import definitions as defs
from callcontrol.cc.fields import ACTIONS, ENTITIES, FIELDS
from callcontrol.cc.views.common import path_id, pop_notice, set_notice
from callcontrol.crm.models import CommunicationCentreDefinition as Definition
from callcontrol.web.auth import SESSIONS, current_user
from callcontrol.web.pages import page, render
from callcontrol.web.secrets import SecretBox, mask

ROLES = ("supervisor", "admin")


def _box(request: web.Request) -> SecretBox:
    return SecretBox(request.app[CONFIG].secret_key)


def _form_values(d: Definition | None) -> dict[str, Any]:
    """The form's fields from a stored (or the default) definition."""
    source: Any = d if d is not None else Definition(**defs.default_values())
    values: dict[str, Any] = {
        "name": "" if d is None else source.name,
        "number_of_records": source.number_of_records or "",
        "default_search_operator": source.default_search_operator,
        "communications_limit": source.communications_limit or "",
        "cti_provider": source.cti_provider or "", "cti_host": source.cti_host or "",
        "cti_port": source.cti_port or "", "cti_username": source.cti_username or "",
        "log_unhandled_events": source.log_unhandled_events,
    }
    for kind in ("quick", "advanced"):
        for position, key in enumerate((source.search_fields or {}).get(kind, []), start=1):
            values[f"{kind}:{key}"] = "on"
            values[f"{kind}_order:{key}"] = str(position)
    values["actions"] = list(source.allowed_actions or [])
    return values


async def _edit_page(request: web.Request, d: Definition | None, values: dict[str, Any],
                     errors: dict[str, str], status: int = 200) -> web.Response:
    stored = d.cti_password_encrypted if d is not None else None
    return await render(request, "cc/definition_form.html", {
        "definition": d, "values": values, "errors": errors, "fields": FIELDS,
        "entities": ENTITIES, "actions": ACTIONS,
        "password_mask": mask("set" if stored else None),
    }, status=status)


@page(roles=ROLES)
async def list_page(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session, session.begin():
        await defs.active_definition(session)
        rows = await defs.list_definitions(session)
    return await render(request, "cc/definitions.html",
                        {"rows": rows, "notice": await pop_notice(request)})


@page(roles=ROLES)
async def new_page(request: web.Request) -> web.Response:
    return await _edit_page(request, None, _form_values(None), {})


@page(roles=ROLES)
async def edit_page(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        d = await session.get(Definition, path_id(request))
    if d is None:
        raise web.HTTPNotFound()
    return await _edit_page(request, d, _form_values(d), {})


@page(roles=ROLES)
async def save(request: web.Request) -> web.Response:
    definition_id = None if request.match_info.get("id") is None else path_id(request)
    posted = await request.post()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    chosen = [a for a in posted.getall("actions", []) if isinstance(a, str)]
    async with request.app[SESSIONS]() as session:
        current = None
        if definition_id is not None:
            current = await session.get(Definition, definition_id)
            if current is None:
                raise web.HTTPNotFound()
        try:
            data = defs.parse_form(form, chosen)
            saved = await defs.save(session, data, _box(request), current_user(request).id,
                                    definition_id)
            await session.commit()
        except defs.DefinitionError as exc:  # raised before anything changed
            values = {**form, "actions": chosen}
            return await _edit_page(request, current, values, exc.errors, 422)
    await set_notice(request, f"Definition \u201c{saved.name}\u201d was saved")
    raise web.HTTPSeeOther("/cc/definitions")


async def _change(request: web.Request, verb: str) -> web.Response:
    definition_id = path_id(request)
    user_id = current_user(request).id
    operations = {"activate": defs.activate, "deactivate": defs.deactivate,
                  "delete": defs.delete}
    async with request.app[SESSIONS]() as session:
        try:
            await operations[verb](session, definition_id, user_id)
            await session.commit()
        except LookupError:
            raise web.HTTPNotFound() from None
        except defs.DefinitionError as exc:
            await set_notice(request, "; ".join(exc.errors.values()))
            raise web.HTTPSeeOther("/cc/definitions") from None
    await set_notice(request, f"Definition {verb}d")
    raise web.HTTPSeeOther("/cc/definitions")


@page(roles=ROLES)
async def activate(request: web.Request) -> web.Response:
    return await _change(request, "activate")


@page(roles=ROLES)
async def deactivate(request: web.Request) -> web.Response:
    return await _change(request, "deactivate")


@page(roles=ROLES)
async def delete(request: web.Request) -> web.Response:
    return await _change(request, "delete")


def setup(app: web.Application) -> None:
    app.router.add_get("/cc/definitions", list_page)
    app.router.add_get("/cc/definitions/new", new_page)
    app.router.add_post("/cc/definitions/new", save)
    app.router.add_get(r"/cc/definitions/{id:\d+}", edit_page)
    app.router.add_post(r"/cc/definitions/{id:\d+}", save)
    app.router.add_post(r"/cc/definitions/{id:\d+}/activate", activate)
    app.router.add_post(r"/cc/definitions/{id:\d+}/deactivate", deactivate)
    app.router.add_post(r"/cc/definitions/{id:\d+}/delete", delete)
