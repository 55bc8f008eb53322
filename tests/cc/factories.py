"""Small builders for CRM rows used by the Communication Centre tests."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.crm.models import (
    AccessToken,
    AccountReceivable,
    Address,
    Contact,
    Email,
    Phone,
    RewardParticipant,
    RewardScheme,
    Subscription,
    User,
)


async def person(session: AsyncSession, first: str, last: str, *, phone: str | None = None,
                 email: str | None = None, code: str | None = None) -> Contact:
    contact = Contact(kind="person", first_name=first, last_name=last)
    if code:
        contact.code = code
    session.add(contact)
    await session.flush()
    if phone:
        session.add(Phone(contact_id=contact.id, raw=phone, e164=phone, is_default=True))
    if email:
        session.add(Email(contact_id=contact.id, address=email, is_default=True))
    await session.flush()
    return contact


async def company(session: AsyncSession, name: str) -> Contact:
    contact = Contact(kind="company", company_name=name)
    session.add(contact)
    await session.flush()
    return contact


async def account(session: AsyncSession, contact: Contact, number: str,
                  balance: str = "0") -> AccountReceivable:
    acc = AccountReceivable(contact_id=contact.id, number=number, balance=Decimal(balance))
    session.add(acc)
    await session.flush()
    return acc


async def address(session: AsyncSession, contact: Contact, city: str, type_: str = "billing",
                  postal_code: str = "1000") -> Address:
    row = Address(contact_id=contact.id, type=type_, line1="1 Main Street", city=city,
                  postal_code=postal_code, country="CY")
    session.add(row)
    await session.flush()
    return row


async def subscription(session: AsyncSession, acc: AccountReceivable, number: str,
                       terms: str = "monthly") -> Subscription:
    sub = Subscription(account_id=acc.id, number=number, billing_terms=terms)
    session.add(sub)
    await session.flush()
    return sub


async def token(session: AsyncSession, contact: Contact, number: str) -> AccessToken:
    row = AccessToken(contact_id=contact.id, number=number)
    session.add(row)
    await session.flush()
    return row


async def participant(session: AsyncSession, contact: Contact, number: str,
                      scheme: str = "Loyalty") -> RewardParticipant:
    found = RewardScheme(name=scheme)
    session.add(found)
    await session.flush()
    row = RewardParticipant(contact_id=contact.id, scheme_id=found.id, number=number)
    session.add(row)
    await session.flush()
    return row


async def user(session: AsyncSession, username: str, role: str = "agent") -> User:
    """A user who never signs in (no argon2 hashing: these tests only need the row)."""
    row = User(username=username, password_hash="!not-a-hash", role=role)
    session.add(row)
    await session.flush()
    return row
