"""Actions available before a contact is chosen: log a person or company, voucher secret."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions.base import Action, Context, Outcome
from callcontrol.cc.actions.forms import ActionFailed, Field
from callcontrol.crm.models import Address, Contact, Email, Phone, Voucher

TITLES = tuple((t, t) for t in ("Mr", "Ms", "Mrs", "Dr"))
ADDRESS_TYPES = (("billing", "Billing"), ("subscription", "Subscription"), ("other", "Other"))

CONTACT_DETAILS = [
    Field("phone", "Phone", "phone", max_length=64, hint="Any format; stored as E.164"),
    Field("email", "E-mail", "email", max_length=254),
    Field("address_type", "Address type", "choice", choices=ADDRESS_TYPES),
    Field("line1", "Street and number"),
    Field("city", "City", max_length=100),
    Field("postal_code", "Postal code", max_length=20),
]


async def _details(session: AsyncSession, contact: Contact, v: dict[str, Any]) -> None:
    if v["phone"]:
        raw, e164 = v["phone"]
        session.add(Phone(contact_id=contact.id, raw=raw, e164=e164, is_default=True))
    if v["email"]:
        session.add(Email(contact_id=contact.id, address=v["email"], is_default=True))
    if v["line1"] or v["city"] or v["postal_code"]:
        if not v["line1"]:
            raise ActionFailed({"line1": "the street is needed for an address"})
        session.add(Address(contact_id=contact.id, type=v["address_type"] or "billing",
                            line1=v["line1"], city=v["city"], postal_code=v["postal_code"],
                            country=None, is_default=True))
    await session.flush()


async def log_person(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    contact = Contact(kind="person", title=v["title"], first_name=v["first_name"],
                      last_name=v["last_name"])
    session.add(contact)
    await session.flush()
    await _details(session, contact, v)
    return Outcome(f"{contact.display_name} was logged", "contact", contact.id, contact.id,
                   "info")


async def log_company(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    contact = Contact(kind="company", company_name=v["company_name"])
    session.add(contact)
    await session.flush()
    await _details(session, contact, v)
    return Outcome(f"{contact.display_name} was logged", "contact", contact.id, contact.id,
                   "info")


async def voucher_secret(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    voucher = await session.scalar(select(Voucher).where(
        Voucher.serial_number == v["serial_number"]))
    if voucher is None:
        raise ActionFailed({"serial_number": "no voucher has this serial number"})
    return Outcome(f"Secret number of voucher {voucher.serial_number}", "voucher", voucher.id,
                   ctx.contact.id if ctx.contact else None,
                   reveal={"Secret number": voucher.secret_number,
                           "State": voucher.state, "Value": str(voucher.value)})


ACTIONS = [
    Action("log-person", [
        Field("title", "Title", "choice", choices=TITLES, max_length=32),
        Field("first_name", "First name", required=True, max_length=100),
        Field("last_name", "Last name", required=True, max_length=100),
        *CONTACT_DETAILS], log_person),
    Action("log-company", [
        Field("company_name", "Company name", required=True), *CONTACT_DETAILS], log_company),
    # Reading a secret is sensitive: engineers may not, and every read is audited.
    Action("retrieve-voucher-secret", [
        Field("serial_number", "Voucher serial number", required=True, max_length=32)],
        voucher_secret, roles=("agent", "supervisor", "admin"), submit=(("save", "Retrieve"),)),
]
