"""The screen-pop look-up: contacts by E.164 number, with a summary, in one query.

Every inbound call's pop runs it, so it is built for the hot path: one SQL statement, built
once at import with bind parameters (SQLAlchemy memoises its cache key and reuses the compiled
form; asyncpg keeps it prepared per connection), Core rows instead of ORM entities.

The statement: a CTE picks the matching contacts (``phones.e164`` index, VIPs first, at most
``limit``); one row per contact carries its open service requests, balance and currency as
correlated aggregates; live flash notes follow as extra rows (the contact's own, and those
of its accounts that name no contact), all ordered VIPs first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Integer,
    Numeric,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from callcontrol.crm.models import (
    AccountReceivable,
    Contact,
    FlashNote,
    Phone,
    ServiceRequest,
    utcnow,
)
from callcontrol.crm.states import open_states

CENT = Decimal("0.01")
_ROW, _NOTE = 0, 1  # the ``part`` column: a contact's summary row, one of its flash notes


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


def open_requests_of(contact_id: ColumnElement[int]) -> ScalarSelect[int]:
    """The number of open service requests of ``contact_id`` (a correlated column).

    The open states are written into the SQL as constants, not an expanding IN list, so the
    compiled statement needs no per-call rendering.
    """
    requests = ServiceRequest.__table__.c
    states = [_constant(state) for state in open_states("service_request")]
    return select(func.count()).where(
        requests.contact_id == contact_id, requests.state.in_(states)).scalar_subquery()


def _constant(value: str) -> ColumnElement[str]:
    if not value.replace(" ", "").isalnum():  # only fixed words from the code, never input
        raise ValueError(f"not a plain word: {value!r}")
    return literal_column(f"'{value}'", String)


def _statement():
    contacts, phones = Contact.__table__.c, Phone.__table__.c
    accounts = AccountReceivable.__table__
    notes = FlashNote.__table__

    matched = select(
        contacts.id, contacts.code, contacts.kind, contacts.first_name, contacts.middle_name,
        contacts.last_name, contacts.company_name, contacts.vip,
    ).where(
        contacts.id.in_(select(phones.contact_id).where(phones.e164 == bindparam("e164")))
    ).order_by(contacts.vip.desc(), contacts.id).limit(
        bindparam("limit", type_=Integer)
    ).cte("matched")
    m = matched.c

    open_requests = open_requests_of(m.id)
    balance = select(func.sum(accounts.c.balance)).where(
        accounts.c.contact_id == m.id).scalar_subquery()
    currency = select(func.min(accounts.c.currency)).where(
        accounts.c.contact_id == m.id).scalar_subquery()
    live = or_(notes.c.expires_at.is_(None), notes.c.expires_at > bindparam("now"))
    no_text, no_count, no_money = cast(null(), String), cast(null(), Integer), cast(
        null(), Numeric(14, 2))

    summary_rows = select(
        literal_column(str(_ROW), Integer).label("part"), *m,
        open_requests.label("open_requests"), balance.label("balance"),
        currency.label("currency"), no_text.label("note"),
    )
    # A note row: the contact's id and VIP flag (for the order), its text; no summary.
    note_columns = (
        literal_column(str(_NOTE), Integer), m.id, *(no_text,) * 6, m.vip,
        no_count, no_money, no_text, notes.c.text,
    )
    own_notes = select(*note_columns).join_from(
        matched, notes, notes.c.contact_id == m.id).where(live)
    account_notes = select(*note_columns).join_from(
        matched, accounts, accounts.c.contact_id == m.id,
    ).join(notes, notes.c.account_id == accounts.c.id).where(notes.c.contact_id.is_(None), live)
    everything = union_all(summary_rows, own_notes, account_notes).subquery("pop")
    return select(everything).order_by(
        everything.c.vip.desc(), everything.c.id, everything.c.part)


_POP = _statement()


async def find_contacts_by_phone(
    session: AsyncSession, e164: str, *, limit: int = 10, now: datetime | None = None
) -> list[ContactMatch]:
    """Contacts owning ``e164`` (VIPs first, at most ``limit``) with their pop summary."""
    if not isinstance(e164, str | None):
        raise TypeError(f"e164 must be a string, got {type(e164).__name__}")
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    if not e164 or not limit:
        return []
    result = await session.execute(
        _POP, {"e164": e164, "limit": limit, "now": now or utcnow()})
    return _matches(result.all())


def _matches(rows) -> list[ContactMatch]:
    display_name = Contact.display_name.fget  # type: ignore[attr-defined]
    contacts, notes = [], {}
    for row in rows:
        if row.part == _ROW:
            contacts.append(row)
        else:
            notes.setdefault(row.id, []).append(row.note)
    return [ContactMatch(
        id=row.id, code=row.code, name=display_name(row), kind=row.kind, vip=bool(row.vip),
        open_service_requests=int(row.open_requests or 0),
        balance_due=Decimal(str(row.balance or 0)).quantize(CENT), currency=row.currency,
        flash_notes=tuple(sorted(notes.get(row.id, ()))),
    ) for row in contacts]
