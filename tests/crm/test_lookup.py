"""The screen-pop look-up: its answers (0, 1 and several matches, VIPs first, the summary),
the number of SQL statements it costs, and that its compiled statement is reused."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine.interfaces import CacheStats

from callcontrol.agi.crm import find_callers
from callcontrol.crm import lookup
from callcontrol.crm.lookup import ContactMatch, find_contacts_by_phone
from callcontrol.crm.models import (
    AccountReceivable,
    Contact,
    FlashNote,
    Phone,
    ServiceRequest,
)
from callcontrol.crm.seed import seed
from callcontrol.crm.states import open_states

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NUMBER = "+35799111222"


@contextmanager
def statements(engine):
    """Every SQL statement the engine sends, with whether its compiled form was cached."""
    seen: list[tuple[str, CacheStats]] = []

    def record(_conn, _cursor, statement, _params, context, _many):
        seen.append((statement, context.cache_hit))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _person(s, first, last, *, vip=False, numbers=(NUMBER,)):
    contact = Contact(kind="person", first_name=first, last_name=last, vip=vip)
    s.add(contact)
    await s.flush()
    for n in numbers:
        s.add(Phone(contact_id=contact.id, raw=n, e164=n))
    return contact


async def test_unknown_number_is_one_statement_and_empty(db) -> None:
    async with db.sessions.begin() as s:
        await _person(s, "Eleni", "Charalambous", numbers=("+35799000001",))
    async with db.sessions() as s:
        with statements(db.engine) as seen:
            assert await find_contacts_by_phone(s, "+35799000999", now=NOW) == []
    assert len(seen) == 1


async def test_one_match_with_its_whole_summary(db) -> None:
    async with db.sessions.begin() as s:
        anna = await _person(s, "Anna", "Nowak")
        await _person(s, "Ivan", "Petrov", numbers=("+79123456789",))
        a1 = AccountReceivable(contact_id=anna.id, number="A-1", balance=Decimal("12.50"),
                               currency="EUR")
        a2 = AccountReceivable(contact_id=anna.id, number="A-2", balance=Decimal("-2.25"),
                               currency="EUR")
        s.add_all([a1, a2])
        await s.flush()
        for i, state in enumerate(
                [*open_states("service_request"), "Completed", "Cancelled"]):
            s.add(ServiceRequest(contact_id=anna.id, number=f"SR-{i}", state=state))
        s.add_all([
            FlashNote(contact_id=anna.id, text="Call back after 5"),
            FlashNote(contact_id=anna.id, text="Expires tomorrow",
                      expires_at=NOW + timedelta(days=1)),
            FlashNote(contact_id=anna.id, text="Expired", expires_at=NOW - timedelta(days=1)),
            FlashNote(account_id=a1.id, text="Account blocked"),
            FlashNote(account_id=a2.id, text="Old dunning", expires_at=NOW),
            # Notes travel as JSON arrays: quotes, backslashes, commas, newlines, non-ASCII.
            FlashNote(account_id=a2.id, text='Said "no", \\ then\nŁódź ✓ \x1f[]'),
        ])
    async with db.sessions() as s:
        with statements(db.engine) as seen:
            matches = await find_contacts_by_phone(s, NUMBER, now=NOW)
    assert len(seen) == 1
    assert matches == [ContactMatch(
        id=anna.id, code=anna.code, name="Anna Nowak", kind="person", vip=False,
        open_service_requests=len(open_states("service_request")),
        balance_due=Decimal("10.25"), currency="EUR",
        flash_notes=("Account blocked", "Call back after 5", "Expires tomorrow",
                     'Said "no", \\ then\nŁódź ✓ \x1f[]'),
    )]


async def test_several_matches_vips_first_each_with_its_own_summary(db) -> None:
    async with db.sessions.begin() as s:
        plain = await _person(s, "Andreas", "Georgiou")
        # The same number twice on one contact still gives one match.
        vip = await _person(s, "Maria", "Georgiou", vip=True, numbers=(NUMBER, NUMBER))
        company = Contact(kind="company", company_name="Georgiou Ltd", vip=True)
        s.add(company)
        await s.flush()
        s.add(Phone(contact_id=company.id, raw="22 111 222", e164=NUMBER))
        account = AccountReceivable(contact_id=company.id, number="A-9",
                                    balance=Decimal("99.99"), currency="USD")
        s.add(account)
        await s.flush()
        s.add_all([
            ServiceRequest(contact_id=plain.id, number="SR-1", state="Pending"),
            ServiceRequest(contact_id=company.id, number="SR-2", state="Responded"),
            ServiceRequest(contact_id=company.id, number="SR-3", state="Draft"),
            FlashNote(contact_id=vip.id, text="Prefers Greek"),
            FlashNote(account_id=account.id, text="Key account"),
            # An account note that names its own contact belongs to that contact only.
            FlashNote(account_id=account.id, contact_id=plain.id, text="Ask about the van"),
        ])
    async with db.sessions() as s:
        with statements(db.engine) as seen:
            matches = await find_contacts_by_phone(s, NUMBER, now=NOW)
    assert len(seen) == 1
    assert [(m.id, m.name, m.kind, m.vip) for m in matches] == [
        (vip.id, "Maria Georgiou", "person", True),
        (company.id, "Georgiou Ltd", "company", True),
        (plain.id, "Andreas Georgiou", "person", False),
    ]
    by_id = {m.id: m for m in matches}
    assert (by_id[vip.id].open_service_requests, by_id[vip.id].balance_due,
            by_id[vip.id].currency, by_id[vip.id].flash_notes) == (
        0, Decimal("0.00"), None, ("Prefers Greek",))
    assert (by_id[company.id].open_service_requests, by_id[company.id].balance_due,
            by_id[company.id].currency, by_id[company.id].flash_notes) == (
        2, Decimal("99.99"), "USD", ("Key account",))
    assert (by_id[plain.id].open_service_requests, by_id[plain.id].balance_due,
            by_id[plain.id].flash_notes) == (1, Decimal("0.00"), ("Ask about the van",))

    async with db.sessions() as s:
        top = await find_contacts_by_phone(s, NUMBER, limit=2, now=NOW)
        none = await find_contacts_by_phone(s, NUMBER, limit=0, now=NOW)
    assert [m.id for m in top] == [vip.id, company.id] and none == []
    assert top == matches[:2]


async def test_the_compiled_statement_is_reused(db) -> None:
    async with db.sessions.begin() as s:
        await _person(s, "Nikos", "Ioannou")
    async with db.sessions() as s:
        await find_contacts_by_phone(s, NUMBER)
        await find_callers(s, NUMBER)
    for _ in range(2):
        async with db.sessions() as s:
            with statements(db.engine) as seen:
                assert len(await find_contacts_by_phone(s, NUMBER)) == 1
                assert len(await find_contacts_by_phone(s, "+35799000000", limit=3)) == 0
                assert len(await find_callers(s, NUMBER)) == 1
        assert [hit for _sql, hit in seen] == [CacheStats.CACHE_HIT] * 3
        # The fixed service-request states are part of the SQL, not a list rendered per call.
        assert all("POSTCOMPILE" not in sql for sql, _hit in seen)


async def test_bad_arguments_get_clear_errors(db) -> None:
    async with db.sessions() as s:
        with statements(db.engine) as seen:
            assert await find_contacts_by_phone(s, "") == []
            assert await find_callers(s, "") == []
            with pytest.raises(ValueError, match="limit"):
                await find_contacts_by_phone(s, NUMBER, limit=-1)
            with pytest.raises(TypeError, match="e164"):
                await find_contacts_by_phone(s, 35799111222)  # type: ignore[arg-type]
    assert seen == []


async def test_every_table_is_reached_through_an_index(db) -> None:
    """The plan probes indexes only: no table scan, and on SQLite no Bloom filter (built by
    scanning the whole inner table), so the cost does not grow with the CRM."""
    compiled = lookup._POP.compile(dialect=db.engine.dialect)
    values = {"e164": NUMBER, "limit": 10, "now": NOW}
    if db.engine.dialect.name == "sqlite":
        values["now"] = NOW.strftime("%Y-%m-%d %H:%M:%S.%f")
    params = tuple(compiled.construct_params(values)[k] for k in compiled.positiontup)
    async with db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            plan = [row[3] for row in await conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + str(compiled), params)]
            assert not [step for step in plan if step.startswith("SCAN ")
                        and step != "SCAN matched"], plan
            assert not [step for step in plan if "BLOOM" in step], plan
        else:
            # With sequential scans priced out, a Seq Scan means no index can serve a part.
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = [row[0] for row in await conn.exec_driver_sql(
                "EXPLAIN " + str(compiled), params)]
            assert not [step for step in plan if "Seq Scan" in step], plan
    text = "\n".join(plan)
    for index in ("ix_phones_e164", "ix_service_requests_contact_id",
                  "ix_accounts_receivable_contact_id", "ix_flash_notes_contact_id"):
        assert index in text, (index, plan)


async def _reference(s, e164: str, limit: int, now: datetime) -> list[ContactMatch]:
    """The look-up written the plain ORM way, one query per part, as an oracle."""
    ids = select(Phone.contact_id).where(Phone.e164 == e164)
    contacts = (await s.execute(select(Contact).where(Contact.id.in_(ids)).order_by(
        Contact.vip.desc(), Contact.id).limit(limit))).scalars().all()
    out = []
    for c in contacts:
        requests = (await s.execute(select(ServiceRequest.state).where(
            ServiceRequest.contact_id == c.id))).scalars().all()
        accounts = (await s.execute(select(AccountReceivable).where(
            AccountReceivable.contact_id == c.id))).scalars().all()
        notes = (await s.execute(select(FlashNote))).scalars().all()
        account_ids = {a.id for a in accounts}
        live = [n.text for n in notes
                if (n.contact_id == c.id or (n.contact_id is None and n.account_id in account_ids))
                and (n.expires_at is None or n.expires_at > now)]
        out.append(ContactMatch(
            id=c.id, code=c.code, name=c.display_name, kind=c.kind, vip=c.vip,
            open_service_requests=sum(r in open_states("service_request") for r in requests),
            balance_due=sum((a.balance for a in accounts), Decimal("0")).quantize(
                Decimal("0.01")),
            currency=min((a.currency for a in accounts), default=None),
            flash_notes=tuple(sorted(live)),
        ))
    return out


async def test_agrees_with_a_plain_orm_reading_on_seeded_data(db) -> None:
    await seed(db.engine, 150, progress=False)
    async with db.sessions.begin() as s:
        numbers = list((await s.execute(
            select(Phone.e164).where(Phone.e164.is_not(None)).limit(60))).scalars())
        accounts = (await s.execute(select(AccountReceivable).limit(20))).scalars().all()
        for i, account in enumerate(accounts):  # the seed writes no account-level notes
            s.add(FlashNote(account_id=account.id, text=f"account note {i}",
                            expires_at=None if i % 2 else NOW - timedelta(hours=i)))
        for number in numbers[:5]:  # shared numbers: several matches
            other = await _person(s, "Shared", number[-4:], vip=True, numbers=(number,))
            s.add(ServiceRequest(contact_id=other.id, number=f"SR-x{other.id}",
                                 state="Pending"))
        account_numbers = list((await s.execute(
            select(Phone.e164).where(Phone.contact_id.in_(
                [a.contact_id for a in accounts])))).scalars())
    checked = 0
    async with db.sessions() as s:
        for e164 in [*numbers, *account_numbers, "+447700900123"]:
            for limit in (10, 1):
                got = await find_contacts_by_phone(s, e164, limit=limit, now=NOW)
                assert got == await _reference(s, e164, limit, NOW), (e164, limit)
                checked += len(got)
    assert checked > 60
