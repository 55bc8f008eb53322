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
