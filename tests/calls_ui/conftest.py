"""A whole ``callcontrol serve`` against the PBX simulator, and browsers signed in to it.

``stack`` runs ``callcontrol.server.serve`` in-process (desk, call control, Communication
Centre, ...) on a fresh SQLite database with three agents, a supervisor and two contacts;
``open_page(username)`` gives a signed-in Playwright page on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from callcontrol.config import load_config
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import Contact, Phone
from callcontrol.crm.users import create_api_token, create_user
from callcontrol.pbxsim import PbxSimulator
from callcontrol.server import serve

PASSWORD = "calls-ui-password-1"
USERS = (  # username, role, extension, device
    ("agent1", "agent", "1001", "PJSIP/1001"),
    ("agent2", "agent", "1002", "PJSIP/1002"),
    ("boss", "supervisor", "1010", "PJSIP/1010"),
)
CONTACTS = {  # name -> phone (E.164)
    "Maria Georgiou": "+35799111222",
    "Andreas Charalambous": "+35799333444",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    url: str
    sim: PbxSimulator
    app: web.Application
    config: Any
    sessions: Any
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    http: aiohttp.ClientSession | None = None

    async def api(self, method: str, path: str, username: str, **kwargs: Any
                  ) -> tuple[int, Any]:
        assert self.http is not None
        headers = {"Authorization": f"Bearer {self.tokens[username]}"}
        async with self.http.request(method, self.url + path, headers=headers,
                                     **kwargs) as resp:
            ctype = resp.headers.get("Content-Type", "")
            body = await resp.json() if ctype.startswith("application/json") else \
                await resp.text()
            return resp.status, body

    async def ready(self, username: str) -> None:
        status, body = await self.api("POST", "/api/v1/agents/me/cti", username,
                                      json={"action": "login"})
        assert status == 200, body
        status, body = await self.api("PUT", "/api/v1/agents/me/state", username,
                                      json={"state": "ready"})
        assert status == 200, body

    async def call(self, call_id: str, username: str = "agent1") -> dict[str, Any]:
        status, body = await self.api("GET", f"/api/v1/calls/{call_id}", username)
        assert status == 200, body
        return body

    async def communication(self, call_id: str) -> Any:
        from sqlalchemy import select

        from callcontrol.crm.models import Communication

        async with self.sessions() as session:
            return await session.scalar(select(Communication).where(
                Communication.call_id == call_id).order_by(Communication.id.desc()).limit(1))


async def eventually(check, timeout: float = 8.0, every: float = 0.05):
    """Await ``check()`` until it returns something truthy; fail with its last value."""
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(every)
    raise AssertionError(f"condition not met in {timeout} s (last value: {value!r})")


@pytest.fixture
def sim_time_scale() -> float:
    """The simulator's time scale (parametrize to change): 0.1 makes its 1 s a real 0.1 s.

    ARI originate timeouts are scaled too, so a device rings at most ``ring_timeout + 1``
    simulated seconds."""
    return 0.1


@pytest.fixture
async def stack(tmp_path: Path, sim_time_scale: float):
    sim = PbxSimulator(recordings_dir=tmp_path / "sim", time_scale=sim_time_scale)
    await sim.start("127.0.0.1", 0)
    http_port = free_port()
    config = load_config(env={
        "CALLCONTROL_VAR_DIR": str(tmp_path / "var"),
        "CALLCONTROL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'cc.db'}",
        "CALLCONTROL_ARI_URL": sim.url,
        "CALLCONTROL_HTTP_PORT": str(http_port),
        "CALLCONTROL_AGI_PORT": str(free_port()),
        "CALLCONTROL_SECRET_KEY": "s" * 40,
        "CALLCONTROL_WRAPUP_SECONDS": "0.5",
    })
    await upgrade_async(config.database_url)
    engine = create_engine(config.database_url)
    sessions = session_factory(engine)
    user_ids: dict[str, int] = {}
    tokens: dict[str, str] = {}
    contacts: dict[str, int] = {}
    async with sessions() as session, session.begin():
        for username, role, extension, device in USERS:
            user = await create_user(session, username, PASSWORD, role, extension=extension,
                                     device=device, display_name=username.capitalize())
            user_ids[username] = user.id
            tokens[username] = await create_api_token(session, user)
        for name, phone in CONTACTS.items():
            first, last = name.split()
            contact = Contact(kind="person", first_name=first, last_name=last)
            session.add(contact)
            await session.flush()
            session.add(Phone(contact_id=contact.id, raw=phone, e164=phone, is_default=True))
            contacts[name] = contact.id
    for _, _, _, device in USERS:
        sim.set_device(device, answer_after=1.0 / sim_time_scale)   # 1 s of ringing

    started: asyncio.Future[web.Application] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    server = asyncio.create_task(serve(
        config, migrate=False, with_agi=False, stop=stop,
        on_started=lambda runner: started.set_result(runner.app)))
    done, _ = await asyncio.wait({started, server}, timeout=20,
                                 return_when=asyncio.FIRST_COMPLETED)
    if started not in done:
        stop.set()
        if server.done():
            server.result()
        pytest.fail("callcontrol serve did not start")
    url = f"http://127.0.0.1:{http_port}"
    result = Stack(url, sim, started.result(), config, sessions, user_ids, tokens, contacts)
    async with aiohttp.ClientSession() as http:
        result.http = http

        async def connected():
            status, body = await result.api("GET", "/healthz", "agent1")
            return status == 200 and body["checks"]["ari"]["connected"]
        await eventually(connected, timeout=10)
        try:
            yield result
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server, 15)
            await engine.dispose()
            await sim.close()


@pytest.fixture
async def open_page(browser, stack, browser_console):
    """``await open_page(username)``: a new browser context signed in as ``username``."""
    contexts = []

    async def open_(username: str):
        context = await browser.new_context(base_url=stack.url)
        contexts.append(context)
        tab = await context.new_page()
        tab.set_default_timeout(6000)
        tab.on("console", lambda m: m.type == "error" and browser_console.append(m.text))
        tab.on("pageerror", lambda e: browser_console.append(str(e)))
        await tab.goto("/login")
        await tab.fill("#username", username)
        await tab.fill("#password", PASSWORD)
        async with tab.expect_navigation():
            await tab.click("form[action='/login'] button[type=submit]")
        assert "/login" not in tab.url, f"sign-in as {username} failed"
        return tab

    try:
        yield open_
    finally:
        for context in contexts:
            await context.close()
