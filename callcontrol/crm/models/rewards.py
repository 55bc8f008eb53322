"""Reward schemes, participants and their award/spend/expiration transactions, and the
customer events (purchases, referrals, ...) the schemes reward."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from callcontrol.crm.models.base import Base, utcnow


class RewardScheme(Base):
    __tablename__ = "reward_schemes"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)


class RewardParticipant(Base):
    __tablename__ = "reward_participants"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("reward_schemes.id"), index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    points: Mapped[Decimal] = mapped_column(default=Decimal("0"))


class RewardTransaction(Base):
    __tablename__ = "reward_transactions"
    __table_args__ = (
        CheckConstraint("type IN ('award', 'spend', 'expiration')", name="type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("reward_participants.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    points: Mapped[Decimal] = mapped_column()
    at: Mapped[datetime] = mapped_column(default=utcnow)


CUSTOMER_EVENT_TYPES = ("purchase", "referral", "achievement", "web_visit", "social_share")


class CustomerEvent(Base):
    """Something the customer did that a reward scheme may award points for."""

    __tablename__ = "customer_events"
    __table_args__ = (
        CheckConstraint(
            "type IN (" + ", ".join(f"'{t}'" for t in CUSTOMER_EVENT_TYPES) + ")", name="type"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("reward_participants.id", ondelete="SET NULL"), index=True)
    type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(String(200), default="")
    amount: Mapped[Decimal | None] = mapped_column()
    points_awarded: Mapped[Decimal] = mapped_column(default=Decimal("0"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
