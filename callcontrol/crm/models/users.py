"""Users (agents and staff), API tokens, agent state changes, audit trail, centre definition."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from callcontrol.crm.models.base import Base, Timestamps, utcnow

ROLES = ("agent", "supervisor", "admin", "engineer")


class User(Timestamps, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('agent', 'supervisor', 'admin', 'engineer')", name="role"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    extension: Mapped[str | None] = mapped_column(String(16), unique=True)
    device: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()


class AgentStateChange(Base):
    __tablename__ = "agent_state_changes"
    __table_args__ = (Index("ix_agent_state_changes_user_at", "user_id", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"),
                                                index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CommunicationCentreDefinition(Timestamps, Base):
    __tablename__ = "communication_centre_definitions"
    __table_args__ = (
        Index("uq_communication_centre_definitions_one_active", "active", unique=True,
              postgresql_where=text("active"), sqlite_where=text("active")),
        CheckConstraint("default_search_operator IN ('=', 'like')", name="operator"),
        CheckConstraint("cti_provider IN ('asterisk', 'event_listener')", name="cti"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    number_of_records: Mapped[int | None] = mapped_column(Integer)
    default_search_operator: Mapped[str] = mapped_column(String(8), default="=")
    communications_limit: Mapped[int | None] = mapped_column(Integer)
    search_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    allowed_actions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    cti_provider: Mapped[str | None] = mapped_column(String(16))
    cti_host: Mapped[str | None] = mapped_column(String(255))
    cti_port: Mapped[int | None] = mapped_column(Integer)
    cti_username: Mapped[str | None] = mapped_column(String(100))
    cti_password_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    log_unhandled_events: Mapped[bool] = mapped_column(Boolean, default=False)
