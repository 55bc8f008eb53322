"""Deterministic bulk seeding of realistic CRM data (COPY on PostgreSQL, executemany on SQLite)."""

from __future__ import annotations

import logging
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from tqdm import tqdm

from callcontrol.crm.models import Base, Contact, RewardScheme
from callcontrol.crm.models.contacts import search_name_of
from callcontrol.crm.seed_data import (
    COMPANY_TRADES,
    COMPANY_WORDS,
    FLASH_TEXTS,
    ITEMS,
    LOCALES,
    OPTIONAL,
    SERVICES,
    SR_SUBJECTS,
    Locale,
)
from callcontrol.crm.seed_extras import extras, money_extras
from callcontrol.crm.states import LIFECYCLES

logger = logging.getLogger(__name__)
BATCH = 10_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class SeedError(RuntimeError):
    """The database is not empty and appending was not asked for."""


@dataclass
class SeedReport:
    contacts: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Ids:
    """Next primary key per table, so rows can reference each other without RETURNING."""

    next: dict[str, int]

    def take(self, table: str) -> int:
        value = self.next[table]
        self.next[table] = value + 1
        return value


class _Batch:
    def __init__(self, rng: random.Random, ids: _Ids, scheme_id: int) -> None:
        self.rng, self.ids, self.scheme_id = rng, ids, scheme_id
        self.prev_contact: int | None = None
        self.rows: dict[str, list[dict[str, Any]]] = {}
        self.last_phone: tuple[str, str] | None = None

    def add(self, table: str, **row: Any) -> int:
        row.setdefault("id", self.ids.take(table))
        self.rows.setdefault(table, []).append(row)
        return int(row["id"])


def _phone(rng: random.Random, loc: Locale) -> tuple[str, str]:
    prefix = rng.choice(loc.mobile_prefixes)
    sub = "".join(rng.choice("0123456789") for _ in range(loc.subscriber_digits))
    e164 = f"+{loc.country_code}{prefix}{sub}"
    national = f"{loc.trunk}{prefix}{sub}"
    style = rng.randrange(4)
    if style == 0:
        raw = f"+{loc.country_code} {prefix} {sub}"
    elif style == 1:
        raw = f"00{loc.country_code}-{prefix}-{sub[:3]}-{sub[3:]}"
    elif style == 2:
        raw = f"({loc.trunk}{prefix}) {sub}"
    else:
        raw = national
    return raw, e164


def _contact(b: _Batch, loc: Locale, now: datetime) -> int:
    rng = b.rng
    company = rng.random() < 0.15
    first = last = company_name = None
    if company:
        company_name = (f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_TRADES)} "
                        f"{loc.company_suffix}")
    else:
        first, last = rng.choice(loc.first_names), rng.choice(loc.last_names)
    cid, kind = b.ids.next["contacts"], "company" if company else "person"
    return b.add(
        "contacts", code=f"C-{cid:07d}", kind=kind,
        first_name=first, last_name=last, company_name=company_name,
        search_name=search_name_of(kind, first, None, last, company_name),
        language=loc.language, vip=rng.random() < 0.02, notes=None, title=None,
        middle_name=None, created_at=now, updated_at=now,
    )


def _phones(b: _Batch, cid: int, loc: Locale) -> None:
    rng = b.rng
    shared = b.last_phone is not None and rng.random() < 0.05
    raw, e164 = b.last_phone if shared and b.last_phone else _phone(rng, loc)
    b.last_phone = (raw, e164)
    b.add("phones", contact_id=cid, raw=raw, e164=e164, type="mobile", is_default=True)
    if rng.random() < 0.3:
        raw2, e2 = _phone(rng, loc)
        b.add("phones", contact_id=cid, raw=raw2, e164=e2, type="home", is_default=False)


def _sections(b: _Batch, cid: int, loc: Locale, now: datetime) -> None:
    rng = b.rng
    if rng.random() < 0.5:
        b.add("emails", contact_id=cid, address=f"c{cid}@example.{loc.region.lower()}",
              type="personal", is_default=True)
    if rng.random() < 0.6:
        b.add("addresses", contact_id=cid, type=rng.choice(("subscription", "billing", "other")),
              line1=f"{rng.randint(1, 200)} {rng.choice(loc.streets)}", line2=None,
              city=rng.choice(loc.cities), postal_code=f"{rng.randint(1000, 99999)}",
              district=None, country=loc.region, is_default=True)
    if rng.random() < 0.2:
        b.add("access_tokens", contact_id=cid, number=f"T{cid:010d}", type="card", active=True,
              created_at=now, updated_at=now)
    if rng.random() < 0.4:
        _account(b, cid, loc, now)
    if rng.random() < 0.15:
        _service_request(b, cid, now)
    if rng.random() < 0.02:
        b.add("flash_notes", contact_id=cid, account_id=None, text=rng.choice(FLASH_TEXTS),
              expires_at=now + timedelta(days=rng.randint(-10, 30)), created_at=now,
              updated_at=now)


