"""Life-cycle states of the CRM entities (seed 000), in one place."""

from __future__ import annotations

from typing import NamedTuple


class Lifecycle(NamedTuple):
    open: tuple[str, ...]
    completed: tuple[str, ...]

    @property
    def all(self) -> tuple[str, ...]:
        return self.open + self.completed


LIFECYCLES: dict[str, Lifecycle] = {
    "job": Lifecycle(("Draft", "Pending", "In Progress"), ("Completed", "Cancelled")),
    "service_request": Lifecycle(
        ("Draft", "Pending", "Responded", "Temporarily Resolved", "Final Resolved"),
        ("Completed", "Cancelled"),
    ),
    "activity": Lifecycle(("Pending", "In Progress"), ("Completed", "Cancelled")),
    "notification": Lifecycle(("Pending",), ("Completed", "Rejected", "Completed and Removed")),
    "lead": Lifecycle(("Pending", "In Progress"), ("Lost", "Won")),
}

COMMUNICATION_STATES = ("draft", "completed")


def states(entity: str) -> tuple[str, ...]:
    return _lifecycle(entity).all


def open_states(entity: str) -> tuple[str, ...]:
    return _lifecycle(entity).open


def is_completed(entity: str, state: str) -> bool:
    """True for a final (completed) state; ValueError for an unknown entity or state."""
    cycle = _lifecycle(entity)
    if state not in cycle.all:
        raise ValueError(f"unknown {entity} state {state!r}")
    return state in cycle.completed


def _lifecycle(entity: str) -> Lifecycle:
    try:
        return LIFECYCLES[entity]
    except KeyError:
        raise ValueError(f"unknown entity {entity!r}") from None
