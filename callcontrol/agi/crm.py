"""The FastAGI script's own CRM query: one statement, only what the routes need.

The screen pop's ``find_contacts_by_phone`` also returns flash notes and the currency; the
dialplan only needs the name, the VIP flag and two counts for the suggested route. The
statement is built once (Core columns, the open states as SQL constants); each call only
binds the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.crm.fastreads import FastReads, rows
from callcontrol.crm.lookup import open_requests_of
from callcontrol.crm.models import AccountReceivable, Contact, Phone

MAX_MATCHES = 10


@dataclass(frozen=True)
class CallerMatch:
    id: int
    code: str
    name: str
    vip: bool
    open_service_requests: int
    balance_due: Decimal


def _statement(limit: int):
    # Core columns (no ORM entity to set up per call) and the open states written into the
    # SQL (no expanding IN to render per call): each execution only binds the number.
    contacts, phones = Contact.__table__.c, Phone.__table__.c
    accounts = AccountReceivable.__table__.c
    open_requests = open_requests_of(contacts.id)
    balance = select(func.coalesce(func.sum(accounts.balance), 0)).where(
        accounts.contact_id == contacts.id,
    ).scalar_subquery()
    return select(
        contacts.id, contacts.code, contacts.kind, contacts.first_name, contacts.middle_name,
        contacts.last_name, contacts.company_name, contacts.vip,
        open_requests.label("open_requests"), balance.label("balance"),
    ).where(
        contacts.id.in_(select(phones.contact_id).where(phones.e164 == bindparam("e164")))
    ).order_by(contacts.vip.desc(), contacts.id).limit(limit)


_CALLERS = _statement(MAX_MATCHES)


async def find_callers(session: AsyncSession | FastReads, e164: str) -> list[CallerMatch]:
    """Contacts owning ``e164``, VIPs first, at most ``MAX_MATCHES`` (in ``session``, or
    through the engine's ``FastReads`` as the FastAGI service runs it)."""
    if not e164:
        return []
    return [CallerMatch(
        id=r.id, code=r.code, name=Contact.display_name.fget(r),  # type: ignore[attr-defined]
        vip=bool(r.vip), open_service_requests=int(r.open_requests or 0),
        balance_due=Decimal(str(r.balance or 0)).quantize(Decimal("0.01")),
    ) for r in await rows(session, _CALLERS, {"e164": e164})]
