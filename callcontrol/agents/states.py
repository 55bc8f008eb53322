"""The agent state machine: logged out, ready, not ready (with a reason), ringing, on call,
wrap-up. Pure logic: the service persists each change and publishes it.

Who may cause what:

* the agent: CTI login/logout, ready <-> not ready (also from wrap-up, to end it early);
* call control: ready -> ringing (a reservation), ringing -> on call (answered),
  ringing -> ready (the caller went away or another agent took the call),
  ringing -> not ready "no answer" (RONA: an agent who lets a call ring out is not offered
  the next one until they say they are back), on call -> wrap-up, wrap-up -> ready (timer).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AgentState(enum.StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    NOT_READY = "not_ready"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"


class Cause(enum.StrEnum):
    AGENT = "agent"
    CALL = "call"
    TIMER = "timer"
    SYSTEM = "system"


S = AgentState
_ALLOWED: dict[Cause, set[tuple[AgentState, AgentState]]] = {
    Cause.AGENT: {
        (S.LOGGED_OUT, S.READY), (S.LOGGED_OUT, S.NOT_READY),
        (S.READY, S.NOT_READY), (S.NOT_READY, S.READY), (S.NOT_READY, S.NOT_READY),
        (S.WRAP_UP, S.READY), (S.WRAP_UP, S.NOT_READY),
        (S.READY, S.LOGGED_OUT), (S.NOT_READY, S.LOGGED_OUT), (S.WRAP_UP, S.LOGGED_OUT),
    },
    Cause.CALL: {
        (S.READY, S.RINGING), (S.RINGING, S.ON_CALL), (S.RINGING, S.READY),
        (S.RINGING, S.NOT_READY), (S.ON_CALL, S.WRAP_UP), (S.READY, S.ON_CALL),
        (S.NOT_READY, S.ON_CALL), (S.WRAP_UP, S.ON_CALL),
    },
    Cause.TIMER: {(S.WRAP_UP, S.READY)},
}


class TransitionRefused(Exception):
    """The change is not allowed from the current state; the message says why."""


@dataclass(frozen=True, slots=True)
class Transition:
    old: AgentState
    new: AgentState
    reason: str | None
    cause: Cause


def transition(
    current: AgentState, new: AgentState, cause: Cause, reason: str | None = None
) -> Transition:
    """Check one change; raise TransitionRefused with an agent-readable message if refused."""
    if cause is Cause.SYSTEM:
        # Reconciliation after a restart may force any state (it reflects what ARI reports).
        return Transition(current, new, reason, cause)
    if (current, new) not in _ALLOWED.get(cause, set()):
        raise TransitionRefused(_refusal(current, new))
    if new is S.NOT_READY and not reason:
        reason = "not ready"
    if new is not S.NOT_READY:
        reason = None
    return Transition(current, new, reason, cause)


def _refusal(current: AgentState, new: AgentState) -> str:
    if current in (S.RINGING, S.ON_CALL):
        return f"cannot change to {new.value} while {current.value.replace('_', ' ')}"
    if current is S.LOGGED_OUT:
        return "log in to the CTI first"
    return f"cannot change from {current.value} to {new.value}"


def can_take_calls(state: AgentState) -> bool:
    return state is S.READY
