"""The editors the contact view opens: contact information ("add more information") and a
subscription ("manage subscription": add a service, bill it). Validated and audited."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions.base import new_number
from callcontrol.cc.actions.forms import ActionFailed, Field, validate
from callcontrol.cc.actions.people import ADDRESS_TYPES, TITLES
from callcontrol.cc.audit import record
from callcontrol.crm.models import (
    AccountReceivable,
    Address,
    Bill,
    Contact,
    Email,
    FinancialTransaction,
    Phone,
    Subscription,
    SubscriptionService,
    User,
    utcnow,
)

PHONE_TYPES = (("mobile", "Mobile"), ("home", "Home"), ("work", "Work"))
PERSON_FIELDS = [
    Field("title", "Title", "choice", choices=TITLES, max_length=32),
    Field("first_name", "First name", required=True, max_length=100),
    Field("middle_name", "Middle name", max_length=100),
    Field("last_name", "Last name", required=True, max_length=100),
]
COMPANY_FIELDS = [Field("company_name", "Company name", required=True)]
NEW_DETAILS = [
    Field("new_phone", "New phone", "phone", max_length=64),
    Field("new_phone_type", "Phone type", "choice", choices=PHONE_TYPES),
    Field("new_email", "New e-mail", "email", max_length=254),
    Field("new_address_type", "Address type", "choice", choices=ADDRESS_TYPES),
    Field("new_line1", "Street and number"),
    Field("new_line2", "Address line 2"),
    Field("new_city", "City", max_length=100),
    Field("new_postal_code", "Postal code", max_length=20),
    Field("new_country", "Country (2 letters)", max_length=2),
]
SERVICE_FIELDS = [
    Field("name", "Service", required=True, max_length=100),
    Field("kind", "Kind", "choice", required=True,
          choices=(("mandatory", "Mandatory"), ("optional", "Optional"))),
]
BILL_FIELDS = [Field("amount", "Amount", "money", required=True, max_length=16)]


def contact_fields(contact: Contact) -> list[Field]:
    return [*(COMPANY_FIELDS if contact.kind == "company" else PERSON_FIELDS), *NEW_DETAILS]


def _new_rows(contact: Contact, v: dict[str, Any]) -> list[Any]:
    rows: list[Any] = []
    if v["new_phone"]:
        raw, e164 = v["new_phone"]
        rows.append(Phone(contact_id=contact.id, raw=raw, e164=e164,
                          type=v["new_phone_type"] or "mobile"))
    if v["new_email"]:
        rows.append(Email(contact_id=contact.id, address=v["new_email"]))
    address = [v[k] for k in ("new_line1", "new_line2", "new_city", "new_postal_code",
                              "new_country")]
    if any(address):
        if not v["new_line1"]:
            raise ActionFailed({"new_line1": "the street is needed for a new address"})
        country = v["new_country"]
        if country and not (len(country) == 2 and country.isalpha()):
            raise ActionFailed({"new_country": "two letters, such as CY or PL"})
        rows.append(Address(contact_id=contact.id, type=v["new_address_type"] or "other",
                            line1=v["new_line1"], line2=v["new_line2"], city=v["new_city"],
                            postal_code=v["new_postal_code"],
                            country=country.upper() if country else None))
    return rows


async def update_contact(session: AsyncSession, user: User, contact: Contact,
                         form: Mapping[str, str], region: str) -> list[str]:
    """Apply the editor's form; returns what changed (for the notice and the audit)."""
    v = validate(contact_fields(contact), form, region, {})
    names = COMPANY_FIELDS if contact.kind == "company" else PERSON_FIELDS
    changed = [f.name for f in names if (v[f.name] or None) != getattr(contact, f.name)]
    for name in changed:
        setattr(contact, name, v[name])
    rows = _new_rows(contact, v)
    session.add_all(rows)
    await session.flush()
    what = changed + [type(r).__name__.lower() for r in rows]
    await record(session, user.id, "contact.update", "contact", contact.id, {"changed": what})
    return what


async def add_service(session: AsyncSession, user: User, sub: Subscription,
                      form: Mapping[str, str], region: str) -> SubscriptionService:
    v = validate(SERVICE_FIELDS, form, region, {})
    row = SubscriptionService(subscription_id=sub.id, name=v["name"],
                              mandatory=v["kind"] == "mandatory")
    session.add(row)
    await session.flush()
    await record(session, user.id, "subscription.add_service", "subscription", sub.id,
                 {"service": row.name, "mandatory": row.mandatory})
    return row


async def bill_subscription(session: AsyncSession, user: User, sub: Subscription,
                            form: Mapping[str, str], region: str) -> Bill:
    v = validate(BILL_FIELDS, form, region, {})
    account = await session.get(AccountReceivable, sub.account_id)
    assert account is not None
    amount: Decimal = v["amount"]
    bill = Bill(account_id=account.id, number=new_number("B"), amount=amount,
                issued_at=utcnow(), state="posted")
    session.add(bill)
    session.add(FinancialTransaction(account_id=account.id, type="bill", amount=amount,
                                     details={"subscription": sub.number}))
    account.balance += amount
    await session.flush()
    await record(session, user.id, "subscription.bill", "bill", bill.id,
                 {"subscription": sub.number, "amount": str(amount)})
    return bill
