from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from callcontrol.crm.lookup import find_contacts_by_phone
from callcontrol.crm.models import (
    AccountReceivable,
    CommunicationCentreDefinition,
    Contact,
    FlashNote,
    ImmutableFieldError,
    Phone,
    ServiceRequest,
)


async def test_kind_and_code_are_immutable(db) -> None:
    async with db.sessions.begin() as s:
        contact = Contact(kind="person", first_name="Élena", last_name="Ioánnou")
        s.add(contact)
        await s.flush()
        assert contact.code.startswith("C-")
        assert contact.search_name == "elena ioannou"
        with pytest.raises(ImmutableFieldError):
            contact.kind = "company"
        with pytest.raises(ImmutableFieldError):
            contact.code = "C-OTHER"


async def test_only_one_active_centre_definition(db) -> None:
    async with db.sessions.begin() as s:
        s.add(CommunicationCentreDefinition(name="a", active=True))
        s.add(CommunicationCentreDefinition(name="b", active=False))
        s.add(CommunicationCentreDefinition(name="c", active=False))
    with pytest.raises(IntegrityError):
        async with db.sessions.begin() as s:
            s.add(CommunicationCentreDefinition(name="d", active=True))


async def test_lookup_by_phone_summarises_shared_number(db) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with db.sessions.begin() as s:
        a = Contact(kind="person", first_name="Anna", last_name="Nowak")
        b = Contact(kind="company", company_name="Nowak Sp. z o.o.", vip=True)
        other = Contact(kind="person", first_name="Ivan")
        s.add_all([a, b, other])
        await s.flush()
        for c in (a, b):
            s.add(Phone(contact_id=c.id, raw="601 234 567", e164="+48601234567"))
        s.add(Phone(contact_id=other.id, raw="x", e164="+79123456789"))
        account = AccountReceivable(contact_id=a.id, number="A1", balance=Decimal("12.50"),
                                    currency="PLN")
        s.add(account)
        await s.flush()
        s.add(FlashNote(account_id=account.id, text="Account blocked", expires_at=None))
        s.add(ServiceRequest(contact_id=a.id, number="SR1", state="Pending"))
        s.add(ServiceRequest(contact_id=a.id, number="SR2", state="Completed"))
        s.add(FlashNote(contact_id=a.id, text="Call back", expires_at=now + timedelta(days=1)))
        s.add(FlashNote(contact_id=a.id, text="Old", expires_at=now - timedelta(days=1)))
    async with db.sessions() as s:
        matches = await find_contacts_by_phone(s, "+48601234567", now=now)
    assert [m.name for m in matches] == ["Nowak Sp. z o.o.", "Anna Nowak"]
    company, anna = matches
    assert company.vip and company.open_service_requests == 0 and company.currency is None
    assert (anna.open_service_requests, anna.balance_due, anna.currency) == (
        1, Decimal("12.50"), "PLN")
    assert anna.flash_notes == ("Account blocked", "Call back")


async def test_lookup_of_unknown_number_is_empty(db) -> None:
    async with db.sessions() as s:
        assert await find_contacts_by_phone(s, "+35799000000") == []
