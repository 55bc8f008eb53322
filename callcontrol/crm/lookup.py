"""The screen-pop look-up: contacts by E.164 number, with a summary, in one query.

Every inbound call's pop runs it, so it is built for the hot path: one SQL statement, built
once at import with bind parameters (SQLAlchemy memoises its cache key and reuses the compiled
form; asyncpg keeps it prepared per connection), Core rows instead of ORM entities. Call
control (``Records.lookup``) runs it through the engine's ``FastReads``
(``callcontrol.crm.fastreads``): the statement straight on the driver, without a session.

The statement: a derived table picks the matching contacts (``phones.e164`` index, VIPs
first, at most ``limit``); each of its rows carries correlated aggregates, each an index probe
by contact: open service requests, balance, currency, and the live flash notes as JSON arrays
(the contact's own, and those of its accounts that name no contact). One row per contact, no
joins at the top: SQLite builds no Bloom filter over ``flash_notes`` (a scan that would grow
with the table) and PostgreSQL plans it as nested index probes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, Integer, String, bindparam, func, literal_column, or_, select
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import ScalarSelect

from callcontrol.crm.fastreads import FastReads, rows
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


class _text_list(FunctionElement[list]):
    """The aggregate of a text column as a JSON array (``None`` or ``[]`` when no rows)."""

    type = JSON()
    inherit_cache = True
    name = "text_list"


@compiles(_text_list)
def _text_list_other(element: _text_list, compiler, **kw) -> str:
    raise CompileError(
        f"the screen-pop look-up supports SQLite and PostgreSQL, not {compiler.dialect.name}")


@compiles(_text_list, "sqlite")
def _text_list_sqlite(element: _text_list, compiler, **kw) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"


@compiles(_text_list, "postgresql")
def _text_list_postgresql(element: _text_list, compiler, **kw) -> str:
    return f"json_agg({compiler.process(element.clauses, **kw)})"


def _statement():
    contacts, phones = Contact.__table__.c, Phone.__table__.c
    accounts, notes = AccountReceivable.__table__.c, FlashNote.__table__.c

    matched = select(
        contacts.id, contacts.code, contacts.kind, contacts.first_name, contacts.middle_name,
        contacts.last_name, contacts.company_name, contacts.vip,
    ).where(
        contacts.id.in_(select(phones.contact_id).where(phones.e164 == bindparam("e164")))
    ).order_by(contacts.vip.desc(), contacts.id).limit(
        bindparam("limit", type_=Integer)
    ).subquery("matched")
    m = matched.c

    live = or_(notes.expires_at.is_(None), notes.expires_at > bindparam("now"))
    balance = select(func.sum(accounts.balance)).where(
        accounts.contact_id == m.id).scalar_subquery()
    currency = select(func.min(accounts.currency)).where(
        accounts.contact_id == m.id).scalar_subquery()
    own_notes = select(_text_list(notes.text)).where(
        notes.contact_id == m.id, live).scalar_subquery()
    # Notes on the contact's accounts that do not name a contact themselves.
    account_notes = select(_text_list(notes.text)).select_from(
        AccountReceivable.__table__.join(FlashNote.__table__, notes.account_id == accounts.id)
    ).where(accounts.contact_id == m.id, notes.contact_id.is_(None), live).scalar_subquery()
    return select(
        *m, open_requests_of(m.id).label("open_requests"), balance.label("balance"),
        currency.label("currency"), own_notes.label("own_notes"),
        account_notes.label("account_notes"),
    ).order_by(m.vip.desc(), m.id)


_POP = _statement()


async def find_contacts_by_phone(
    session: AsyncSession | FastReads, e164: str, *, limit: int = 10,
    now: datetime | None = None,
) -> list[ContactMatch]:
    """Contacts owning ``e164`` (VIPs first, at most ``limit``) with their pop summary.

    One SQL statement (none for an empty number or ``limit=0``), in ``session`` or, on the
    hot path, through the engine's ``FastReads`` (``callcontrol.crm.fastreads``). It is a
    Core statement, so objects pending in a session are not autoflushed first: flush them
    to have them seen.
    """
    if not isinstance(e164, str | None):
        raise TypeError(f"e164 must be a string, got {type(e164).__name__}")
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    if not e164 or not limit:
        return []
    return _matches(await rows(
        session, _POP, {"e164": e164, "limit": limit, "now": now or utcnow()}))


def _matches(found) -> list[ContactMatch]:
    display_name = Contact.display_name.fget  # type: ignore[attr-defined]
    return [ContactMatch(
        id=row.id, code=row.code, name=display_name(row), kind=row.kind, vip=bool(row.vip),
        open_service_requests=int(row.open_requests or 0),
        balance_due=Decimal(str(row.balance or 0)).quantize(CENT), currency=row.currency,
        flash_notes=tuple(sorted((row.own_notes or []) + (row.account_notes or []))),
    ) for row in found]
