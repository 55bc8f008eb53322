"""Contact view (issue #8 item 5): the server time to render a heavy contact.

A heavy contact (hundreds of bills, payments, transactions, communications, jobs, service
requests and activities, several subscriptions) is added with the CRM models to a small
seeded database of its own (SQLite file / PostgreSQL ``cc_bench_view``; the shared
million-contact datasets keep their exact contact count). The whole web app
(``callcontrol.server.create_app``) serves it in the benchmark process; one sample is the
loopback round trip of one request with an agent's bearer token:

- ``GET /cc/contacts/{id}``: the page (header, action panel, the info section);
- ``GET /cc/contacts/{id}/sections/{name}``: each lazy section (an htmx partial, what the
  page's "Show ..." links open);
- the lazy sections as the page loads them: the requests its HTML makes once loaded
  (``hx-trigger="load"``), together; since the page asks for its five sections in one
  request (``GET /cc/contacts/{id}/sections``), that is one request;
- the whole view: the page, then those requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestServer
from sqlalchemy import func, select

from bench.datasets import CACHE, Dataset
from bench.report import Row
from callcontrol.cc.contact_view import SECTIONS
from callcontrol.config import load_config
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import (
    AccountReceivable,
    Activity,
    ApiToken,
    Bill,
    Communication,
    Contact,
    FinancialTransaction,
    InstalledItem,
    Job,
    Payment,
    ServiceRequest,
    Subscription,
    SubscriptionService,
    User,
)
from callcontrol.crm.models.base import utcnow
from callcontrol.crm.users import hash_password, token_hash
from callcontrol.pbxsim import PbxSimulator

NAME = "contact-view"
TITLE = "Contact view: server time to render a heavy contact (page, lazy sections, whole view)"
TARGET_P95_MS = 50.0
SAMPLES = {"smoke": 30, "full": 200}
WARMUP = 3
PG_DATABASE = "cc_bench_view"
FILLER = 200


# Rows hung on the heavy contact, per kind.
HEAVY = {"accounts": 3, "subscriptions": 6, "bills": 400, "payments": 400,
         "transactions": 400, "communications": 400, "jobs": 300, "service_requests": 200,
         "activities": 200}


async def add_filler_contacts(sessions, count: int) -> None:  # noqa: ANN001
    """Plain contacts around the heavy one (its sections are what is measured)."""
    async with sessions() as session, session.begin():
        session.add_all([Contact(kind="person", first_name="Filler", last_name=f"Person {i}",
                                 search_name=f"filler person {i}") for i in range(count)])


async def add_heavy_contact(sessions, counts: dict[str, int] = HEAVY) -> int:  # noqa: ANN001
    """A person with ``counts`` rows of each kind; returns the contact id."""
    now = utcnow()
    tag = secrets.token_hex(4)
    async with sessions() as session, session.begin():
        contact = Contact(kind="person", first_name="Heavy", last_name=f"Customer {tag}",
                          search_name=f"heavy customer {tag}")
        session.add(contact)
        await session.flush()
        accounts = [AccountReceivable(contact_id=contact.id, number=f"AR-H{tag}-{i}",
                                      balance=Decimal("125.50"))
                    for i in range(counts["accounts"])]
        session.add_all(accounts)
        await session.flush()
        subs = [Subscription(account_id=accounts[i % len(accounts)].id,
                             number=f"SUB-H{tag}-{i}", state="active", started_at=now)
                for i in range(counts["subscriptions"])]
        session.add_all(subs)
        await session.flush()
        for s in subs:
            session.add_all([SubscriptionService(subscription_id=s.id, name=f"Service {k}")
                             for k in range(4)])
            session.add_all([InstalledItem(subscription_id=s.id, name=f"Router {k}",
                                           serial_number=f"SN{tag}{s.id}{k}")
                             for k in range(2)])
        for i in range(counts["bills"]):
            session.add(Bill(account_id=accounts[i % len(accounts)].id,
                             number=f"B-H{tag}-{i}", issued_at=now - timedelta(days=i),
                             due_at=now - timedelta(days=i - 30), amount=Decimal("42.00"),
                             state="posted"))
        for i in range(counts["payments"]):
            session.add(Payment(account_id=accounts[i % len(accounts)].id,
                                amount=Decimal("42.00"), paid_at=now - timedelta(days=i)))
        for i in range(counts["transactions"]):
            session.add(FinancialTransaction(account_id=accounts[i % len(accounts)].id,
                                             type="bill" if i % 2 else "payment",
                                             amount=Decimal("42.00"),
                                             posted_at=now - timedelta(days=i),
                                             details={"ref": i}))
        for i in range(counts["communications"]):
            session.add(Communication(direction="incoming" if i % 3 else "outgoing",
                                      state="completed", subject=f"Call about bill {i}",
                                      content="Customer asked about the bill. " * 3,
                                      contact_id=contact.id, call_id=f"bench:h{tag}{i}",
                                      caller_number="+35799123456",
                                      started_at=now - timedelta(hours=i),
                                      duration_seconds=60 + i))
        for i in range(counts["jobs"]):
            session.add(Job(contact_id=contact.id, state=("Pending", "Completed")[i % 2],
                            subject=f"Install line {i}", type="installation"))
        for i in range(counts["service_requests"]):
            session.add(ServiceRequest(contact_id=contact.id, number=f"SR-H{tag}-{i}",
                                       state=("Pending", "Completed")[i % 2],
                                       subject=f"No dial tone {i}"))
        for i in range(counts["activities"]):
            session.add(Activity(contact_id=contact.id, state=("Pending", "Completed")[i % 2],
                                 subject=f"Call back {i}"))
        return contact.id


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def view_database(ds: Dataset) -> AsyncIterator[str]:
    """A fresh migrated database for the heavy contact, on the dataset's backend."""
    if ds.backend == "sqlite":
        path = CACHE / "contact-view.db"
        await asyncio.to_thread(_remove_sqlite, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    server = ds.url.replace("postgresql+asyncpg://", "postgresql://", 1).rsplit("/", 1)[0]
    admin = f"{server}/postgres"
    await _pg_admin(admin, f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
    await _pg_admin(admin, f'CREATE DATABASE "{PG_DATABASE}"')
    yield f"{server.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{PG_DATABASE}"


def _remove_sqlite(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def _agent_token(sessions) -> str:  # noqa: ANN001
    async with sessions() as session, session.begin():
        user = User(username=f"bench-view-{secrets.token_hex(3)}", role="agent",
                    password_hash=hash_password(secrets.token_urlsafe(16)), active=True)
        session.add(user)
        await session.flush()
        token = "cc_" + secrets.token_urlsafe(32)
        session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
    return token


async def _get(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    return len(await _body(http, url, headers))


async def _body(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> bytes:
    async with http.get(url, headers=headers, allow_redirects=False) as resp:
        body = await resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {url}: {resp.status} {body[:300]!r}")
        return body


_ON_LOAD = re.compile(r'<[^>]*\bhx-trigger="load"[^>]*>')
_HX_GET = re.compile(r'\bhx-get="([^"]+)"')


def loaded_by(html: str) -> list[str]:
    """The paths a page requests as soon as it is loaded (htmx ``hx-trigger="load"``)."""
    return [found.group(1) for tag in _ON_LOAD.findall(html)
            if (found := _HX_GET.search(tag)) is not None]


async def measure(url: str, *, samples: int, backend: str) -> list[Row]:
    await upgrade_async(url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        await add_filler_contacts(sessions, FILLER)
        contact_id = await add_heavy_contact(sessions)
        token = await _agent_token(sessions)
        async with sessions() as session:
            comms = await session.scalar(select(func.count()).select_from(Communication)
                                         .where(Communication.contact_id == contact_id))
    finally:
        await engine.dispose()
    from callcontrol.server import create_app

    with tempfile.TemporaryDirectory(prefix="cc-view-") as tmp:
        sim = PbxSimulator(recordings_dir=Path(tmp) / "sim")
        await sim.start("127.0.0.1", 0)
        config = load_config(env={
            "CALLCONTROL_DATABASE_URL": url, "CALLCONTROL_ARI_URL": sim.url,
            "CALLCONTROL_VAR_DIR": str(Path(tmp) / "var"),
            "CALLCONTROL_SECRET_KEY": secrets.token_urlsafe(40),
            "CALLCONTROL_LOG_LEVEL": "WARNING"})
        server = TestServer(create_app(config, with_agi=False))
        await server.start_server()
        headers = {"Authorization": f"Bearer {token}"}
        page = str(server.make_url(f"/cc/contacts/{contact_id}"))
        sections = [f"{page}/sections/{name}" for name in SECTIONS[1:]]
        try:
            async with aiohttp.ClientSession() as http:
                html = await _body(http, page, headers)
                loaded = [str(server.make_url(path)) for path in loaded_by(html.decode())]
                if not loaded:
                    raise RuntimeError("the contact page loads no lazy section")
                for url_ in [page, *sections, *loaded] * WARMUP:
                    await _get(http, url_, headers)
                rows = [await _timed(http, backend, "page /cc/contacts/{id}", [page], headers,
                                     samples, target=True,
                                     note=f"{len(html):,} bytes of HTML; the info section "
                                          "inline")]
                for name, url_ in zip(SECTIONS[1:], sections, strict=True):
                    rows.append(await _timed(http, backend, f"section {name}", [url_],
                                             headers, samples))
                rows.append(await _lazy(http, backend, loaded, headers, samples))
                rows.append(await _whole(http, backend, page, loaded, headers, samples))
        finally:
            await server.close()
            await sim.close()
    rows[0].note += f"; heavy contact: {_heavy_text()}, {comms} communications"
    return rows


def _heavy_text() -> str:
    return ", ".join(f"{v} {k}" for k, v in HEAVY.items() if k != "communications")


async def _timed(http: aiohttp.ClientSession, backend: str, case: str, urls: list[str],
                 headers: dict[str, str], samples: int, *, target: bool = False,
                 note: str = "") -> Row:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        for url in urls:
            await _get(http, url, headers)
        times.append((time.perf_counter() - start) * 1000)
    return Row.timed(backend, case, times, note=note,
                     target=f"p95 < {TARGET_P95_MS:g} ms" if target else "",
                     limit=("p95", TARGET_P95_MS) if target else None)


def _requests(loaded: list[str]) -> str:
    paths = ", ".join(sorted({urlsplit(u).path for u in loaded}))
    return f"{len(loaded)} request{'s' if len(loaded) > 1 else ''} ({paths})"


async def _lazy(http: aiohttp.ClientSession, backend: str, loaded: list[str],
                headers: dict[str, str], samples: int) -> Row:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        await asyncio.gather(*(_get(http, u, headers) for u in loaded))
        times.append((time.perf_counter() - start) * 1000)
    return Row.timed(backend, "lazy sections as the page loads them", times,
                     note=f"what the page requests once loaded, together: {_requests(loaded)}")


async def _whole(http: aiohttp.ClientSession, backend: str, page: str, loaded: list[str],
                 headers: dict[str, str], samples: int) -> Row:
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        await _get(http, page, headers)
        await asyncio.gather(*(_get(http, u, headers) for u in loaded))
        times.append((time.perf_counter() - start) * 1000)
    return Row.timed(backend, "whole view (page + lazy sections together)", times,
                     target=f"p95 < {TARGET_P95_MS:g} ms", limit=("p95", TARGET_P95_MS),
                     note="the page, then what it requests once loaded (htmx hx-trigger=load), "
                          f"together as htmx does: {_requests(loaded)}")


async def run(ds: Dataset, *, mode: str = "smoke", queries: int | None = None) -> list[Row]:
    samples = queries or SAMPLES[mode]
    async with view_database(ds) as url:
        return await measure(url, samples=samples, backend=ds.backend)
