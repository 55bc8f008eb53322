"""The sections of a contact, each capped by the definition's number of records.

Every section is a fixed number of queries whatever the contact holds: lists per parent
(bills per account, services per subscription, ...) are cut with ``row_number()`` in SQL,
never loaded row by row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload

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


@dataclass
class Listing:
    """At most ``limit`` rows, and whether there are more."""

    rows: list[Any]
    more: bool


async def load_contact(session: AsyncSession, contact_id: int) -> Contact | None:
    return await session.scalar(
        select(Contact).where(Contact.id == contact_id)
        .options(selectinload(Contact.phones), selectinload(Contact.emails),
                 selectinload(Contact.addresses)))


async def _listing(session: AsyncSession, query: Select[Any], limit: int | None) -> Listing:
    if limit is None:
        return Listing(list((await session.scalars(query)).all()), False)
    rows = list((await session.scalars(query.limit(limit + 1))).all())
    return Listing(rows[:limit], len(rows) > limit)


async def _per_parent(session: AsyncSession, model: Any, parent: Any, ids: list[int],
                      order: list[Any], limit: int | None,
                      also_by: tuple[Any, ...] = ()) -> dict[int, list]:
    """Rows of ``model`` grouped by the ``parent`` column, the first ``limit`` of each
    (of each ``(parent, *also_by)`` group when ``also_by`` is given)."""
    if not ids:
        return {}
    if limit is None:
        query = select(model).where(parent.in_(ids)).order_by(*order)
    else:
        number = func.row_number().over(partition_by=[parent, *also_by], order_by=order).label("rn")
        inner = select(model, number).where(parent.in_(ids)).subquery()
        row = aliased(model, inner)
        query = select(row).where(inner.c.rn <= limit).order_by(inner.c.rn)
    grouped: dict[int, list] = {i: [] for i in ids}
    for item in (await session.scalars(query)).all():
        grouped[getattr(item, parent.key)].append(item)
    return grouped


async def _tabs(session: AsyncSession, model: Any, entity: str, contact_id: int,
                limit: int | None) -> dict[str, Listing]:
    """The non-completed and completed tabs of a life-cycle entity (seed 000)."""
    cycle = LIFECYCLES[entity]
    base = select(model).where(model.contact_id == contact_id).order_by(
        model.created_at.desc(), model.id.desc())
    return {"open": await _listing(session, base.where(model.state.in_(cycle.open)), limit),
            "completed": await _listing(
                session, base.where(model.state.in_(cycle.completed)), limit)}


async def _accounts(session: AsyncSession, contact_id: int, limit: int | None) -> Listing:
    return await _listing(session, select(AccountReceivable).where(
        AccountReceivable.contact_id == contact_id).order_by(AccountReceivable.id), limit)


async def info_section(session: AsyncSession, contact_id: int,
                       limit: int | None) -> dict[str, Any]:
    open_states = LIFECYCLES["activity"].open
    now = utcnow()
    return {
        "accounts": await _accounts(session, contact_id, limit),
        "activities": await _listing(session, select(Activity).where(
            Activity.contact_id == contact_id, Activity.state.in_(open_states))
            .order_by(Activity.due_at, Activity.id), limit),
        "flash_notes": list((await session.scalars(select(FlashNote).where(
            FlashNote.contact_id == contact_id,
            (FlashNote.expires_at.is_(None)) | (FlashNote.expires_at > now))
            .order_by(FlashNote.id.desc()).limit(5))).all()),
    }


async def subscriptions_section(session: AsyncSession, contact_id: int,
                                limit: int | None) -> dict[str, Any]:
    subs = await _listing(session, select(Subscription).join(
        AccountReceivable, AccountReceivable.id == Subscription.account_id)
        .where(AccountReceivable.contact_id == contact_id)
        .order_by(Subscription.id.desc()), limit)
    ids = [s.id for s in subs.rows]
    return {
        "subscriptions": subs,
        "services": await _per_parent(session, SubscriptionService,
                                      SubscriptionService.subscription_id, ids,
                                      [SubscriptionService.mandatory.desc(),
                                       SubscriptionService.id], limit),
        "items": await _per_parent(session, InstalledItem, InstalledItem.subscription_id, ids,
                                   [InstalledItem.id], limit),
    }


async def financials_section(session: AsyncSession, contact_id: int,
                             limit: int | None) -> dict[str, Any]:
    accounts = await _accounts(session, contact_id, limit)
    ids = [a.id for a in accounts.rows]
    return {
        "accounts": accounts,
        "bills": await _per_parent(session, Bill, Bill.account_id, ids,
                                   [Bill.issued_at.desc(), Bill.id.desc()], limit),
        "transactions": await _per_parent(
            session, FinancialTransaction, FinancialTransaction.account_id, ids,
            [FinancialTransaction.posted_at.desc(), FinancialTransaction.id.desc()], limit),
        "payments": await _per_parent(session, Payment, Payment.account_id, ids,
                                      [Payment.paid_at.desc(), Payment.id.desc()], limit),
        "wallets": await _per_parent(session, Wallet, Wallet.account_id, ids, [Wallet.id],
                                     limit),
        "vouchers": await _listing(session, select(Voucher).where(
            Voucher.contact_id == contact_id, Voucher.state == "used")
            .order_by(Voucher.id.desc()), limit),
    }


async def work_section(session: AsyncSession, contact_id: int,
                       limit: int | None) -> dict[str, Any]:
    return {"jobs": await _tabs(session, Job, "job", contact_id, limit),
            "service_requests": await _tabs(session, ServiceRequest, "service_request",
                                            contact_id, limit)}


async def customer_section(session: AsyncSession, contact_id: int,
                           limit: int | None) -> dict[str, Any]:
    return {
        "activities": await _tabs(session, Activity, "activity", contact_id, limit),
        "communications": await _listing(session, select(Communication).where(
            Communication.contact_id == contact_id)
            .order_by(Communication.created_at.desc(), Communication.id.desc()), limit),
        "notifications": await _tabs(session, Notification, "notification", contact_id, limit),
        "leads": await _tabs(session, Lead, "lead", contact_id, limit),
    }


async def rewards_section(session: AsyncSession, contact_id: int,
                          limit: int | None) -> dict[str, Any]:
    participants = await _listing(session, select(RewardParticipant).where(
        RewardParticipant.contact_id == contact_id).order_by(RewardParticipant.id), limit)
    ids = [p.id for p in participants.rows]
    schemes = dict((await session.execute(select(RewardScheme.id, RewardScheme.name).where(
        RewardScheme.id.in_({p.scheme_id for p in participants.rows})))).all()) if ids else {}
    transactions = await _per_parent(
        session, RewardTransaction, RewardTransaction.participant_id, ids,
        [RewardTransaction.at.desc(), RewardTransaction.id.desc()], limit,
        also_by=(RewardTransaction.type,))
    by_type = {pid: {kind: [t for t in rows if t.type == kind]
                     for kind in ("award", "spend", "expiration")}
               for pid, rows in transactions.items()}
    events = await _listing(session, select(CustomerEvent).where(
        CustomerEvent.contact_id == contact_id).order_by(
        CustomerEvent.at.desc(), CustomerEvent.id.desc()), limit)
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
