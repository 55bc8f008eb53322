"""The dialplan editor for engineers (and admins): view, check, save, diff, roll back, reload.

Routes (all need the ``engineer`` or ``admin`` role; every POST carries the CSRF token):

    GET  /dialplan                      files, their latest version, Asterisk reload
    GET  /dialplan/{name}               editor with the version history
    POST /dialplan/{name}               check, then save a new version (or 422 with findings)
    POST /dialplan/{name}/check         check the edited text without saving
    GET  /dialplan/{name}/diff          unified diff between two versions
    POST /dialplan/{name}/rollback      save an older version again as the newest
    POST /dialplan/reload               ask Asterisk to reload a module over ARI
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from callcontrol.app import ARI_STATE, CONFIG
from callcontrol.dialplan import reload as ari_reload
from callcontrol.dialplan.check import Finding, LintUnavailable
from callcontrol.dialplan.store import CheckFailed, DialplanStore, StaleEdit, StoreError
from callcontrol.errors import ApiError as BadRequest
from callcontrol.errors import NotFound
from callcontrol.web.auth import current_user
from callcontrol.web.pages import page, render

logger = logging.getLogger(__name__)

STORE = web.AppKey("dialplan_store", DialplanStore)
ROLES = ("engineer", "admin")
MAX_TEXT = 512 * 1024


def setup(app: web.Application) -> None:
    app.cleanup_ctx.append(_store)
    r = app.router
    r.add_get("/dialplan", index)
    r.add_post("/dialplan/reload", reload)
    r.add_get("/dialplan/{name}", edit)
    r.add_post("/dialplan/{name}", save)
    r.add_post("/dialplan/{name}/check", check)
    r.add_get("/dialplan/{name}/diff", diff)
    r.add_post("/dialplan/{name}/rollback", rollback)


async def _store(app: web.Application):
    app[STORE] = await asyncio.to_thread(DialplanStore.for_config, app[CONFIG])
    yield


def _name(request: web.Request) -> str:
    store, name = request.app[STORE], request.match_info["name"]
    if name not in store.list_files():
        raise NotFound(f"no dialplan file {name!r}")
    return name


def _int(value: Any, what: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise BadRequest(f"{what} must be a version number, got {str(value)[:20]!r}") from None


def _connected(request: web.Request) -> bool:
    return ari_reload.is_connected(request.app.get(ARI_STATE))


@page(roles=ROLES)
async def index(request: web.Request) -> web.Response:
    return await _index(request)


async def _index(request: web.Request, result: ari_reload.ReloadResult | None = None,
                 status: int = 200) -> web.Response:
    store = request.app[STORE]
    files = []
    for name in store.list_files():
        versions = store.versions(name)
        files.append({"name": name, "latest": versions[-1] if versions else None,
                      "module": ari_reload.MODULES[name]})
    return await render(request, "dialplan/index.html", {
        "files": files, "connected": _connected(request), "result": result,
        "ari_url": request.app[CONFIG].ari.url}, status=status)


async def _editor(request: web.Request, name: str, *, text: str | None = None,
                  base: int | None = None, findings: list[Finding] | None = None,
                  error: str = "", notice: str = "", status: int = 200) -> web.Response:
    store = request.app[STORE]
    versions = store.versions(name)
    return await render(request, "dialplan/edit.html", {
        "name": name, "text": store.read(name) if text is None else text,
        "base": base if base is not None else (versions[-1].number if versions else ""),
        "versions": list(reversed(versions)), "findings": findings or [], "error": error,
        "notice": notice, "module": ari_reload.MODULES[name], "connected": _connected(request),
    }, status=status)


@page(roles=ROLES)
async def edit(request: web.Request) -> web.Response:
    name = _name(request)
    notice = ""
    if saved := request.query.get("saved", "").strip():
        restored = request.query.get("restored", "").strip()
        notice = (f"Restored version {restored} as version {saved}." if restored
                  else f"Saved version {saved}.")
    return await _editor(request, name, notice=notice)


async def _form_text(request: web.Request) -> tuple[str, int | None]:
    form = await request.post()
    text = form.get("text")
    if not isinstance(text, str):
        raise BadRequest("the form has no text field")
    if len(text) > MAX_TEXT:
        raise BadRequest(f"the file is larger than {MAX_TEXT // 1024} KiB")
    base = form.get("base")
    return text.replace("\r\n", "\n"), (_int(base, "base") if base else None)


@page(roles=ROLES)
async def save(request: web.Request) -> web.Response:
    name, (text, base) = _name(request), await _form_text(request)
    store, author = request.app[STORE], current_user(request).username
    try:
        version = await asyncio.to_thread(store.save, name, text, author, base)
    except CheckFailed as exc:
        return await _editor(request, name, text=text, base=base, findings=exc.findings,
                             error="Not saved: the check found problems.", status=422)
    except StaleEdit as exc:
        return await _editor(request, name, text=text, base=base, error=f"Not saved: {exc}. "
                             "Copy your changes, reload the page and apply them again.",
                             status=409)
    except LintUnavailable as exc:
        return await _editor(request, name, text=text, base=base,
                             error=f"Not saved: {exc}", status=503)
    logger.info("dialplan %s saved as version %s by %s", name, version.number, author)
    raise web.HTTPSeeOther(f"/dialplan/{name}?saved={version.number}")


@page(roles=ROLES)
async def check(request: web.Request) -> web.Response:
    name, (text, base) = _name(request), await _form_text(request)
    try:
        findings = await asyncio.to_thread(request.app[STORE].check, name, text)
    except LintUnavailable as exc:
        return await _editor(request, name, text=text, base=base, error=str(exc), status=503)
    if findings:
        return await _editor(request, name, text=text, base=base, findings=findings,
                             error="The check found problems (nothing was saved).", status=422)
    return await _editor(request, name, text=text, base=base,
                         notice="The check found no problems (not saved yet).")


@page(roles=ROLES)
async def diff(request: web.Request) -> web.Response:
    name, store = _name(request), request.app[STORE]
    versions = [v.number for v in store.versions(name)]
    if len(versions) < 2 and not request.query:
        return await render(request, "dialplan/diff.html", {
            "name": name, "lines": [], "versions": versions, "old": None, "new": None})
    new = _int(request.query.get("to", versions[-1]), "to")
    old = _int(request.query.get("from", new - 1), "from")
    try:
        text = store.diff(name, old, new)
    except StoreError as exc:
        raise NotFound(str(exc)) from None
    lines = [{"text": line, "kind": _kind(line)} for line in text.splitlines()]
    return await render(request, "dialplan/diff.html", {
        "name": name, "lines": lines, "versions": versions, "old": old, "new": new})


def _kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "file"
    return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "same")


@page(roles=ROLES)
async def rollback(request: web.Request) -> web.Response:
    name, store = _name(request), request.app[STORE]
    number = _int((await request.post()).get("version", ""), "version")
    author = current_user(request).username
    try:
        text = store.read_version(name, number)
    except StoreError as exc:
        raise NotFound(str(exc)) from None
    try:
        version = await asyncio.to_thread(store.save, name, text, author)
    except (CheckFailed, LintUnavailable) as exc:
        findings = exc.findings if isinstance(exc, CheckFailed) else []
        return await _editor(request, name, findings=findings, status=422,
                             error=f"Version {number} no longer passes the check; not restored.")
    logger.info("dialplan %s version %s restored as %s by %s", name, number, version.number,
                author)
    raise web.HTTPSeeOther(f"/dialplan/{name}?saved={version.number}&restored={number}")


@page(roles=ROLES)
async def reload(request: web.Request) -> web.Response:
    module = str((await request.post()).get("module", "pbx_config.so"))
    if module not in ari_reload.RELOADABLE:
        raise BadRequest(f"cannot reload {module[:40]!r}")
    result = await ari_reload.reload_module(request.app[CONFIG].ari, module,
                                            request.app.get(ARI_STATE))
    logger.info("dialplan reload of %s by %s: %s", module, current_user(request).username,
                result.message)
    return await _index(request, result, 200 if result.ok else 503)
