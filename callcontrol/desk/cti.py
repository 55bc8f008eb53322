"""``POST /api/v1/cti/events``: the CTI event listener for PBXes other than Asterisk.

As the seeds describe ("any other 3rd party telephony system ... provided that the WEB API
can be called from the telephony system to notify of incoming calls"), the PBX posts one
JSON event per call step, authenticated by a bearer token of an ``admin`` or ``engineer``::

    {"event": "ringing" | "answered" | "ended", "extension": "1001", "call_id": "pbx-42",
     "caller": "+35799123456", "called": "80001234", "direction": "inbound",
     "cause": "normal"}                                       # direction, cause: optional

and gets the same look-up, Communication (draft while the call lasts, completed when it
ends) and pops as an Asterisk call. Other events (a transfer, a park, ...) are not handled;
with the active Communication Centre definition's "Log Unhandled Events" on, each is
logged (logger ``callcontrol.cti.unhandled`` and ``<var_dir>/logs/cti-unhandled.log``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from callcontrol.agents.errors import StateConflict
from callcontrol.agents.states import AgentState, Cause
from callcontrol.app import CONFIG
from callcontrol.crm.lookup import find_contacts_by_phone
from callcontrol.crm.models import Communication, CommunicationCentreDefinition, utcnow
from callcontrol.crm.models.comms import communication_direction
from callcontrol.crm.phones import normalise
from callcontrol.desk.http import json_body
from callcontrol.desk.keys import AGENTS, POPS
from callcontrol.desk.pops import build_pop
from callcontrol.errors import Forbidden, NotFound, ValidationFailed
from callcontrol.logs import call_context
from callcontrol.web.auth import AUTH_VIA, SESSIONS, require_role

logger = logging.getLogger(__name__)
unhandled_logger = logging.getLogger("callcontrol.cti.unhandled")
HANDLED = ("ringing", "answered", "ended")
ROLES = ("admin", "engineer")


def _field(event: dict[str, Any], name: str, limit: int, *, required: bool) -> str | None:
    value = event.get(name)
    if value is None or value == "":
        if required:
            raise ValidationFailed(f"{name}: required", details={"field": name})
        return None
    if not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > limit:
        raise ValidationFailed(f"{name}: a string of at most {limit} characters",
                               details={"field": name})
    return str(value).strip()


def parse(event: dict[str, Any]) -> dict[str, Any]:
    """Validate one event; unknown event names pass (they are the 'unhandled' ones)."""
    name = _field(event, "event", 32, required=True)
    parsed: dict[str, Any] = {"event": name, "raw": event}
    if name not in HANDLED:
        return parsed
    parsed["extension"] = _field(event, "extension", 16, required=True)
    parsed["call_id"] = _field(event, "call_id", 64, required=True)
    parsed["caller"] = _field(event, "caller", 32, required=False)
    parsed["called"] = _field(event, "called", 32, required=False)
    parsed["cause"] = _field(event, "cause", 64, required=False)
    direction = event.get("direction", "inbound")
    if direction not in ("inbound", "outbound"):
        raise ValidationFailed("direction: 'inbound' or 'outbound'",
                               details={"field": "direction"})
    parsed["direction"] = direction
    return parsed


class CtiListener:
    def __init__(self, app: web.Application) -> None:
        self._app = app
        self._sessions = app[SESSIONS]
        self._agents = app[AGENTS]
        self._pops = app[POPS]
        self._region = app[CONFIG].default_region
        self._log_path = Path(app[CONFIG].var_dir) / "logs" / "cti-unhandled.log"

    async def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["event"] not in HANDLED:
            logged = await self._unhandled(event["raw"])
            return {"handled": False, "logged": logged}
        agent = await self._agents.by_extension(event["extension"])
        if agent is None:
            raise NotFound(f"no agent has extension {event['extension']}",
                           error_id="no-such-extension")
        with call_context(event["call_id"]):
            step = {"ringing": self._ringing, "answered": self._answered, "ended": self._ended}
            return await step[event["event"]](agent, event)

    async def _ringing(self, agent: Any, event: dict[str, Any]) -> dict[str, Any]:
        number = event["called"] if event["direction"] == "outbound" else event["caller"]
        e164 = normalise(number, self._region)
        async with self._sessions() as session, session.begin():
            matches = await find_contacts_by_phone(session, e164) if e164 else []
            comm = await _communication(session, event["call_id"])
            if comm is None:
                comm = Communication(
                    direction=communication_direction(event["direction"]), media="phone",
                    state="draft",
                    call_id=event["call_id"], caller_number=event["caller"],
                    called_number=event["called"], started_at=utcnow(),
                    subject=f"{event['direction'].capitalize()} call",
                )
                session.add(comm)
            comm.agent_id = agent.user_id
            comm.contact_id = matches[0].id if len(matches) == 1 else comm.contact_id
            await session.flush()
            comm_id, started = comm.id, comm.started_at
        await self._agent_step(agent.user_id, "ringing")
        pop = build_pop(call_id=event["call_id"], communication_id=comm_id,
                        direction=event["direction"], number=number, e164=e164,
                        matches=matches, started_at=started or utcnow())
        await self._pops.ringing(agent.user_id, pop)
        logger.info("CTI ringing for agent %s: %d contact(s)", agent.user_id, len(matches))
        return {"handled": True, "communication_id": comm_id, "contacts": len(matches)}

    async def _answered(self, agent: Any, event: dict[str, Any]) -> dict[str, Any]:
        comm_id, _ = await self._update(event["call_id"], agent.user_id, answered=True)
        await self._agent_step(agent.user_id, "answered")
        payload = await self._pops.payload(agent.user_id, event["call_id"]) or {
            "call_id": event["call_id"], "communication_id": comm_id,
            "direction": event["direction"], "contacts": []}
        await self._pops.answered(agent.user_id, event["call_id"], payload)
        return {"handled": True, "communication_id": comm_id}

    async def _ended(self, agent: Any, event: dict[str, Any]) -> dict[str, Any]:
        comm_id, answered = await self._update(event["call_id"], agent.user_id,
                                               cause=event["cause"])
        await self._agent_step(agent.user_id, "ended")
        if answered:
            payload = await self._pops.payload(agent.user_id, event["call_id"]) or {}
            await self._pops.ended(agent.user_id, event["call_id"],
                                   {**payload, "communication_id": comm_id})
        else:
            await self._pops.closed(agent.user_id, event["call_id"], "abandoned")
        return {"handled": True, "communication_id": comm_id}

    async def _update(self, call_id: str, agent_id: int, *, answered: bool = False,
                      cause: str | None = None) -> tuple[int, bool]:
        async with self._sessions() as session, session.begin():
            comm = await _communication(session, call_id)
            if comm is None:
                raise NotFound(f"no call {call_id}: send 'ringing' first",
                               error_id="no-such-call")
            now = utcnow()
            comm.agent_id = agent_id
            if answered and comm.answered_at is None:
                comm.answered_at = now
            if not answered and comm.state == "draft":
                _complete(comm, now, cause)
            return comm.id, comm.answered_at is not None

    async def _agent_step(self, user_id: int, step: str) -> None:
        # The PBX rings the phone whatever our state says; the state follows it when it can.
        try:
            if step == "ringing":
                status = await self._agents.get(user_id)
                if status is not None and status.state is AgentState.READY:
                    await self._agents.set_state(user_id, AgentState.RINGING, Cause.CALL)
            elif step == "answered":
                await self._agents.answered(user_id)
            else:
                await self._agents.call_ended(user_id)
        except StateConflict as exc:
            logger.info("agent %s state not changed on %s: %s", user_id, step, exc)

    async def _unhandled(self, raw: dict[str, Any]) -> bool:
        async with self._sessions() as session:
            enabled = await session.scalar(
                select(CommunicationCentreDefinition.log_unhandled_events)
                .where(CommunicationCentreDefinition.active.is_(True)))
        if not enabled:
            return False
        line = json.dumps({"at": utcnow().isoformat(), "event": raw}, default=str)
        unhandled_logger.info("unhandled CTI event: %s", line)
        await asyncio.to_thread(_append, self._log_path, line)
        return True


def _complete(comm: Communication, now: datetime, cause: str | None) -> None:
    comm.state = "completed"
    comm.ended_at = now
    comm.hangup_cause = cause
    if comm.answered_at is not None:
        comm.duration_seconds = max(0, round((now - comm.answered_at).total_seconds()))


async def _communication(session: AsyncSession, call_id: str) -> Communication | None:
    return await session.scalar(select(Communication).where(Communication.call_id == call_id)
                                .order_by(Communication.id.desc()).limit(1))


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(line + "\n")


LISTENER = web.AppKey("cti_listener", CtiListener)


async def events(request: web.Request) -> web.Response:
    require_role(request, *ROLES)
    if request.get(AUTH_VIA) != "bearer":
        raise Forbidden("the CTI listener takes an API token (Authorization: Bearer ...)")
    event = parse(await json_body(request))
    result = await request.app[LISTENER].handle(event)
    return web.json_response(result, status=202 if result["handled"] else 200)
