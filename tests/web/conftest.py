"""Helpers for the web-layer tests: an app on a migrated SQLite database with test pages."""

from __future__ import annotations

import dataclasses
import re

import pytest
from aiohttp import web

from callcontrol.app import build_app
from callcontrol.config import load_config
from callcontrol.crm.users import create_api_token, create_user
from callcontrol.web.auth import current_user, public, user_from_request
from callcontrol.web.pages import NavItem, add_nav, page, render
from callcontrol.web.sessions import flash

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@page
async def any_user_page(request: web.Request) -> web.Response:
    return await render(request, "base.html", {})


@page(roles=("admin",))
async def admin_page(request: web.Request) -> web.Response:
    return await render(request, "base.html", {})


async def echo(request: web.Request) -> web.Response:
    form = await request.post()
    return web.json_response({"user": current_user(request).username, "note": form.get("note")})


@public  # authenticates itself, as the websocket handshake does
async def whoami(request: web.Request) -> web.Response:
    user = await user_from_request(request)
    return web.json_response({"user": user.username if user else None})


async def flashing(request: web.Request) -> web.Response:
    await flash(request, "Saved <b>it</b>.", "ok")
    raise web.HTTPSeeOther("/test/page")


@public
async def refuse(request: web.Request) -> web.Response:
    raise web.HTTPBadRequest(text="kind must be <known> or shared")


@public
async def boom(request: web.Request) -> web.Response:
    raise RuntimeError("a bug in a page handler")


def add_test_routes(app: web.Application) -> None:
    app.router.add_get("/test/page", any_user_page)
    app.router.add_get("/test/admin", admin_page)
    app.router.add_post("/test/echo", echo)
    app.router.add_post("/api/test/echo", echo)
    app.router.add_get("/test/boom", boom)
    app.router.add_get("/test/whoami", whoami)
    app.router.add_post("/test/flash", flashing)
    app.router.add_get("/test/refuse", refuse)
    add_nav(app, NavItem("Test tools", "/test/page", roles=("admin",)))


def web_config(tmp_path, **changes):
    base = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)})
    changes.setdefault("database_url", f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    return dataclasses.replace(base, **changes)


class Web:
    """A test client on the app plus the few steps every test repeats."""

    def __init__(self, client, sessions) -> None:
        self.client = client
        self.app = client.app
        self.sessions = sessions

    async def user(self, username: str, role: str = "agent", password: str = PASSWORD):
        async with self.sessions() as session, session.begin():
            return await create_user(session, username, password, role)

    async def token(self, username: str, role: str = "agent") -> str:
        async with self.sessions() as session, session.begin():
            user = await create_user(session, username, PASSWORD, role)
            return await create_api_token(session, user)

    async def csrf(self, path: str = "/login") -> str:
        resp = await self.client.get(path)
        found = CSRF_FIELD.search(await resp.text())
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    async def login(self, username: str, password: str = PASSWORD, next_path: str = "",
                    headers: dict | None = None):
        data = {"csrf_token": await self.csrf(), "username": username, "password": password,
                "next": next_path}
        return await self.client.post("/login", data=data, allow_redirects=False,
                                      headers=headers or {})


@pytest.fixture
def make_web(tmp_path, aiohttp_client):
    """``await make_web(before_start=None, **config_changes) -> Web``; every app made in one
    test shares one migrated SQLite database (like processes sharing a server)."""
    from callcontrol.crm.migrate import upgrade_async
    from callcontrol.web.auth import SESSIONS

    async def make(*, before_start=None, **changes) -> Web:
        config = web_config(tmp_path, **changes)
        await upgrade_async(config.database_url)
        app = build_app(config, setups=[add_test_routes])
        if before_start is not None:
            before_start(app)
        client = await aiohttp_client(app)
        return Web(client, app[SESSIONS])

    return make


@pytest.fixture
async def web_app(make_web):
    return await make_web()
