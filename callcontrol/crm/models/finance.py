"""Accounts receivable, subscriptions, bills, payments, transactions, vouchers, wallets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcontrol.crm.models.base import Base, Timestamps, utcnow


def _contact_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)


def _account_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("accounts_receivable.id", ondelete="CASCADE"), index=True)


class AccountReceivable(Timestamps, Base):
    __tablename__ = "accounts_receivable"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = _contact_fk()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")


class Subscription(Timestamps, Base):
    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = _account_fk()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    state: Mapped[str] = mapped_column(String(24), default="active")
    billing_terms: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column()


class SubscriptionService(Base):
    __tablename__ = "subscription_services"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    mandatory: Mapped[bool] = mapped_column(Boolean, default=True)


class InstalledItem(Base):
    __tablename__ = "installed_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    serial_number: Mapped[str | None] = mapped_column(String(64), index=True)


class Bill(Base):
    __tablename__ = "bills"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = _account_fk()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column()
    amount: Mapped[Decimal] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="posted")


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = _account_fk()
    amount: Mapped[Decimal] = mapped_column()
    method: Mapped[str] = mapped_column(String(32), default="card")
    paid_at: Mapped[datetime] = mapped_column(default=utcnow)


class FinancialTransaction(Base):
    __tablename__ = "financial_transactions"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = _account_fk()
    type: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column()
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Voucher(Base):
    __tablename__ = "vouchers"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    serial_number: Mapped[str] = mapped_column(String(32), unique=True)
    secret_number: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[Decimal] = mapped_column()
    state: Mapped[str] = mapped_column(String(16), default="active")


class Wallet(Base):
    __tablename__ = "wallets"
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = _account_fk()
    number: Mapped[str] = mapped_column(String(32), unique=True)
    balance: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
