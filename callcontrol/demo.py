"""The demo: embedded defaults, a seeded CRM, demo users and the PBX simulator placing calls.

``callcontrol demo`` (``make demo``) runs :func:`run_demo`: it prepares the database (about a
thousand contacts, two of them sharing a phone number so the chooser can be seen), resets the
demo users' passwords and prints them, starts the PBX simulator in-process as the ARI server,
and runs ``callcontrol serve`` against it. A "simulate a call" page (``/demo``, demo mode only)
places a call from a known, a shared or an unknown number; a generator places one now and then
while an agent is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcontrol.config import Config
from callcontrol.crm.models import Contact, Phone, User
from callcontrol.crm.users import create_user, hash_password

logger = logging.getLogger(__name__)

#: How the simulated agent phones behave in the demo: they ring a little, then answer.
DEVICE_ANSWER_AFTER = 4.0
#: Callers the generator places hang up after a random time in this range (seconds).
CALLER_TALK_RANGE = (25.0, 70.0)
UNKNOWN_PREFIX = "+3579955"


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    role: str
    display_name: str
    extension: str | None = None
    device: str | None = None


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("agent1", "agent", "Maria Georgiou", "1001", "PJSIP/1001"),
    DemoUser("agent2", "agent", "Andreas Nikolaou", "1002", "PJSIP/1002"),
    DemoUser("agent3", "agent", "Elena Christou", "1003", "PJSIP/1003"),
    DemoUser("supervisor", "supervisor", "Sofia Ioannou", "1010", "PJSIP/1010"),
    DemoUser("admin", "admin", "Demo administrator"),
    DemoUser("engineer", "engineer", "Telephony engineer"),
)


async def ensure_demo_users(sessions: async_sessionmaker[AsyncSession]
                            ) -> list[tuple[DemoUser, str]]:
    """Create the demo users, or give existing ones a fresh password; returns the passwords."""
    out: list[tuple[DemoUser, str]] = []
    async with sessions() as session, session.begin():
        for demo in DEMO_USERS:
            password = secrets.token_urlsafe(9)
            user = await session.scalar(select(User).where(User.username == demo.username))
            if user is None:
                await create_user(session, demo.username, password, demo.role,
                                  extension=demo.extension, device=demo.device,
                                  display_name=demo.display_name)
            else:
                user.password_hash = hash_password(password)
                user.active = True
            out.append((demo, password))
    return out


async def ensure_demo_contacts(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession],
                               contacts: int) -> int:
    """Seed ``contacts`` when the CRM is empty, and make one number shared by two contacts."""
    from callcontrol.crm.seed import seed

    async with sessions() as session:
        existing = await session.scalar(select(func.count()).select_from(Contact)) or 0
    if not existing:
        report = await seed(engine, contacts, rng_seed=2026, progress=True)
        existing = report.contacts
    async with sessions() as session, session.begin():
        if await _shared_number(session) is None:
            first, second = (await session.scalars(
                select(Contact).order_by(Contact.id).limit(2))).all()
            phone = await session.scalar(select(Phone).where(Phone.contact_id == first.id,
                                                             Phone.e164.is_not(None)).limit(1))
            if phone is not None:
                session.add(Phone(contact_id=second.id, raw=phone.raw, e164=phone.e164,
                                  type="home", is_default=False))
    return existing


async def _shared_number(session: AsyncSession) -> str | None:
    return await session.scalar(
        select(Phone.e164).where(Phone.e164.is_not(None)).group_by(Phone.e164)
        .having(func.count(func.distinct(Phone.contact_id)) > 1).limit(1))


async def pick_caller(session: AsyncSession, kind: str, rng: random.Random
                      ) -> tuple[str, str]:
    """A (number, name) for a simulated caller: ``known``, ``shared`` or ``unknown``."""
    if kind == "shared":
        number = await _shared_number(session)
        if number is not None:
            return number, "Shared line"
    if kind in ("known", "shared"):
        total = await session.scalar(select(func.count()).select_from(Phone)) or 0
        for _ in range(5 if total else 0):  # a number of exactly one contact: one pop
            row = (await session.execute(
                select(Phone.e164, Contact).join(Contact, Contact.id == Phone.contact_id)
                .where(Phone.e164.is_not(None)).order_by(Phone.id)
                .offset(rng.randrange(total)).limit(1)
            )).first()
            if row is None:
                continue
            owners = await session.scalar(select(func.count(func.distinct(Phone.contact_id)))
                                          .where(Phone.e164 == row[0]))
            if owners == 1:
                return row[0], row[1].display_name[:40]
    return f"{UNKNOWN_PREFIX}{rng.randrange(10**4):04d}", "Unknown caller"


# --- the web side: /demo (demo mode only) ------------------------------------------------

SIMULATOR = web.AppKey("demo_simulator", object)
RNG = web.AppKey("demo_rng", random.Random)


def web_setup(simulator: Any, *, call_every: float = 0.0):
    """A ``setup(app)`` adding the demo page and, if ``call_every`` > 0, the call generator."""

    def setup(app: web.Application) -> None:
        from callcontrol.web.pages import NavItem, add_nav, page

        app[SIMULATOR] = simulator
        add_nav(app, NavItem("Simulate a call", "/demo"))
        app[RNG] = random.Random()

        @page()
        async def demo_page(request: web.Request) -> web.StreamResponse:
            from callcontrol.web.pages import render

            return await render(request, "demo/index.html", {"placed": request.query.get(
                "placed"), "error": request.query.get("error")})

        @page()
        async def place(request: web.Request) -> web.StreamResponse:
            form = await request.post()
            kind = str(form.get("kind", "known"))
            if kind not in ("known", "shared", "unknown"):
                raise web.HTTPBadRequest(text="kind must be known, shared or unknown")
            number = await place_demo_call(request.app, kind)
            raise web.HTTPSeeOther(f"/demo?placed={number}")

        app.router.add_get("/demo", demo_page)
        app.router.add_post("/demo/calls", place)
        if call_every > 0:
            app.cleanup_ctx.append(_generator(call_every))

    return setup


async def place_demo_call(app: web.Application, kind: str) -> str:
    from callcontrol.web.auth import SESSIONS

    rng = app[RNG]
    async with app[SESSIONS]() as session:
        number, name = await pick_caller(session, kind, rng)
    talk = rng.uniform(*CALLER_TALK_RANGE)
    await app[SIMULATOR].place_call(number=number, name=name, extension="caller-hangup",
                                    hangup_after=talk)
    logger.info("demo: placed a %s call from %s (hangs up after %.0f s)", kind, number, talk)
    return number


def _generator(every: float):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_generate(app, every))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


async def _generate(app: web.Application, every: float) -> None:
    from callcontrol.desk.keys import AGENTS

    rng = app[RNG]
    while True:
        await asyncio.sleep(rng.uniform(every * 0.5, every * 1.5))
        try:
            ready = [a for a in await app[AGENTS].list() if a.state == "ready"]
            if ready:
                await place_demo_call(app, rng.choice(["known", "known", "shared", "unknown"]))
        except Exception:  # the generator must never stop the demo
            logger.exception("demo: placing a call failed")


# --- the command ---------------------------------------------------------------------------

def demo_config(config: Config, ari_url: str) -> Config:
    return replace(config, demo=True, ari=replace(config.ari, url=ari_url))


async def run_demo(config: Config, *, contacts: int = 1000, sim_port: int = 8088,
                   call_every: float = 45.0, stop: asyncio.Event | None = None) -> None:
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # it logs while importing
    from callcontrol.crm.db import create_engine, session_factory
    from callcontrol.crm.migrate import upgrade_async
    from callcontrol.pbxsim import PbxSimulator
    from callcontrol.server import serve

    await upgrade_async(config.database_url)
    engine = create_engine(config.database_url)
    sessions = session_factory(engine)
    try:
        total = await ensure_demo_contacts(engine, sessions, contacts)
        users = await ensure_demo_users(sessions)
    finally:
        await engine.dispose()

    sim = PbxSimulator(username=config.ari.username, password=config.ari.password,
                       recordings_dir=Path(config.var_dir) / "simulator-recordings")
    await sim.start("127.0.0.1", sim_port)
    for demo in DEMO_USERS:
        if demo.device:
            sim.set_device(demo.device, answer_after=DEVICE_ANSWER_AFTER, behaviour="answer")
    config = demo_config(config, sim.url)
    _print_banner(config, total, users, sim.url)
    try:
        await serve(config, migrate=False, with_agi=True,
                    extra_setups=(web_setup(sim, call_every=call_every),), stop=stop)
    finally:
        await sim.close()


def _print_banner(config: Config, contacts: int, users: list[tuple[DemoUser, str]],
                  sim_url: str) -> None:
    url = f"http://{config.http.host}:{config.http.port}"
    lines = [
        "",
        f"callcontrol demo: open {url}/login",
        f"  CRM: {contacts} contacts in {config.database_url}",
        f"  PBX simulator (ARI): {sim_url}  user/password {config.ari.username}/"
        f"{config.ari.password}",
        f"  simulate a call: {url}/demo (agents' phones answer after "
        f"{DEVICE_ANSWER_AFTER:.0f} s)",
        "  users (passwords are new on every start):",
    ]
    for demo, password in users:
        where = f"  extension {demo.extension}, device {demo.device}" if demo.device else ""
        lines.append(f"    {demo.username:<11} {password:<14} {demo.role:<10}{where}")
    lines.append("  Ctrl-C stops the demo.")
    print("\n".join(lines), flush=True)
