"""Financial actions on the chosen contact: accounts, subscriptions, bills, vouchers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.cc.actions.base import Action, Context, Outcome, new_number
from callcontrol.cc.actions.forms import ActionFailed, Field
from callcontrol.crm.models import (
    AccountReceivable,
    Bill,
    Contact,
    FinancialTransaction,
    Payment,
    Subscription,
    SubscriptionService,
    Voucher,
    utcnow,
)

CURRENCIES = tuple((c, c) for c in ("EUR", "USD", "GBP", "PLN", "RUB"))
TERMS = (("monthly", "Monthly"), ("quarterly", "Quarterly"), ("yearly", "Yearly"))
METHODS = (("card", "Card"), ("cash", "Cash"), ("bank_transfer", "Bank transfer"))


def _rows(result: Any) -> int:
    """Rows an UPDATE changed (a CursorResult's rowcount)."""
    return int(result.rowcount)


async def account_options(session: AsyncSession, contact: Contact) -> list[tuple[str, str]]:
    rows = (await session.execute(
        select(AccountReceivable.id, AccountReceivable.number, AccountReceivable.currency)
        .where(AccountReceivable.contact_id == contact.id).order_by(AccountReceivable.id)
        .limit(200))).all()
    return [(str(i), f"{number} ({currency})") for i, number, currency in rows]


async def bill_options(session: AsyncSession, contact: Contact) -> list[tuple[str, str]]:
    rows = (await session.execute(
        select(Bill.id, Bill.number, Bill.amount, AccountReceivable.currency)
        .join(AccountReceivable, AccountReceivable.id == Bill.account_id)
        .where(AccountReceivable.contact_id == contact.id, Bill.state != "paid")
        .order_by(Bill.issued_at.desc(), Bill.id.desc()).limit(200))).all()
    return [(str(i), f"{number}: {amount} {currency}") for i, number, amount, currency in rows]


async def _account(session: AsyncSession, ctx: Context, account_id: str) -> AccountReceivable:
    account = await session.get(AccountReceivable, int(account_id))
    if account is None or ctx.contact is None or account.contact_id != ctx.contact.id:
        raise ActionFailed({"account": "choose one of this contact's accounts"})
    return account


async def create_account(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    assert ctx.contact is not None
    account = AccountReceivable(contact_id=ctx.contact.id, number=new_number("A"),
                                currency=v["currency"])
    session.add(account)
    await session.flush()
    return Outcome(f"Account {account.number} was created", "account", account.id,
                   ctx.contact.id, "financials")


async def become_subscriber(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    account = await _account(session, ctx, v["account"])
    sub = Subscription(account_id=account.id, number=new_number("S"), state="active",
                       billing_terms=v["billing_terms"], started_at=utcnow())
    session.add(sub)
    await session.flush()
    session.add(SubscriptionService(subscription_id=sub.id, name=v["service"], mandatory=True))
    if v["optional_service"]:
        session.add(SubscriptionService(subscription_id=sub.id, name=v["optional_service"],
                                        mandatory=False))
    await session.flush()
    return Outcome(f"Subscription {sub.number} was created", "subscription", sub.id,
                   account.contact_id, "subscriptions")


async def pay_bill(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    bill = await session.get(Bill, int(v["bill"]))
    account = await session.get(AccountReceivable, bill.account_id) if bill else None
    if bill is None or account is None or ctx.contact is None \
            or account.contact_id != ctx.contact.id:
        raise ActionFailed({"bill": "choose one of this contact's bills"})
    # The state check in the UPDATE makes a double submission pay once.
    paid = await session.execute(update(Bill).where(Bill.id == bill.id, Bill.state != "paid")
                                 .values(state="paid"))
    if _rows(paid) != 1:
        raise ActionFailed({"bill": "this bill is already paid"})
    payment = Payment(account_id=account.id, amount=bill.amount, method=v["method"])
    session.add(payment)
    session.add(FinancialTransaction(account_id=account.id, type="payment", amount=bill.amount,
                                     details={"bill": bill.number, "method": v["method"]}))
    account.balance -= bill.amount
    await session.flush()
    return Outcome(f"Bill {bill.number} was paid ({bill.amount} {account.currency})", "payment",
                   payment.id, account.contact_id, "financials")


async def use_voucher(session: AsyncSession, ctx: Context, v: dict[str, Any]) -> Outcome:
    account = await _account(session, ctx, v["account"])
    voucher = await session.scalar(select(Voucher).where(
        Voucher.secret_number == v["secret_number"]))
    if voucher is None:
        raise ActionFailed({"secret_number": "no voucher has this secret number"})
    used = await session.execute(update(Voucher).where(
        Voucher.id == voucher.id, Voucher.state == "active")
        .values(state="used", contact_id=account.contact_id))
    if _rows(used) != 1:
        raise ActionFailed({"secret_number": f"this voucher is {voucher.state}, not active"})
    session.add(FinancialTransaction(account_id=account.id, type="voucher",
                                     amount=voucher.value,
                                     details={"voucher": voucher.serial_number}))
    account.balance -= voucher.value
    await session.flush()
    return Outcome(f"Voucher {voucher.serial_number} credited {voucher.value} to "
                   f"{account.number}", "voucher", voucher.id, account.contact_id,
                   "financials")


ACTIONS = [
    Action("create-account", [
        Field("currency", "Currency", "choice", required=True, choices=CURRENCIES)],
        create_account),
    Action("become-subscriber", [
        Field("account", "Account", "select", required=True, options=account_options),
        Field("billing_terms", "Billing terms", "choice", required=True, choices=TERMS),
        Field("service", "Mandatory service", required=True, max_length=100),
        Field("optional_service", "Optional service", max_length=100)], become_subscriber),
    Action("pay-bill", [
        Field("bill", "Bill", "select", required=True, options=bill_options),
        Field("method", "Payment method", "choice", required=True, choices=METHODS)],
        pay_bill, submit=(("save", "Pay"),)),
    Action("use-voucher", [
        Field("secret_number", "Voucher secret number", required=True, max_length=64),
        Field("account", "Credit account", "select", required=True, options=account_options)],
        use_voucher),
]
