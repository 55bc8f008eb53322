"""The FastAGI script's own CRM query: one statement, only what the routes need.

The screen pop's ``find_contacts_by_phone`` loads whole contacts and a summary with flash
notes in two more queries; the dialplan only needs the name, the VIP flag and two counts
for the suggested route. The statement is built once; each call only binds the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.crm.models import AccountReceivable, Contact, Phone, ServiceRequest
from callcontrol.crm.states import open_states

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
    open_requests = select(func.count(ServiceRequest.id)).where(
        ServiceRequest.contact_id == Contact.id,
        ServiceRequest.state.in_(open_states("service_request")),
    ).correlate(Contact).scalar_subquery()
    balance = select(func.coalesce(func.sum(AccountReceivable.balance), 0)).where(
        AccountReceivable.contact_id == Contact.id,
    ).correlate(Contact).scalar_subquery()
    return select(
        Contact.id, Contact.code, Contact.kind, Contact.first_name, Contact.middle_name,
        Contact.last_name, Contact.company_name, Contact.vip,
        open_requests.label("open_requests"), balance.label("balance"),
    ).where(
        Contact.id.in_(select(Phone.contact_id).where(Phone.e164 == bindparam("e164")))
    ).order_by(Contact.vip.desc(), Contact.id).limit(limit)


_CALLERS = _statement(MAX_MATCHES)


async def find_callers(session: AsyncSession, e164: str) -> list[CallerMatch]:
    """Contacts owning ``e164``, VIPs first, at most ``MAX_MATCHES``."""
    rows = (await session.execute(_CALLERS, {"e164": e164})).all()
    return [CallerMatch(
        id=r.id, code=r.code, name=Contact.display_name.fget(r),  # type: ignore[attr-defined]
        vip=bool(r.vip), open_service_requests=int(r.open_requests or 0),
        balance_due=Decimal(str(r.balance or 0)).quantize(Decimal("0.01")),
    ) for r in rows]
