"""An app with the Communication Centre on a migrated SQLite database, and signed-in clients."""

from __future__ import annotations

import dataclasses
import re

import pytest

from callcontrol import cc
from callcontrol.app import build_app
from callcontrol.config import load_config
from callcontrol.crm.users import create_api_token, create_user

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


class CcApp:
    def __init__(self, client, sessions) -> None:
        self.client = client
        self.sessions = sessions

    async def user(self, username: str, role: str = "agent"):
        async with self.sessions() as session, session.begin():
            return await create_user(session, username, PASSWORD, role)

    async def token(self, username: str, role: str = "agent") -> str:
        async with self.sessions() as session, session.begin():
            user = await create_user(session, username, PASSWORD, role)
            return await create_api_token(session, user)

    async def csrf(self, path: str = "/login") -> str:
        resp = await self.client.get(path)
        found = CSRF_FIELD.search(await resp.text())
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    async def login(self, username: str, role: str = "agent") -> str:
        """Create and sign in ``username``; returns the session's CSRF token."""
        await self.user(username, role)
        data = {"csrf_token": await self.csrf(), "username": username, "password": PASSWORD}
        resp = await self.client.post("/login", data=data, allow_redirects=False)
        assert resp.status == 303, await resp.text()
        return await self.csrf("/cc")

    async def post(self, path: str, data: dict, token: str | None, **kw):
        body = dict(data)
        if token is not None:
            body["csrf_token"] = token
        return await self.client.post(path, data=body, allow_redirects=False, **kw)


@pytest.fixture
async def cc_app(tmp_path, aiohttp_client):
    from callcontrol.crm.migrate import upgrade_async
    from callcontrol.web.auth import SESSIONS

    base = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path)})
    calls = dataclasses.replace(base.calls, recordings_dir=tmp_path / "recordings")
    config = dataclasses.replace(base, database_url=f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
                                 calls=calls)
    await upgrade_async(config.database_url)
    app = build_app(config, setups=[cc.setup])
    client = await aiohttp_client(app)
    return CcApp(client, app[SESSIONS])
