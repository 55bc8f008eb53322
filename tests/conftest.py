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
