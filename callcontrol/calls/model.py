"""The in-memory state of one call and its legs (channels), as call control sees them."""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from callcontrol.calls.records import Journal


class Phase(enum.StrEnum):
    NEW = "new"                # inbound: entered Stasis, look-up and record under way
    QUEUED = "queued"          # waiting for a ready agent (ringing tone, then music on hold)
    RINGING = "ringing"        # an agent's device (or a transfer target) is ringing
    DIALING = "dialing"        # outbound: the agent answered, the customer is ringing
    CONNECTED = "connected"    # customer and agent talk, the bridge is recorded
    MESSAGE = "message"        # nobody answered in time: the caller hears the message
    ENDING = "ending"          # legs hung up, waiting for the recording to be finished
    ENDED = "ended"


class Role(enum.StrEnum):
    CUSTOMER = "customer"      # the inbound caller or the outbound callee
    AGENT = "agent"            # an agent's device (or a blind-transfer target)
    SUPERVISOR = "supervisor"  # a supervisor listening or whispering
    SNOOP = "snoop"            # the snoop channel feeding the supervisor


# Application arguments of the channels callcontrol originates: "<kind>,<call id>".
ORIGINATED_KINDS = {"agent": Role.AGENT, "outbound-agent": Role.AGENT,
                    "customer": Role.CUSTOMER, "supervisor": Role.SUPERVISOR,
                    "snoop": Role.SNOOP}


@dataclass(eq=False)
class Leg:
    id: str
    role: Role
    endpoint: str = ""
    agent_id: int | None = None
    in_stasis: bool = False      # entered our Stasis app (answered, for originated legs)
    gone: bool = False           # StasisEnd / ChannelDestroyed seen, or vanished from ARI
    released: bool = False       # we hung it up on purpose (transfer, cleanup)
    in_bridge: bool = False
    dialstatus: str = ""
    cause: int | None = None
    cause_txt: str = ""
    fail_reason: str = ""        # why a ringing leg failed, when we decided it (timeout)
    timer: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class Call:
    id: str
    direction: str                     # "inbound" | "outbound"
    journal: Journal
    started_at: datetime
    phase: Phase = Phase.NEW
    customer: Leg | None = None
    agent: Leg | None = None           # the current agent leg (ringing or connected)
    legs: dict[str, Leg] = field(default_factory=dict)
    caller_number: str | None = None   # as presented / as dialled
    e164: str | None = None
    called_number: str | None = None
    contacts: list[Any] = field(default_factory=list)
    looked_up: bool = True             # inbound: False until the caller look-up is over
    contact_id: int | None = None
    comm_id: int | None = None
    agent_id: int | None = None        # the agent on the call now
    first_agent_id: int | None = None  # the agent who answered first (on the record)
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    bridge_id: str = ""                # the call's mixing bridge: "<call id>-br"
    bridge_made: bool = False
    moh: bool = False
    customer_answered: bool = False
    recording: str | None = None       # live recording name
    recording_state: str | None = None  # "recording" | "paused" | "done"
    recording_saved: bool = False
    pauses: list[dict[str, Any]] = field(default_factory=list)
    transfers: list[dict[str, Any]] = field(default_factory=list)
    held: bool = False
    muted: bool = False
    supervisor: dict[str, Any] | None = None
    tried: set[int] = field(default_factory=set)
    attempts: int = 0
    outcome: str | None = None         # answered | missed | failed
    hangup_cause: str | None = None
    pending_end: tuple[str, str] | None = None  # outcome, cause decided before our own hang-up
    queue_deadline: float | None = None          # loop time
    timers: dict[str, asyncio.TimerHandle] = field(default_factory=dict)
    mailbox: deque[Any] = field(default_factory=deque)
    runner: asyncio.Task[None] | None = None
    stasis_start_at: datetime | None = None
    popped: set[int] = field(default_factory=set)   # agents who got a pop for this call
    pop_sent: set[int] = field(default_factory=set)  # agents whose pop is sent or sending
    adopted: bool = False
    ringing: asyncio.Future[Any] | None = None   # the caller's ring indication, in flight

    def __post_init__(self) -> None:
        if not self.bridge_id:
            self.bridge_id = f"{self.id}-br"

    @property
    def customer_leg(self) -> Leg:
        """The customer's leg; only for steps that run once it exists."""
        if self.customer is None:
            raise RuntimeError(f"call {self.id} has no customer leg yet")
        return self.customer

    @property
    def agent_leg(self) -> Leg:
        """The current agent leg; only for steps that run once it exists."""
        if self.agent is None:
            raise RuntimeError(f"call {self.id} has no agent leg")
        return self.agent

    def add_leg(self, leg: Leg) -> Leg:
        self.legs[leg.id] = leg
        return leg

    def live_legs(self) -> list[Leg]:
        return [leg for leg in self.legs.values() if not leg.gone]

    def cancel_timer(self, name: str) -> None:
        handle = self.timers.pop(name, None)
        if handle is not None:
            handle.cancel()

    def snapshot(self) -> dict[str, Any]:
        """The call as the API shows it."""
        return {
            "call_id": self.id, "direction": self.direction, "state": self.phase.value,
            "communication_id": self.comm_id, "caller": self.caller_number,
            "e164": self.e164, "called": self.called_number, "contact_id": self.contact_id,
            "agent_id": self.agent_id, "held": self.held, "muted": self.muted,
            "recording": self.recording_state, "recording_pauses": list(self.pauses),
            "transfers": list(self.transfers),
            "supervisor": dict(self.supervisor) if self.supervisor else None,
            "started_at": self.started_at.isoformat(),
            "answered_at": self.answered_at.isoformat() if self.answered_at else None,
            "outcome": self.outcome, "hangup_cause": self.hangup_cause,
        }
