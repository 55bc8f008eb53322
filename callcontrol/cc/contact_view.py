"""The sections of a contact, each capped by the definition's number of records.

Every section is a fixed number of queries whatever the contact holds, one per table it
shows: lists per parent (bills per account, services per subscription, ...) are cut with
``row_number()`` in SQL, never loaded row by row, and the two tabs of a life-cycle entity
(non completed, completed) come from one query whose rows are numbered per tab.

The rows are Core rows (``Row``: attribute access, ``bill.number``), not ORM entities:
nothing here is changed or followed through a relationship, and building entities
(identity map, instance state) cost more Python time than the queries took in SQLite.
Each statement is built once (per "limited or not") with bound parameters and reused:
building the numbered subqueries anew for each request cost as much again. Every column
of a table is selected, so the JSON API serves the same fields as ever, except the ones
no section shows (``HIDDEN``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Integer, Select, bindparam, func, select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from callcontrol.crm.models import (
    AccountReceivable,
    Activity,
    Bill,
    Communication,
    Contact,
    CustomerEvent,
    FinancialTransaction,
    FlashNote,
    InstalledItem,
    Job,
    Lead,
    Notification,
    Payment,
    RewardParticipant,
    RewardScheme,
    RewardTransaction,
    ServiceRequest,
    Subscription,
    SubscriptionService,
    Voucher,
    Wallet,
    utcnow,
)
from callcontrol.crm.states import LIFECYCLES

SECTIONS = ("info", "subscriptions", "financials", "work", "customer", "rewards")
# Columns no section shows: never read, never in a section's rows (nor in the API's).
HIDDEN = frozenset({"secret_number"})
FLASH_NOTES = 5  # the newest unexpired ones, whatever the definition says


@dataclass
class Listing:
    """At most ``limit`` rows, and whether there are more."""

    rows: list[Any]
    more: bool


def _columns(model: Any) -> list[Column[Any]]:
    return [c for c in model.__table__.c if c.key not in HIDDEN]


def _contact_id() -> Any:
    return bindparam("contact_id", type_=Integer)


def _cut(rows: list[Row[Any]], limit: int | None) -> Listing:
    if limit is None:
        return Listing(rows, False)
    return Listing(rows[:limit], len(rows) > limit)


# --- the statements, by name: built on first use, then reused ------------------------------

# Lists of one contact, in display order (parameter ``contact_id``).
_LISTS = {
    "accounts": lambda: select(*_columns(AccountReceivable)).where(
        AccountReceivable.contact_id == _contact_id()).order_by(AccountReceivable.id),
    "open_activities": lambda: select(*_columns(Activity)).where(
        Activity.contact_id == _contact_id(),
        Activity.state.in_(LIFECYCLES["activity"].open)).order_by(Activity.due_at, Activity.id),
    "subscriptions": lambda: select(*_columns(Subscription)).join(
        AccountReceivable, AccountReceivable.id == Subscription.account_id).where(
        AccountReceivable.contact_id == _contact_id()).order_by(Subscription.id.desc()),
    "used_vouchers": lambda: select(*_columns(Voucher)).where(
        Voucher.contact_id == _contact_id(), Voucher.state == "used").order_by(
        Voucher.id.desc()),
    "communications": lambda: select(*_columns(Communication)).where(
        Communication.contact_id == _contact_id()).order_by(
        Communication.created_at.desc(), Communication.id.desc()),
    "participants": lambda: select(*_columns(RewardParticipant)).where(
        RewardParticipant.contact_id == _contact_id()).order_by(RewardParticipant.id),
    "events": lambda: select(*_columns(CustomerEvent)).where(
        CustomerEvent.contact_id == _contact_id()).order_by(
        CustomerEvent.at.desc(), CustomerEvent.id.desc()),
}

# Lists per parent (parameter ``ids``): model, parent column, order, also partitioned by.
_PER_PARENT = {
    "services": lambda: (SubscriptionService, SubscriptionService.subscription_id,
                         [SubscriptionService.mandatory.desc(), SubscriptionService.id], ()),
    "items": lambda: (InstalledItem, InstalledItem.subscription_id, [InstalledItem.id], ()),
    "bills": lambda: (Bill, Bill.account_id, [Bill.issued_at.desc(), Bill.id.desc()], ()),
    "transactions": lambda: (
        FinancialTransaction, FinancialTransaction.account_id,
        [FinancialTransaction.posted_at.desc(), FinancialTransaction.id.desc()], ()),
    "payments": lambda: (Payment, Payment.account_id,
                         [Payment.paid_at.desc(), Payment.id.desc()], ()),
    "wallets": lambda: (Wallet, Wallet.account_id, [Wallet.id], ()),
    "reward_transactions": lambda: (
        RewardTransaction, RewardTransaction.participant_id,
        [RewardTransaction.at.desc(), RewardTransaction.id.desc()],
        (RewardTransaction.type,)),
}

# Life-cycle entities shown as two tabs: model, entity name in LIFECYCLES.
_TABS = {"jobs": (Job, "job"), "service_requests": (ServiceRequest, "service_request"),
         "activities": (Activity, "activity"), "notifications": (Notification, "notification"),
         "leads": (Lead, "lead")}


@functools.cache
def _list_query(name: str, limited: bool) -> Select[Any]:
    query = _LISTS[name]()
    return query.limit(bindparam("limit", type_=Integer)) if limited else query


@functools.cache
def _per_parent_spec(name: str) -> tuple[Any, Any, list[Any], tuple[Any, ...]]:
    return _PER_PARENT[name]()


@functools.cache
def _per_parent_query(name: str, limited: bool) -> Select[Any]:
    model, parent, order, also_by = _per_parent_spec(name)
    columns = _columns(model)
    ids = parent.in_(bindparam("ids", expanding=True))
    if not limited:
        return select(*columns).where(ids).order_by(*order)
    number = func.row_number().over(partition_by=[parent, *also_by], order_by=order).label("rn")
    inner = select(*columns, number).where(ids).subquery()
    return (select(*(inner.c[c.key] for c in columns))
            .where(inner.c.rn <= bindparam("limit", type_=Integer)).order_by(inner.c.rn))


@functools.cache
def _tabs_query(name: str, limited: bool) -> Select[Any]:
    model, entity = _TABS[name]
    cycle = LIFECYCLES[entity]
    columns = _columns(model)
    where = (model.contact_id == _contact_id(), model.state.in_(cycle.all))
    order = [model.created_at.desc(), model.id.desc()]
    if not limited:
        return select(*columns).where(*where).order_by(*order)
    number = func.row_number().over(partition_by=model.state.in_(cycle.completed),
                                    order_by=order).label("rn")
    inner = select(*columns, number).where(*where).subquery()
    return (select(*(inner.c[c.key] for c in columns))
            .where(inner.c.rn <= bindparam("limit", type_=Integer)).order_by(inner.c.rn))


@functools.cache
def _flash_notes_query() -> Select[Any]:
    return select(*_columns(FlashNote)).where(
        FlashNote.contact_id == _contact_id(),
        FlashNote.expires_at.is_(None) | (FlashNote.expires_at > bindparam("now"))).order_by(
        FlashNote.id.desc()).limit(FLASH_NOTES)


@functools.cache
def _schemes_query() -> Select[Any]:
    return select(RewardScheme.id, RewardScheme.name).where(
        RewardScheme.id.in_(bindparam("ids", expanding=True)))


@functools.cache
def _exists_query() -> Select[Any]:
    return select(Contact.id).where(Contact.id == _contact_id())


# --- loading ---------------------------------------------------------------------------------

async def load_contact(session: AsyncSession, contact_id: int) -> Contact | None:
    """The contact with its phones, e-mails and addresses (the page and the info section)."""
    return await session.scalar(
        select(Contact).where(Contact.id == contact_id)
        .options(selectinload(Contact.phones), selectinload(Contact.emails),
                 selectinload(Contact.addresses)))


async def contact_exists(session: AsyncSession, contact_id: int) -> bool:
    """One primary-key probe: all a section other than info needs of the contact."""
    return bool(await _rows(session, _exists_query(), {"contact_id": contact_id}))


async def _rows(session: AsyncSession, query: Select[Any], params: dict[str, Any]) -> list:
    # Core statements run on the session's connection (its transaction): the session's
    # ORM execution path would only add Python time per statement.
    connection = await session.connection()
    return list((await connection.execute(query, params)).all())


async def _listing(session: AsyncSession, name: str, contact_id: int,
                   limit: int | None) -> Listing:
    params: dict[str, Any] = {"contact_id": contact_id}
    if limit is not None:
        params["limit"] = limit + 1  # one more says there are more
    return _cut(await _rows(session, _list_query(name, limit is not None), params), limit)


async def _per_parent(session: AsyncSession, name: str, ids: list[int],
                      limit: int | None) -> dict[int, list]:
    """The rows of the list ``name`` grouped by their parent id, the first ``limit`` of
    each (of each ``(parent, *also_by)`` group when the list has ``also_by``)."""
    if not ids:
        return {}
    params: dict[str, Any] = {"ids": ids}
    if limit is not None:
        params["limit"] = limit
    key = _per_parent_spec(name)[1].key
    grouped: dict[int, list] = {i: [] for i in ids}
    for row in await _rows(session, _per_parent_query(name, limit is not None), params):
        grouped[getattr(row, key)].append(row)
    return grouped


async def _tabs(session: AsyncSession, name: str, contact_id: int,
                limit: int | None) -> dict[str, Listing]:
    """The non-completed and completed tabs of a life-cycle entity (seed 000), newest
    first, from one query: with a limit, each tab's rows are numbered apart and cut at
    ``limit + 1`` (the extra row says there are more)."""
    params: dict[str, Any] = {"contact_id": contact_id}
    if limit is not None:
        params["limit"] = limit + 1
    completed = frozenset(LIFECYCLES[_TABS[name][1]].completed)
    tabs: dict[str, list[Row[Any]]] = {"open": [], "completed": []}
    for row in await _rows(session, _tabs_query(name, limit is not None), params):
        tabs["completed" if row.state in completed else "open"].append(row)
    return {key: _cut(rows, limit) for key, rows in tabs.items()}


async def info_section(session: AsyncSession, contact_id: int,
                       limit: int | None) -> dict[str, Any]:
    return {
        "accounts": await _listing(session, "accounts", contact_id, limit),
        "activities": await _listing(session, "open_activities", contact_id, limit),
        "flash_notes": await _rows(session, _flash_notes_query(),
                                   {"contact_id": contact_id, "now": utcnow()}),
    }


async def subscriptions_section(session: AsyncSession, contact_id: int,
                                limit: int | None) -> dict[str, Any]:
    subs = await _listing(session, "subscriptions", contact_id, limit)
    ids = [s.id for s in subs.rows]
    return {"subscriptions": subs,
            "services": await _per_parent(session, "services", ids, limit),
            "items": await _per_parent(session, "items", ids, limit)}


async def financials_section(session: AsyncSession, contact_id: int,
                             limit: int | None) -> dict[str, Any]:
    accounts = await _listing(session, "accounts", contact_id, limit)
    ids = [a.id for a in accounts.rows]
    return {
        "accounts": accounts,
        "bills": await _per_parent(session, "bills", ids, limit),
        "transactions": await _per_parent(session, "transactions", ids, limit),
        "payments": await _per_parent(session, "payments", ids, limit),
        "wallets": await _per_parent(session, "wallets", ids, limit),
        "vouchers": await _listing(session, "used_vouchers", contact_id, limit),
    }


async def work_section(session: AsyncSession, contact_id: int,
                       limit: int | None) -> dict[str, Any]:
    return {"jobs": await _tabs(session, "jobs", contact_id, limit),
            "service_requests": await _tabs(session, "service_requests", contact_id, limit)}


async def customer_section(session: AsyncSession, contact_id: int,
                           limit: int | None) -> dict[str, Any]:
    return {
        "activities": await _tabs(session, "activities", contact_id, limit),
        "communications": await _listing(session, "communications", contact_id, limit),
        "notifications": await _tabs(session, "notifications", contact_id, limit),
        "leads": await _tabs(session, "leads", contact_id, limit),
    }


async def rewards_section(session: AsyncSession, contact_id: int,
                          limit: int | None) -> dict[str, Any]:
    participants = await _listing(session, "participants", contact_id, limit)
    ids = [p.id for p in participants.rows]
    schemes = dict(await _rows(session, _schemes_query(), {
        "ids": sorted({p.scheme_id for p in participants.rows})})) if ids else {}
    transactions = await _per_parent(session, "reward_transactions", ids, limit)
    by_type = {pid: {kind: [t for t in rows if t.type == kind]
                     for kind in ("award", "spend", "expiration")}
               for pid, rows in transactions.items()}
    events = await _listing(session, "events", contact_id, limit)
    return {"participants": participants, "schemes": schemes, "transactions": by_type,
            "events": events}


LOADERS = {
    "info": info_section, "subscriptions": subscriptions_section,
    "financials": financials_section, "work": work_section, "customer": customer_section,
    "rewards": rewards_section,
}


async def section(session: AsyncSession, name: str, contact_id: int,
                  limit: int | None) -> dict[str, Any]:
    if name not in LOADERS:
        raise LookupError(f"no section {name!r}")
    return await LOADERS[name](session, contact_id, limit)
