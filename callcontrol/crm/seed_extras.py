"""Seeder rows for the less central sections: relations, wallets, vouchers, work items,
communications and rewards. Called per contact by :mod:`callcontrol.crm.seed`."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from callcontrol.crm.states import LIFECYCLES

CALL_CATEGORIES = ("Billing", "Technical support", "Sales", "Complaint", "General enquiry")
HANGUP_CAUSES = ("NORMAL_CLEARING", "USER_BUSY", "NO_ANSWER")


class Rows(Protocol):
    rng: Any
    ids: Any

    def add(self, table: str, **row: Any) -> int: ...


def _work(b: Rows, table: str, entity: str, now: datetime, **extra: Any) -> int:
    return b.add(table, state=b.rng.choice(LIFECYCLES[entity].all), subject=f"{entity} item",
                 description=None, assigned_to_id=None, created_at=now, updated_at=now, **extra)


def extras(b: Rows, cid: int, prev_cid: int | None, scheme_id: int, now: datetime) -> None:
    rng = b.rng
    if prev_cid is not None and rng.random() < 0.05:
        b.add("related_contacts", contact_id=cid, related_id=prev_cid,
              relation=rng.choice(("spouse", "employer", "parent", "partner")))
    if rng.random() < 0.05:
        b.add("vouchers", contact_id=cid, serial_number=f"V{cid:010d}",
              secret_number=f"{rng.getrandbits(40):013d}{b.ids.next['vouchers']:08d}",
              value=Decimal(rng.choice((5, 10, 20))), state="active")
    if rng.random() < 0.08:
        _work(b, "jobs", "job", now, contact_id=cid, type="Installation")
    if rng.random() < 0.10:
        _work(b, "activities", "activity", now, contact_id=cid, service_request_id=None,
              job_id=None, due_at=now + timedelta(days=3))
    if rng.random() < 0.05:
        _work(b, "notifications", "notification", now, contact_id=cid, channel="sms")
    if rng.random() < 0.03:
        _work(b, "leads", "lead", now, contact_id=cid, source="web")
    if rng.random() < 0.3:
        _communication(b, cid, now)
    if rng.random() < 0.1:
        _rewards(b, cid, scheme_id, now)


def _communication(b: Rows, cid: int, now: datetime) -> None:
    rng = b.rng
    duration = rng.randint(15, 900)
    answered = now + timedelta(seconds=rng.randint(2, 30))
    b.add("communications", direction=rng.choice(("incoming", "outgoing")), media="phone",
          category=rng.choice(CALL_CATEGORIES), state="completed", subject="Phone call",
          content=None, contact_id=cid, agent_id=None, parent_id=None, call_id=None,
          caller_number=None, called_number=None, started_at=now, answered_at=answered,
          ended_at=answered + timedelta(seconds=duration), duration_seconds=duration,
          hangup_cause=rng.choice(HANGUP_CAUSES), recording=None, recording_pauses=None,
          transfers=None, created_at=now, updated_at=now)


def _rewards(b: Rows, cid: int, scheme_id: int, now: datetime) -> None:
    rng = b.rng
    points = Decimal(rng.randint(10, 2000))
    pid = b.add("reward_participants", contact_id=cid, scheme_id=scheme_id,
                number=f"R{cid:010d}", points=points)
    b.add("reward_transactions", participant_id=pid, type="award", points=points, at=now)
    if rng.random() < 0.3:
        b.add("reward_transactions", participant_id=pid, type="spend",
              points=Decimal(rng.randint(1, int(points))), at=now + timedelta(days=10))
    amount = Decimal(rng.randint(500, 50000)) / 100
    b.add("customer_events", contact_id=cid, participant_id=pid, type="purchase",
          description="Purchase in store", amount=amount, points_awarded=points,
          at=now - timedelta(days=1))
    if rng.random() < 0.2:
        b.add("customer_events", contact_id=cid, participant_id=pid, type="referral",
              description="Referred a friend", amount=None, points_awarded=Decimal(50),
              at=now - timedelta(days=rng.randint(2, 60)))


def money_extras(b: Rows, aid: int, currency: str, amount: Decimal, now: datetime) -> None:
    """Wallet and the financial transaction behind a bill."""
    if b.rng.random() < 0.2:
        b.add("wallets", account_id=aid, number=f"W{aid:010d}",
              balance=Decimal(b.rng.randint(0, 10000)) / 100, currency=currency)
    b.add("financial_transactions", account_id=aid, type="bill", amount=amount,
          posted_at=now, details=None)
