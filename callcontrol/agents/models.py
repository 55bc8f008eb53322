"""The current state of each agent (one row per agent); the history is AgentStateChange."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from callcontrol.crm.models.base import Base

POP_PREFERENCES = ("ring", "answer", "never")


class AgentStatusRow(Base):
    """Created on the agent's first CTI login or preference change.

    ``version`` makes every change a compare-and-set, so two processes never both apply a
    change computed from the same old state. ``wrapup_until`` is persisted so a restarted
    process can finish the wrap-up timers it did not start.
    """

    __tablename__ = "agent_status"
    __table_args__ = (
        CheckConstraint(
            "state IN ('logged_out', 'ready', 'not_ready', 'ringing', 'on_call', 'wrap_up')",
            name="state",
        ),
        CheckConstraint("pop_preference IN ('ring', 'answer', 'never')", name="pop_preference"),
        Index("ix_agent_status_state_idle", "state", "idle_since"),
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16), default="logged_out")
    reason: Mapped[str | None] = mapped_column(String(100))
    extension: Mapped[str | None] = mapped_column(String(16), index=True)
    device: Mapped[str | None] = mapped_column(String(64))
    since: Mapped[datetime] = mapped_column()
    idle_since: Mapped[datetime | None] = mapped_column()
    wrapup_until: Mapped[datetime | None] = mapped_column()
    pop_preference: Mapped[str] = mapped_column(String(8), default="ring")
    # Before a click-to-call from "not ready": where a cancelled call leaves the agent.
    resume_state: Mapped[str | None] = mapped_column(String(16))
    resume_reason: Mapped[str | None] = mapped_column(String(100))
    version: Mapped[int] = mapped_column(Integer, default=0)
