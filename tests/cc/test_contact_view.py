"""Contact sections: capped by the definition, tabs by life-cycle, no N+1 on heavy contacts."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import event

from callcontrol.cc.contact_view import SECTIONS, load_contact, section
from callcontrol.crm.models import (
    Activity,
    Bill,
    Communication,
    CustomerEvent,
    FinancialTransaction,
    InstalledItem,
    Job,
    Lead,
    Notification,
    Payment,
    RewardTransaction,
    ServiceRequest,
    SubscriptionService,
    Wallet,
    utcnow,
)
from callcontrol.crm.states import LIFECYCLES
from tests.cc import factories as f


async def make_customer(session, name: str, n: int) -> int:
    """A contact with ``n`` of nearly everything (n=1: light, n=300: heavy)."""
    contact = await f.person(session, name, "Heavy", phone="+35799000001")
    now = utcnow()
    for a in range(2):
        acc = await f.account(session, contact, f"A-{name}-{a}")
        sub = await f.subscription(session, acc, f"S-{name}-{a}")
        session.add_all([SubscriptionService(subscription_id=sub.id, name=f"svc{i}")
                         for i in range(n)])
        session.add_all([InstalledItem(subscription_id=sub.id, name=f"item{i}")
                         for i in range(n)])
        session.add(Wallet(account_id=acc.id, number=f"W-{name}-{a}"))
        for i in range(n):
            at = now - timedelta(minutes=i)
            session.add(Bill(account_id=acc.id, number=f"B-{name}-{a}-{i}", amount=Decimal(i),
                             issued_at=at))
            session.add(Payment(account_id=acc.id, amount=Decimal(1), paid_at=at))
            session.add(FinancialTransaction(account_id=acc.id, type="bill", amount=1,
                                             posted_at=at))
    part = await f.participant(session, contact, f"R-{name}", scheme=f"Scheme {name}")
    for i in range(n):
        state = LIFECYCLES["job"].all[i % 5]
        session.add(Job(contact_id=contact.id, state=state, subject=f"job {i}"))
        session.add(ServiceRequest(contact_id=contact.id, number=f"SR-{name}-{i}",
                                   state=LIFECYCLES["service_request"].all[i % 7]))
        session.add(Activity(contact_id=contact.id, state=LIFECYCLES["activity"].all[i % 4]))
        session.add(Notification(contact_id=contact.id,
                                 state=LIFECYCLES["notification"].all[i % 4]))
        session.add(Lead(contact_id=contact.id, state=LIFECYCLES["lead"].all[i % 4]))
        session.add(Communication(contact_id=contact.id, direction="incoming",
                                  subject=f"call {i}"))
        for kind in ("award", "spend", "expiration"):
            session.add(RewardTransaction(participant_id=part.id, type=kind, points=1))
        session.add(CustomerEvent(contact_id=contact.id, participant_id=part.id,
                                  type="purchase", description=f"purchase {i}",
                                  amount=Decimal(i), points_awarded=Decimal(1),
                                  at=now - timedelta(hours=i)))
    await session.flush()
    return contact.id


async def render_all(db, contact_id: int, limit: int | None) -> tuple[int, dict]:
    statements = []

    def count(*_args) -> None:
        statements.append(1)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.sessions() as session:
            data = {"contact": await load_contact(session, contact_id)}
            for name in SECTIONS:
                data[name] = await section(session, name, contact_id, limit)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    return len(statements), data


async def test_a_heavy_contact_takes_as_many_statements_as_a_light_one(db) -> None:
    async with db.sessions() as session, session.begin():
        light = await make_customer(session, "Light", 1)
        heavy = await make_customer(session, "Heavy", 300)
    light_count, _ = await render_all(db, light, 10)
    started = time.perf_counter()
    heavy_count, data = await render_all(db, heavy, 10)
    elapsed = time.perf_counter() - started
    assert heavy_count == light_count <= 40
    assert elapsed < 1.5
    fin = data["financials"]
    assert all(len(rows) == 10 for rows in fin["bills"].values())
    assert fin["accounts"].more is False and len(fin["accounts"].rows) == 2
    newest = fin["bills"][fin["accounts"].rows[0].id][0]
    assert newest.number.endswith("-0")  # latest first
    jobs = data["work"]["jobs"]
    assert len(jobs["open"].rows) == 10 and jobs["open"].more
    assert {j.state for j in jobs["open"].rows} <= set(LIFECYCLES["job"].open)
    assert {j.state for j in jobs["completed"].rows} <= set(LIFECYCLES["job"].completed)
    subs = data["subscriptions"]
    assert all(len(v) == 10 for v in subs["services"].values())
    rewards = data["rewards"]["transactions"]
    assert [len(v) for v in next(iter(rewards.values())).values()] == [10, 10, 10]
    events = data["rewards"]["events"]
    assert len(events.rows) == 10 and events.more
    assert [e.description for e in events.rows[:2]] == ["purchase 0", "purchase 1"]


async def test_without_a_number_of_records_every_row_is_shown(db) -> None:
    async with db.sessions() as session, session.begin():
        cid = await make_customer(session, "All", 12)
    _, data = await render_all(db, cid, None)
    sr = data["work"]["service_requests"]
    assert len(sr["open"].rows) + len(sr["completed"].rows) == 12
    open_states = set(LIFECYCLES["service_request"].open)
    assert all(r.state in open_states for r in sr["open"].rows)
    assert len(data["customer"]["communications"].rows) == 12


async def _statements(db, name: str, contact_id: int, limit: int | None) -> list[str]:
    seen: list[str] = []

    def keep(_conn, _cursor, statement, *_args) -> None:
        seen.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", keep)
    try:
        async with db.sessions() as session:
            await section(session, name, contact_id, limit)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", keep)
    return seen


async def test_each_section_reads_each_of_its_tables_once(db) -> None:
    async with db.sessions() as session, session.begin():
        cid = await make_customer(session, "Tables", 30)
    # info: accounts, open activities, flash notes; subscriptions: subscriptions, services,
    # installed items; financials: accounts, bills, transactions, payments, wallets,
    # vouchers; work: jobs, service requests (both tabs of each in one query); customer:
    # activities, communications, notifications, leads; rewards: participants, schemes,
    # reward transactions, customer events.
    expected = {"info": 3, "subscriptions": 3, "financials": 6, "work": 2, "customer": 4,
                "rewards": 4}
    for limit in (10, None):
        for name, count in expected.items():
            statements = await _statements(db, name, cid, limit)
            assert len(statements) == count, (name, limit, statements)


async def test_both_tabs_come_newest_first_and_say_when_there_are_more(db) -> None:
    async with db.sessions() as session, session.begin():
        cid = await make_customer(session, "Tabs", 30)  # jobs: 18 open, 12 completed
    async with db.sessions() as session:
        cut = (await section(session, "work", cid, 12))["jobs"]
        everything = (await section(session, "work", cid, None))["jobs"]
    completed = set(LIFECYCLES["job"].completed)
    assert [len(everything["open"].rows), len(everything["completed"].rows)] == [18, 12]
    assert not everything["open"].more and not everything["completed"].more
    for key in ("open", "completed"):
        rows = everything[key].rows
        assert all((r.state in completed) == (key == "completed") for r in rows)
        assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    # 18 open rows: cut at 12, more; 12 completed rows: all of them, no more.
    assert cut["open"].rows == everything["open"].rows[:12] and cut["open"].more
    assert cut["completed"].rows == everything["completed"].rows
    assert not cut["completed"].more
