"""Shared fixtures: real PostgreSQL and Redis on this machine.

Outside CI a missing service skips the tests that need it; under ``CI=true`` it fails them,
so a CI run can never pass by quietly not testing the database or the bus.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "CALLCONTROL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("CALLCONTROL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def service_missing(what: str, why: object) -> None:
    """Fail under CI, skip elsewhere: the one place where a missing service is decided."""
    message = f"{what} is not reachable: {why}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true: tests that need it must run)", pytrace=False)
    pytest.skip(message)


async def _pg(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_server() -> str:
    try:
        asyncio.run(_pg(POSTGRES_ADMIN_URL, "SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means the server is unusable
        service_missing("PostgreSQL", exc)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_database(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; its asyncpg SQLAlchemy URL."""
    name = f"cc_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(postgres_server, f'CREATE DATABASE "{name}"'))
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield base.replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"
    finally:
        asyncio.run(_pg(postgres_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_server() -> str:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except Exception as exc:  # noqa: BLE001
        service_missing("Redis", exc)
    return REDIS_TEST_URL


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The test Redis URL. Tests namespace their keys and channels (see ``unique_name``)."""
    return redis_server


@pytest.fixture
def unique_name() -> str:
    return f"cctest-{uuid.uuid4().hex[:10]}"


# --- CRM database fixtures (callcontrol.crm) -------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"], ids=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """An empty database URL: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}"
    return request.getfixturevalue("postgres_database")


class MigratedDatabase:
    def __init__(self, url: str) -> None:
        from callcontrol.crm.db import create_engine, session_factory

        self.url = url
        self.engine = create_engine(url)
        self.sessions = session_factory(self.engine)


@pytest.fixture
async def db(db_url: str):
    """A migrated database: ``.engine``, ``.sessions`` (async_sessionmaker) and ``.url``."""
    from callcontrol.crm.migrate import upgrade_async

    await upgrade_async(db_url)
    database = MigratedDatabase(db_url)
    try:
        yield database
    finally:
        await database.engine.dispose()


# --- Browser fixtures (web foundation): live_server, browser, page, login ----------------
#
#   @pytest.mark.browser
#   async def test_x(page, live_server, login):
#       await live_server.create_user("ada", "password-123", "agent")
#       await login(page, live_server, "ada", "password-123")
#       await page.goto("/cc")            # relative to live_server.url
#
# A module adds its routes by overriding ``live_server_setups``:
#
#   @pytest.fixture
#   def live_server_setups():
#       return [my_domain.setup]
#
# ``live_server_factory`` starts more servers (e.g. two processes' worth sharing one Redis).
# ``browser_console`` lists the page's console errors (CSP violations show up there);
# ``artifacts`` is a per-test directory for screenshots.

CHROMIUM = os.environ.get("CALLCONTROL_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.environ.get(
    "CALLCONTROL_TEST_ARTIFACTS",
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "test-artifacts"),
)


class LiveServer:
    """A running ``build_app`` on 127.0.0.1: ``.url``, ``.app``, ``.sessions``, ``.config``."""

    def __init__(self, url: str, app, config, runner) -> None:
        from callcontrol.web.auth import SESSIONS

        self.url = url
        self.app = app
        self.config = config
        self.sessions = app[SESSIONS]
        self._runner = runner

    async def create_user(self, username: str, password: str, role: str,
                          extension: str | None = None, device: str | None = None):
        from callcontrol.crm.users import create_user

        async with self.sessions() as session, session.begin():
            return await create_user(session, username, password, role,
                                     extension=extension, device=device)

    async def stop(self) -> None:
        await self._runner.cleanup()


@pytest.fixture
def live_server_setups() -> tuple:
    """Extra ``setup(app)`` callables for ``live_server``; override in a test module."""
    return ()


@pytest.fixture
async def live_server_factory(tmp_path):
    """``await start(setups=(), ari_state=None, **config_changes) -> LiveServer``.

    Each server gets its own migrated SQLite database in tmp_path unless ``database_url``
    is among ``config_changes`` (pass the same URL to share one).
    """
    import dataclasses
    import socket

    from aiohttp import web

    from callcontrol.app import build_app
    from callcontrol.config import load_config
    from callcontrol.crm.migrate import upgrade_async

    started: list[LiveServer] = []

    async def start(*, setups=(), ari_state=None, **config_changes) -> LiveServer:
        base = load_config({"CALLCONTROL_VAR_DIR": str(tmp_path / "var")})
        config_changes.setdefault(
            "database_url", f"sqlite+aiosqlite:///{tmp_path / f'live{len(started)}.db'}")
        config = dataclasses.replace(base, **config_changes)
        await upgrade_async(config.database_url)
        app = build_app(config, ari_state=ari_state, setups=setups)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        await web.SockSite(runner, sock).start()
        server = LiveServer(f"http://127.0.0.1:{sock.getsockname()[1]}", app, config, runner)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in reversed(started):
            await server.stop()


@pytest.fixture
async def live_server(live_server_factory, live_server_setups) -> LiveServer:
    return await live_server_factory(setups=live_server_setups)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        service_missing("Chromium", f"{CHROMIUM} does not exist")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path):
    """Headless Debian Chromium through Playwright (never ``playwright install``)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        service_missing("Playwright", exc)
    async with async_playwright() as pw:
        try:
            instance = await pw.chromium.launch(executable_path=chromium_path, headless=True)
        except Exception as exc:  # noqa: BLE001 - any launch failure means no browser
            service_missing("Chromium", exc)
        try:
            yield instance
        finally:
            await instance.close()


@pytest.fixture
def browser_console() -> list[str]:
    """Console errors and uncaught exceptions seen by ``page`` (CSP violations land here)."""
    return []


@pytest.fixture
async def page(browser, live_server, browser_console):
    """A fresh browser context and page whose relative URLs go to ``live_server``."""
    context = await browser.new_context(base_url=live_server.url)
    tab = await context.new_page()
    tab.set_default_timeout(5000)
    tab.on("console", lambda m: m.type == "error" and browser_console.append(m.text))
    tab.on("pageerror", lambda e: browser_console.append(str(e)))
    try:
        yield tab
    finally:
        await context.close()


async def browser_login(page, live_server, username: str, password: str) -> None:
    """Sign in through the form; raise AssertionError with the page's message on failure."""
    await page.goto(f"{live_server.url}/login")
    await page.fill("#username", username)
    await page.fill("#password", password)
    async with page.expect_navigation():
        await page.click("form[action='/login'] button[type=submit]")
    if "/login" in page.url:
        alert = page.locator("main [role=alert]")
        message = await alert.inner_text() if await alert.count() else "no message"
        raise AssertionError(f"sign-in as {username!r} failed: {message}")


@pytest.fixture
def login():
    """``await login(page, live_server, username, password)``."""
    return browser_login


@pytest.fixture
def artifacts(request) -> str:
    """A directory for this test's screenshots (``CALLCONTROL_TEST_ARTIFACTS`` or
    ``test-artifacts/`` in the checkout)."""
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    path = os.path.join(ARTIFACTS, name)
    os.makedirs(path, exist_ok=True)
    return path
