"""Every action: refused unless enabled and allowed, validated per field, persisted, audited."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from callcontrol.cc.actions import ActionFailed, ActionForbidden, Context, available, run
from callcontrol.cc.contact_view import section
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import (
    AccountReceivable,
    AuditEntry,
    Bill,
    Communication,
    Contact,
    Voucher,
    utcnow,
)
from tests.cc import factories as f

SETTINGS = Settings()
FUTURE = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
async def world(db):
    async with db.sessions() as session, session.begin():
        agent = await f.user(session, "agent1")
        engineer = await f.user(session, "eng1", "engineer")
        contact = await f.person(session, "Maria", "Papadopoulou")
        acc = await f.account(session, contact, "A-1", balance="100")
        other = await f.person(session, "Other", "Person")
        other_acc = await f.account(session, other, "A-2")
        bill = Bill(account_id=acc.id, number="B-1", amount=Decimal("40.00"))
        foreign_bill = Bill(account_id=other_acc.id, number="B-2", amount=Decimal("5"))
        voucher = Voucher(serial_number="V-1", secret_number="SECRET-123", value=Decimal(10))
        session.add_all([bill, foreign_bill, voucher])
        await session.flush()
        return {"agent": agent, "engineer": engineer, "contact": contact.id, "acc": acc.id,
                "other_acc": other_acc.id, "bill": bill.id, "foreign_bill": foreign_bill.id}


async def act(db, world, slug, form, *, contact=True, user="agent", settings=SETTINGS):
    async with db.sessions() as session, session.begin():
        c = await session.get(Contact, world["contact"]) if contact else None
        return await run(session, slug, Context(world[user], c, settings), form)


# (action, valid form, {field: bad value} cases that must be refused on that field)
VALID = {
    "log-person": ({"first_name": "Ζωή", "last_name": "Nowak", "phone": "+357 99 123456",
                    "email": "zoe@example.com", "line1": "1 Odos", "city": "Λευκωσία"},
                   {"first_name": "", "last_name": "x" * 101, "phone": "call me",
                    "email": "not-an-email", "title": "Sir", "address_type": "moon"}),
    "log-company": ({"company_name": "ACME <b>Ltd</b>", "phone": "0048 22 123 45 67"},
                    {"company_name": " ", "email": "a@b"}),
    "retrieve-voucher-secret": ({"serial_number": "V-1"}, {"serial_number": "V-404"}),
    "create-account": ({"currency": "EUR"}, {"currency": "XXX"}),
    "become-subscriber": ({"account": "{acc}", "billing_terms": "monthly", "service": "TV"},
                          {"account": "{other_acc}", "billing_terms": "daily", "service": ""}),
    "pay-bill": ({"bill": "{bill}", "method": "card"},
                 {"bill": "{foreign_bill}", "method": "gold"}),
    "use-voucher": ({"secret_number": "SECRET-123", "account": "{acc}"},
                    {"secret_number": "nope", "account": "{other_acc}"}),
    "schedule-activity": ({"subject": "Call back", "due_at": FUTURE},
                          {"subject": "", "due_at": "tomorrow-ish"}),
    "plan-job": ({"type": "Repair", "subject": "Fix dish"}, {"type": "Party", "subject": ""}),
    "create-communication": ({"direction": "incoming", "media": "phone", "subject": "Hi"},
                             {"direction": "sideways", "media": "pigeon", "subject": ""}),
    "raise-service-request": ({"subject": "No signal", "priority": "high"},
                              {"subject": "x" * 201, "priority": "whenever"}),
    "take-lead": ({"subject": "Wants fibre", "source": "web"},
                  {"subject": "", "source": "psychic"}),
}


def fill(form: dict, world: dict) -> dict:
    return {k: v.format(**world) if isinstance(v, str) else v for k, v in form.items()}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # pure validation: one engine
@pytest.mark.parametrize("slug", sorted(VALID))
async def test_each_action_refuses_each_bad_field(db, world, slug) -> None:
    good, bad = VALID[slug]
    for field, value in bad.items():
        form = fill({**good, field: value}, world)
        with pytest.raises(ActionFailed) as caught:
            await act(db, world, slug, form)
        assert field in caught.value.errors, (slug, field, caught.value.errors)


@pytest.mark.parametrize("slug", sorted(VALID))
async def test_each_action_persists_and_is_audited(db, world, slug) -> None:
    outcome = await act(db, world, slug, fill(VALID[slug][0], world))
    assert outcome.entity_id and outcome.message
    async with db.sessions() as session:
        audit = (await session.scalars(select(AuditEntry).where(
            AuditEntry.action == f"action.{slug}"))).all()
    assert len(audit) == 1 and audit[0].user_id == world["agent"].id
    assert audit[0].entity_id == str(outcome.entity_id)


async def test_new_records_show_in_their_section_at_once(db, world) -> None:
    outcome = await act(db, world, "raise-service-request",
                        {"subject": "No signal", "priority": "high"})
    async with db.sessions() as session:
        data = await section(session, "work", world["contact"], 20)
    assert [r.id for r in data["service_requests"]["open"].rows] == [outcome.entity_id]


async def test_paying_a_bill_twice_is_refused_and_balance_moves_once(db, world) -> None:
    form = {"bill": str(world["bill"]), "method": "cash"}
    await act(db, world, "pay-bill", form)
    with pytest.raises(ActionFailed) as caught:
        await act(db, world, "pay-bill", form)
    assert "bill" in caught.value.errors
    async with db.sessions() as session:
        acc = await session.get(AccountReceivable, world["acc"])
        bill = await session.get(Bill, world["bill"])
    assert acc.balance == Decimal("60.00") and bill.state == "paid"


async def test_a_voucher_is_used_once(db, world) -> None:
    form = {"secret_number": "SECRET-123", "account": str(world["acc"])}
    await act(db, world, "use-voucher", form)
    with pytest.raises(ActionFailed) as caught:
        await act(db, world, "use-voucher", form)
    assert "used" in caught.value.errors["secret_number"]
    async with db.sessions() as session:
        voucher = await session.scalar(select(Voucher))
    assert voucher.state == "used" and voucher.contact_id == world["contact"]


async def test_communication_draft_or_completed_by_the_button(db, world) -> None:
    base = {"direction": "outgoing", "media": "email", "subject": "Offer"}
    await act(db, world, "create-communication", {**base, "submit": "draft"})
    await act(db, world, "create-communication", {**base, "submit": "complete"})
    with pytest.raises(ActionFailed):
        await act(db, world, "create-communication", {**base, "submit": "explode"})
    async with db.sessions() as session:
        states = (await session.scalars(select(Communication.state)
                                        .order_by(Communication.id))).all()
    assert states == ["draft", "completed"]


async def test_disabled_actions_are_refused_not_only_hidden(db, world) -> None:
    only = Settings(allowed_actions=("log-person",))
    with pytest.raises(ActionForbidden):
        await act(db, world, "pay-bill", {"bill": str(world["bill"]), "method": "card"},
                  settings=only)
    async with db.sessions() as session:
        paid = await session.scalar(select(func.count()).select_from(Bill).where(
            Bill.state == "paid"))
    assert paid == 0


async def test_contact_actions_need_a_contact_and_roles_are_checked(db, world) -> None:
    with pytest.raises(ActionFailed):
        await act(db, world, "plan-job", {"type": "Repair", "subject": "x"}, contact=False)
    with pytest.raises(ActionForbidden):
        await act(db, world, "retrieve-voucher-secret", {"serial_number": "V-1"},
                  user="engineer")


def test_the_panel_lists_only_what_fits() -> None:
    class U:
        role = "agent"
    no_contact = available(Context(U(), None, SETTINGS))
    assert no_contact == ["log-person", "log-company", "retrieve-voucher-secret"]
    limited = Settings(allowed_actions=("pay-bill", "log-person"))
    assert available(Context(U(), object(), limited)) == ["pay-bill", "log-person"]