def _account(b: _Batch, cid: int, loc: Locale, now: datetime) -> None:
    rng = b.rng
    balance = Decimal(rng.randint(-5000, 50000)) / 100
    aid = b.add("accounts_receivable", contact_id=cid, number=f"A{cid:09d}", balance=balance,
                currency=loc.currency, created_at=now, updated_at=now)
    if rng.random() < 0.6:
        sid = b.add("subscriptions", account_id=aid, number=f"S{cid:09d}", state="active",
                    billing_terms=rng.choice(("monthly", "quarterly", "yearly")),
                    started_at=now - timedelta(days=rng.randint(1, 2000)),
                    created_at=now, updated_at=now)
        b.add("subscription_services", subscription_id=sid, name=rng.choice(SERVICES),
              mandatory=True)
        if rng.random() < 0.3:
            b.add("subscription_services", subscription_id=sid, name=rng.choice(OPTIONAL),
                  mandatory=False)
        b.add("installed_items", subscription_id=sid, name=rng.choice(ITEMS),
              serial_number=f"SN{sid:010d}")
    if rng.random() < 0.5:
        amount = Decimal(rng.randint(1000, 9000)) / 100
        b.add("bills", account_id=aid, number=f"B{aid:09d}", issued_at=now, due_at=now,
              amount=amount, state="posted")
        b.add("payments", account_id=aid, amount=amount, method="card", paid_at=now)
        money_extras(b, aid, loc.currency, amount, now)


def _service_request(b: _Batch, cid: int, now: datetime) -> None:
    state = b.rng.choice(LIFECYCLES["service_request"].all)
    b.add("service_requests", contact_id=cid, number=f"SR{b.ids.next['service_requests']:09d}",
          state=state, subject=b.rng.choice(SR_SUBJECTS), description=None,
          assigned_to_id=None, priority="normal", created_at=now, updated_at=now)


def _generate(
    rng: random.Random, ids: _Ids, count: int, scheme_id: int
) -> dict[str, list[dict[str, Any]]]:
    b = _Batch(rng, ids, scheme_id)
    for _ in range(count):
        loc = rng.choice(LOCALES)
        now = EPOCH - timedelta(minutes=rng.randint(0, 525_600))
        cid = _contact(b, loc, now)
        _phones(b, cid, loc)
        if rng.random() < 0.7:
            _sections(b, cid, loc, now)
            extras(b, cid, b.prev_contact, scheme_id, now)
        b.prev_contact = cid
    return b.rows


async def _write(conn: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        columns = [c.name for c in table.columns]
        records = [tuple(r.get(c) for c in columns) for r in rows]
        await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
            table.name, records=records, columns=columns)
    else:
        await conn.execute(insert(table), rows)


async def _next_ids(conn: AsyncConnection) -> _Ids:
    next_ids = {}
    for name, table in Base.metadata.tables.items():
        if "id" not in table.c:  # e.g. agent_status (keyed by user), once its model is imported
            continue
        top = (await conn.execute(select(func.max(table.c.id)))).scalar()
        next_ids[name] = int(top or 0) + 1
    return _Ids(next_ids)


async def _scheme(conn: AsyncConnection) -> int:
    """The id of the "Loyalty" reward scheme the seeded participants join (created once)."""
    found = (await conn.execute(
        select(RewardScheme.id).where(RewardScheme.name == "Loyalty"))).scalar()
    if found is None:
        found = (await conn.execute(
            insert(RewardScheme).values(name="Loyalty").returning(RewardScheme.id))).scalar()
    return int(found or 0)


async def _fix_sequences(conn: AsyncConnection) -> None:
    if conn.dialect.name != "postgresql":
        return
    for name, table in Base.metadata.tables.items():
        if "id" not in table.c:
            continue
        await conn.execute(text(
            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 - our names
            f"COALESCE((SELECT max(id) FROM {name}), 0) + 1, false)"))


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


async def seed(
    session_factory_or_engine: AsyncEngine | async_sessionmaker[Any], contacts: int, *,
    rng_seed: int = 42, progress: bool = True, append: bool = False,
) -> SeedReport:
    """Insert ``contacts`` realistic contacts (deterministic for ``rng_seed``) with sections."""
    import time

    engine = _engine_of(session_factory_or_engine)
    started, report, rng = time.monotonic(), SeedReport(), random.Random(rng_seed)
    async with engine.begin() as conn:
        existing = (await conn.execute(select(func.count()).select_from(Contact))).scalar()
        if existing and not append:
            raise SeedError(f"database already has {existing} contacts; use --append to add")
        scheme_id = await _scheme(conn)
        ids = await _next_ids(conn)
    bar = tqdm(total=contacts, unit="contact", file=sys.stderr, disable=not progress)
    for size in _chunks(contacts, BATCH):
        rows = _generate(rng, ids, size, scheme_id)
        async with engine.begin() as conn:
            for table in Base.metadata.sorted_tables:
                if rows.get(table.name):
                    await _write(conn, table, rows[table.name])
                    report.rows[table.name] = report.rows.get(table.name, 0) + len(
                        rows[table.name])
        bar.update(size)
    bar.close()
    async with engine.begin() as conn:
        await _fix_sequences(conn)
    report.contacts, report.seconds = contacts, time.monotonic() - started
    logger.info("seeded %s contacts in %.1f s", contacts, report.seconds)
    return report


def _engine_of(source: AsyncEngine | async_sessionmaker[Any]) -> AsyncEngine:
    if isinstance(source, AsyncEngine):
        return source
    bind = source.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("session factory is not bound to an AsyncEngine")
    return bind
