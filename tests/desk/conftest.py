"""An app with the desk set up on a migrated database; agents with tokens and cookies."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from callcontrol import desk
from callcontrol.app import BUS, build_app
from callcontrol.bus.redis import RedisBus
from callcontrol.config import load_config
from callcontrol.crm.models import Contact, Phone
from callcontrol.crm.users import create_api_token, create_user
from callcontrol.desk.keys import AGENTS, POPS
from callcontrol.web.pages import page, render

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
TEST_PAGE = "/test/desk-page"


@page
async def desk_page(request: web.Request) -> web.Response:
    return await render(request, "base.html", {})


def test_page(app: web.Application) -> None:
    app.router.add_get(TEST_PAGE, desk_page)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Desk tests run on SQLite; a test asks for PostgreSQL too with
    ``@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)``."""
    if getattr(request, "param", "sqlite") == "postgres":
        return request.getfixturevalue("postgres_database")
    return f"sqlite+aiosqlite:///{tmp_path / 'desk.db'}"


BOTH_DATABASES = pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)


def namespaced(redis_url: str, prefix: str):
    """A setup giving the app its own Redis channel and key namespace (tests share Redis)."""
    def setup(app: web.Application) -> None:
        app[desk.REDIS_PREFIX] = prefix

        async def bus(app: web.Application) -> AsyncIterator[None]:
            await app[BUS].close()  # unused: replaced by a namespaced one (closed by app.py)
            app[BUS] = RedisBus(redis_url, prefix=prefix)
            yield
        app.cleanup_ctx.append(bus)
    return setup


class Desk:
    def __init__(self, client, db) -> None:
        self.client = client
        self.db = db
        self.app = client.server.app

    @property
    def agents(self):
        return self.app[AGENTS]

    @property
    def pops(self):
        return self.app[POPS]

    async def user(self, username: str, role: str = "agent", extension: str | None = None):
        async with self.db.sessions() as session, session.begin():
            user = await create_user(session, username, PASSWORD, role, extension=extension)
            token = await create_api_token(session, user)
        return user.id, token

    def bearer(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def sign_in(self, username: str) -> str:
        """Sign in with the cookie; returns the CSRF token for writes."""
        page = await self.client.get("/login")
        csrf = CSRF_FIELD.search(await page.text()).group(1)
        resp = await self.client.post("/login", data={
            "csrf_token": csrf, "username": username, "password": PASSWORD, "next": ""},
            allow_redirects=False)
        assert resp.status in (302, 303), await resp.text()
        self.page_html = await (await self.client.get(TEST_PAGE)).text()
        return CSRF_META.search(self.page_html).group(1)

    async def contact(self, name: str, *phones: str, kind: str = "person") -> int:
        async with self.db.sessions() as session, session.begin():
            first, _, last = name.partition(" ")
            contact = (Contact(kind="company", company_name=name) if kind == "company"
                       else Contact(kind="person", first_name=first, last_name=last))
            contact.phones = [Phone(raw=p, e164=p) for p in phones]
            session.add(contact)
            await session.flush()
            return contact.id


def desk_config(db, tmp_path, **changes):
    base = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)})
    calls = dataclasses.replace(base.calls, wrapup_seconds=0.2)
    return dataclasses.replace(base, database_url=db.url, calls=calls, **changes)


@pytest.fixture
async def make_desk(db, tmp_path, aiohttp_client):
    async def make(*, redis_url: str | None = None, prefix: str | None = None) -> Desk:
        setups = [desk.setup, test_page]
        if redis_url:
            setups.insert(0, namespaced(redis_url, prefix or "cctest:"))
        app = build_app(desk_config(db, tmp_path, redis_url=redis_url), setups=setups)
        return Desk(await aiohttp_client(app), db)
    return make


@pytest.fixture
async def dsk(make_desk) -> Desk:
    return await make_desk()
