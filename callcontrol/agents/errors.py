"""Agent errors, carrying their HTTP meaning (rendered by callcontrol.errors' middleware)."""

from __future__ import annotations

from callcontrol.agents.states import TransitionRefused
from callcontrol.errors import ApiError, Conflict, NotFound


class NoSuchAgent(NotFound):
    error_id = "no-such-agent"


class StateConflict(Conflict, TransitionRefused):
    """The change is not allowed from the agent's current state (409); also a
    TransitionRefused, so callers of the pure state machine can catch one type."""

    error_id = "agent-state-conflict"


class ExtensionInUse(Conflict):
    error_id = "extension-in-use"


class NoExtension(ApiError):
    status = 400
    error_id = "no-extension"
