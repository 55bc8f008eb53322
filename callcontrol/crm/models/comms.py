"""Communications (calls, e-mails, ...), templates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcontrol.crm.models.base import Base, Timestamps

#: A communication's direction, in the CRM's words (calls say inbound/outbound).
INCOMING, OUTGOING = "incoming", "outgoing"
_FROM_CALL = {"inbound": INCOMING, "outbound": OUTGOING}


def communication_direction(call_direction: str) -> str:
    """The communication direction of a call's (``inbound`` -> ``incoming``); CRM words pass."""
    return _FROM_CALL.get(call_direction, call_direction)


def call_direction(communication_direction: str) -> str:
    """The call direction a communication records (``outgoing`` -> ``outbound``)."""
    return "outbound" if communication_direction == OUTGOING else "inbound"


class Communication(Timestamps, Base):
    __tablename__ = "communications"
    __table_args__ = (
        CheckConstraint("direction IN ('incoming', 'outgoing')", name="direction"),
        CheckConstraint("state IN ('draft', 'completed')", name="state"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    media: Mapped[str] = mapped_column(String(16), default="phone")
    category: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="draft")
    subject: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                 index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("communications.id", ondelete="SET NULL"), index=True)
    call_id: Mapped[str | None] = mapped_column(String(64), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(32))
    called_number: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None] = mapped_column(index=True)
    answered_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    hangup_cause: Mapped[str | None] = mapped_column(String(64))
    recording: Mapped[str | None] = mapped_column(String(255))
    recording_pauses: Mapped[list[Any] | None] = mapped_column(JSON)
    transfers: Mapped[list[Any] | None] = mapped_column(JSON)


class CommunicationTemplate(Timestamps, Base):
    __tablename__ = "communication_templates"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    media: Mapped[str] = mapped_column(String(16), default="email")
    subject: Mapped[str] = mapped_column(String(200), default="")
    content: Mapped[str] = mapped_column(Text, default="")
