"""Seeded CRM databases to measure against, kept between runs (seeding a million contacts
takes minutes): SQLite files under ``var/bench/``, PostgreSQL databases ``cc_bench_<N>``."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import Contact
from callcontrol.crm.seed import seed

logger = logging.getLogger(__name__)
CACHE = Path(__file__).resolve().parents[1] / "var" / "bench"


class BackendUnavailable(RuntimeError):
    """The database server for a backend cannot be reached."""


@dataclass
class Dataset:
    backend: str
    url: str
    contacts: int
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    version: str
    seeded_seconds: float | None  # None: reused from an earlier run

    async def close(self) -> None:
        await self.engine.dispose()


async def _count(engine: AsyncEngine) -> int | None:
    try:
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(Contact))).scalar()
            return int(count or 0)
    except Exception:  # noqa: BLE001 - no table yet, or an unreadable file: seed again
        return None


async def _pg_admin(admin_url: str, sql: str) -> str | None:
    import asyncpg

    try:
        conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"),
                                     timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        raise BackendUnavailable(f"PostgreSQL at {admin_url}: {exc}") from exc
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def _sqlite_file(cache: Path, contacts: int, fresh: bool) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"sqlite-{contacts}.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


async def _fresh_url(backend: str, contacts: int, admin_url: str, fresh: bool,
                     cache: Path) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{_sqlite_file(cache, contacts, fresh)}"
    name = f"cc_bench_{contacts}"
    exists = await _pg_admin(admin_url, f"SELECT 1 FROM pg_database WHERE datname = '{name}'")
    if exists and fresh:
        await _pg_admin(admin_url, f'DROP DATABASE "{name}" WITH (FORCE)')
    if not exists or fresh:
        await _pg_admin(admin_url, f'CREATE DATABASE "{name}"')
    base = admin_url.replace("postgresql://", "postgresql+asyncpg://", 1).rsplit("/", 1)[0]
    return f"{base}/{name}"


async def _analyze(engine: AsyncEngine, backend: str) -> None:
    # Planner statistics, as autovacuum (PostgreSQL) or PRAGMA optimize would leave them.
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


async def prepare(backend: str, contacts: int, *, admin_url: str, fresh: bool = False,
                  cache: Path = CACHE) -> Dataset:
    """A migrated database holding exactly ``contacts`` seeded contacts."""
    url = await _fresh_url(backend, contacts, admin_url, fresh, cache)
    await upgrade_async(url)
    engine = create_engine(url)
    seeded: float | None = None
    have = await _count(engine)
    if have != contacts:
        if have:  # a different or half-finished seed: start over
            await engine.dispose()
            url = await _fresh_url(backend, contacts, admin_url, True, cache)
            await upgrade_async(url)
            engine = create_engine(url)
        started = time.monotonic()
        await seed(engine, contacts, progress=contacts >= 100_000)
        await _analyze(engine, backend)
        seeded = time.monotonic() - started
    async with engine.connect() as conn:
        query = "SELECT sqlite_version()" if backend == "sqlite" else "SHOW server_version"
        version = str((await conn.execute(text(query))).scalar())
    return Dataset(backend, url, contacts, engine, session_factory(engine), version, seeded)
