"""The screen-pop look-up: contacts by E.164 number, with a summary, in two queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Numeric, String, cast, func, literal, null, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.selectable import CompoundSelect

from callcontrol.crm.models import (
    AccountReceivable,
    Contact,
    FlashNote,
    Phone,
    ServiceRequest,
    utcnow,
)
from callcontrol.crm.states import open_states


@dataclass(frozen=True)
class ContactMatch:
    id: int
    code: str
    name: str
    kind: str
    vip: bool
    open_service_requests: int
    balance_due: Decimal
    currency: str | None
    flash_notes: tuple[str, ...]


async def find_contacts_by_phone(
    session: AsyncSession, e164: str, *, limit: int = 10, now: datetime | None = None
) -> list[ContactMatch]:
    """Contacts owning ``e164`` (VIPs first): one indexed look-up, one summary query."""
    contacts = (await session.execute(
        select(Contact).where(Contact.id.in_(
            select(Phone.contact_id).where(Phone.e164 == e164)
        )).order_by(Contact.vip.desc(), Contact.id).limit(limit)
    )).scalars().all()
    if not contacts:
        return []
    summary = await _summaries(session, [c.id for c in contacts], now or utcnow())
    return [_match(c, summary) for c in contacts]


def _summary_query(ids: list[int], now: datetime) -> CompoundSelect:
    """Open service requests, balances and live flash notes, as rows tagged by kind."""
    no_text, no_money = cast(null(), String), cast(null(), Numeric(14, 2))
    requests = select(
        ServiceRequest.contact_id, func.count(), no_money, no_text, no_text, literal("sr"),
    ).where(
        ServiceRequest.contact_id.in_(ids),
        ServiceRequest.state.in_(open_states("service_request")),
    ).group_by(ServiceRequest.contact_id)
    balances = select(
        AccountReceivable.contact_id, func.count(), func.sum(AccountReceivable.balance),
        func.min(AccountReceivable.currency), no_text, literal("ar"),
    ).where(AccountReceivable.contact_id.in_(ids)).group_by(AccountReceivable.contact_id)
    owner = func.coalesce(FlashNote.contact_id, AccountReceivable.contact_id)
    notes = select(
        owner, literal(0), no_money, no_text, FlashNote.text, literal("fn"),
    ).outerjoin(AccountReceivable, FlashNote.account_id == AccountReceivable.id).where(
        or_(FlashNote.contact_id.in_(ids), AccountReceivable.contact_id.in_(ids)),
        or_(FlashNote.expires_at.is_(None), FlashNote.expires_at > now),
    )
    return union_all(requests, balances, notes)


async def _summaries(session: AsyncSession, ids: list[int], now: datetime) -> dict:
    out: dict[int, dict] = {i: {"sr": 0, "bal": Decimal("0"), "cur": None, "notes": []}
                            for i in ids}
    for cid, n, bal, cur, note, kind in (await session.execute(_summary_query(ids, now))).all():
        entry = out[cid]
        if kind == "sr":
            entry["sr"] = int(n)
        elif kind == "ar":
            entry["bal"] = Decimal(str(bal or 0)).quantize(Decimal("0.01"))
            entry["cur"] = cur
        else:
            entry["notes"].append(note)
    return out


def _match(contact: Contact, summary: dict) -> ContactMatch:
    s = summary[contact.id]
    return ContactMatch(
        id=contact.id, code=contact.code, name=contact.display_name, kind=contact.kind,
        vip=contact.vip, open_service_requests=s["sr"], balance_due=s["bal"],
        currency=s["cur"], flash_notes=tuple(sorted(s["notes"])),
    )
