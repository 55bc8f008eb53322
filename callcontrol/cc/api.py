"""The JSON API of the Centre under /api/v1/cc: the same rules as the pages (fields and
actions the active definition disables are refused here too), bearer or session auth."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from aiohttp import web
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Row

from callcontrol.cc import actions, contact_view
from callcontrol.cc import search as queries
from callcontrol.cc.actions import ActionFailed, ActionForbidden, Context
from callcontrol.cc.like import SearchInputError
from callcontrol.cc.openapi import openapi
from callcontrol.cc.views.common import load_settings, path_id
from callcontrol.crm.models import Contact
from callcontrol.errors import ApiError as BadRequest
from callcontrol.errors import Forbidden, NotFound, ValidationFailed
from callcontrol.web.auth import SESSIONS, current_user

# Never leave the server through this API, whatever section they sit in.
SECRET_COLUMNS = frozenset({"secret_number", "password_hash", "cti_password_encrypted",
                            "token_hash"})


def plain(value: Any) -> Any:
    """JSON-ready copy of query results: rows, dataclasses, lists, dicts, money, times."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Row):  # a Core row (the contact's sections)
        return {k: plain(v) for k, v in value._mapping.items() if k not in SECRET_COLUMNS}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, contact_view.Listing):
        return {"rows": plain(value.rows), "more": value.more}
    if hasattr(value, "__dataclass_fields__"):
        return {k: plain(getattr(value, k)) for k in value.__dataclass_fields__}
    mapper = getattr(type(value), "__mapper__", None)
    if mapper is not None:
        state = sa_inspect(value)
        return {c.key: plain(state.dict.get(c.key)) for c in mapper.column_attrs
                if c.key not in SECRET_COLUMNS}
    return value


def _page_json(result: queries.ResultPage) -> dict[str, Any]:
    return {"items": plain(result.items), "page": result.page,
            "page_size": result.page_size, "has_next": result.has_next}


async def search(request: web.Request) -> web.Response:
    current_user(request)
    settings = await load_settings(request)
    q = request.query
    try:
        async with request.app[SESSIONS]() as session:
            result = await queries.quick_search(session, settings, q.get("field", ""),
                                                q.get("q", ""), q.get("op"), q.get("page"))
    except SearchInputError as exc:
        raise ValidationFailed(str(exc)) from None
    return web.json_response(_page_json(result))


async def advanced(request: web.Request) -> web.Response:
    current_user(request)
    settings = await load_settings(request)
    q = request.query
    values = {k: v for k, v in q.items() if k not in ("op", "address_scope", "page")}
    try:
        async with request.app[SESSIONS]() as session:
            result = await queries.advanced_search(session, settings, values, q.get("op"),
                                                   q.get("address_scope", "any"),
                                                   q.get("page"))
    except SearchInputError as exc:
        raise ValidationFailed(str(exc)) from None
    return web.json_response(_page_json(result))


async def communications(request: web.Request) -> web.Response:
    user = current_user(request)
    settings = await load_settings(request)
    try:
        async with request.app[SESSIONS]() as session:
            result = await queries.communications_search(session, settings, user.id,
                                                          request.query.get("page"))
    except SearchInputError as exc:
        raise ValidationFailed(str(exc)) from None
    return web.json_response(_page_json(result))


async def contact(request: web.Request) -> web.Response:
    current_user(request)
    contact_id = path_id(request)
    wanted = request.query.get("sections", ",".join(contact_view.SECTIONS)).split(",")
    unknown = [s for s in wanted if s not in contact_view.SECTIONS]
    if unknown:
        raise BadRequest(f"unknown sections: {', '.join(unknown)}; choose from "
                         f"{', '.join(contact_view.SECTIONS)}")
    settings = await load_settings(request)
    async with request.app[SESSIONS]() as session:
        found = await contact_view.load_contact(session, contact_id)
        if found is None:
            raise NotFound(f"no contact {contact_id}")
        body = {"contact": {**plain(found), "display_name": found.display_name,
                            "phones": plain(found.phones), "emails": plain(found.emails),
                            "addresses": plain(found.addresses)}}
        for name in wanted:
            body[name] = plain(await contact_view.section(session, name, contact_id,
                                                          settings.section_limit))
    return web.json_response(body)


async def run_action(request: web.Request) -> web.Response:
    user = current_user(request)
    slug = request.match_info["slug"]
    if slug not in actions.REGISTRY:
        raise NotFound(f"no action {slug!r}")
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("the body must be a JSON object") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    form = {str(k): v if isinstance(v, str) else str(v) for k, v in body.items()
            if v is not None and not isinstance(v, dict | list)}
    settings = await load_settings(request)
    async with request.app[SESSIONS]() as session:
        contact_obj = None
        if "contact" in form:
            if not form["contact"].isdigit():
                raise ValidationFailed("contact must be a contact id")
            contact_obj = await session.get(Contact, int(form["contact"]))
            if contact_obj is None:
                raise NotFound(f"no contact {form['contact']}")
        try:
            outcome = await actions.run(session, slug, Context(user, contact_obj, settings),
                                        form)
            await session.commit()
        except ActionForbidden as exc:
            raise Forbidden(str(exc)) from None
        except ActionFailed as exc:
            raise ValidationFailed("the action's input is invalid",
                                   details={"fields": exc.errors}) from None
    return web.json_response(plain(outcome), status=201)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/cc/search", search)
    app.router.add_get("/api/v1/cc/search/advanced", advanced)
    app.router.add_get("/api/v1/cc/communications", communications)
    app.router.add_get(r"/api/v1/cc/contacts/{id}", contact)
    app.router.add_post(r"/api/v1/cc/actions/{slug}", run_action)
    app.router.add_get("/api/v1/cc/openapi.json", openapi)
