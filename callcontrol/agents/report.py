"""Occupancy from the persisted state history: time per state and per pause reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.agents.states import AgentState
from callcontrol.crm.models import AgentStateChange

MAX_WINDOW_DAYS = 92


@dataclass(frozen=True, slots=True)
class Change:
    at: datetime
    state: str
    reason: str | None


@dataclass
class Occupancy:
    start: datetime
    end: datetime
    seconds: dict[str, float] = field(default_factory=dict)
    not_ready_reasons: dict[str, float] = field(default_factory=dict)
    changes: int = 0

    def to_json(self) -> dict[str, Any]:
        logged_in = sum(v for k, v in self.seconds.items() if k != AgentState.LOGGED_OUT.value)
        busy = sum(self.seconds.get(s.value, 0.0)
                   for s in (AgentState.RINGING, AgentState.ON_CALL, AgentState.WRAP_UP))
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
            "not_ready_reasons": {k: round(v, 3) for k, v in self.not_ready_reasons.items()},
            "changes": self.changes,
            # Share of logged-in time spent on calls (ringing, talking, wrapping up).
            "occupancy": round(busy / logged_in, 4) if logged_in else None,
        }


def occupancy(before: Change | None, changes: Sequence[Change], start: datetime,
              end: datetime) -> Occupancy:
    """Split [start, end) by the state in force: ``before`` is the last change before start."""
    result = Occupancy(start, end, {s.value: 0.0 for s in AgentState}, {}, len(changes))
    current = before or Change(start, AgentState.LOGGED_OUT.value, None)
    since = start
    for change in [*changes, Change(end, "", None)]:
        spent = (min(change.at, end) - max(since, start)).total_seconds()
        if spent > 0:
            result.seconds[current.state] = result.seconds.get(current.state, 0.0) + spent
            if current.state == AgentState.NOT_READY.value:
                reason = current.reason or "not ready"
                result.not_ready_reasons[reason] = (
                    result.not_ready_reasons.get(reason, 0.0) + spent)
        current, since = change, change.at
    return result


async def agent_occupancy(session: AsyncSession, user_id: int, start: datetime,
                          end: datetime) -> Occupancy:
    """Two indexed queries on (user_id, at): the change in force at ``start``, then the rest."""
    c = AgentStateChange
    before = (await session.execute(
        select(c.at, c.state, c.reason).where(c.user_id == user_id, c.at < start)
        .order_by(c.at.desc(), c.id.desc()).limit(1))).first()
    rows = (await session.execute(
        select(c.at, c.state, c.reason).where(c.user_id == user_id, c.at >= start, c.at < end)
        .order_by(c.at, c.id))).all()
    return occupancy(Change(*before) if before else None, [Change(*r) for r in rows],
                     start, end)
