"""Search pages: quick search (/cc), advanced search and the user's communications."""

from __future__ import annotations

from aiohttp import web

from callcontrol.cc import search as queries
from callcontrol.cc.actions import Context, available
from callcontrol.cc.fields import ACTIONS, ADDRESS_SCOPES, ENTITIES, FIELDS
from callcontrol.cc.like import SearchInputError
from callcontrol.cc.views.common import load_settings, pager, pop_notice
from callcontrol.web.auth import SESSIONS, current_user
from callcontrol.web.pages import page, render


def _fragment(request: web.Request) -> bool:
    return request.headers.get("HX-Request") == "true" and \
        request.headers.get("HX-Target") == "results"


@page
async def quick(request: web.Request) -> web.Response:
    settings = await load_settings(request)
    q = request.query
    form = {"field": q.get("field") or (settings.quick_fields or ("",))[0],
            "op": (q.get("op") or settings.default_operator).lower(), "q": q.get("q", "")}
    results, error = None, None
    if "q" in q:
        try:
            async with request.app[SESSIONS]() as session:
                results = await queries.quick_search(
                    session, settings, form["field"], form["q"], form["op"], q.get("page"))
        except SearchInputError as exc:
            error = str(exc)
    ctx = Context(current_user(request), None, settings)
    context = {"form": form, "results": results, "error": error, "settings": settings,
               "fields": FIELDS, "tab": "quick", "notice": await pop_notice(request),
               "actions": [ACTIONS[a] for a in available(ctx)],
               "pager": pager(request, results)}
    template = "cc/_results.html" if _fragment(request) else "cc/search.html"
    return await render(request, template, context, status=422 if error else 200)


@page
async def advanced(request: web.Request) -> web.Response:
    settings = await load_settings(request)
    q = request.query
    values = {key: q.get(key, "") for key in settings.advanced_fields}
    op = (q.get("op") or settings.default_operator).lower()
    scope = q.get("address_scope", "any")
    results, error = None, None
    if "search" in q:
        try:
            async with request.app[SESSIONS]() as session:
                results = await queries.advanced_search(
                    session, settings, values, op, scope, q.get("page"))
        except SearchInputError as exc:
            error = str(exc)
    sections = [(entity, label, [FIELDS[k] for k in settings.advanced_fields
                                 if FIELDS[k].entity == entity])
                for entity, label in ENTITIES.items()]
    context = {"values": values, "op": op, "scope": scope, "scopes": ADDRESS_SCOPES,
               "sections": [s for s in sections if s[2]], "results": results,
               "error": error, "tab": "advanced", "settings": settings,
               "pager": pager(request, results)}
    template = "cc/_results.html" if _fragment(request) else "cc/advanced.html"
    return await render(request, template, context, status=422 if error else 200)


@page
async def communications(request: web.Request) -> web.Response:
    settings = await load_settings(request)
    user = current_user(request)
    error, results = None, None
    try:
        async with request.app[SESSIONS]() as session:
            results = await queries.communications_search(
                session, settings, user.id, request.query.get("page"))
    except SearchInputError as exc:
        error = str(exc)
    return await render(request, "cc/communications.html",
                        {"results": results, "error": error, "tab": "communications",
                         "settings": settings, "pager": pager(request, results)},
                        status=422 if error else 200)


def setup(app: web.Application) -> None:
    app.router.add_get("/cc", quick)
    app.router.add_get("/cc/advanced", advanced)
    app.router.add_get("/cc/communications", communications)
