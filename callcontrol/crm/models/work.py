"""Jobs, service requests, activities, notifications and leads (life-cycle entities)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from callcontrol.crm.models.base import Base, Timestamps


class _Lifecycle(Timestamps):
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str | None] = mapped_column(Text)
    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))


class Job(_Lifecycle, Base):
    __tablename__ = "jobs"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    type: Mapped[str | None] = mapped_column(String(64))


class ServiceRequest(_Lifecycle, Base):
    __tablename__ = "service_requests"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"),
                                            index=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    priority: Mapped[str] = mapped_column(String(16), default="normal")


class Activity(_Lifecycle, Base):
    __tablename__ = "activities"
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    service_request_id: Mapped[int | None] = mapped_column(
        ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"),
                                               index=True)
    due_at: Mapped[datetime | None] = mapped_column()


class Notification(_Lifecycle, Base):
    __tablename__ = "notifications"
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="sms")


class Lead(_Lifecycle, Base):
    __tablename__ = "leads"
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    source: Mapped[str | None] = mapped_column(String(64))
