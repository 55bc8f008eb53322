"""Call-control pages: the supervisor wallboard and what the in-page call controls need.

``add_page_routes(app)`` (called from ``callcontrol.calls.setup``) adds:

``GET /supervisor``                 the wallboard (supervisor, admin): agents by state with the
                                    time in state and reason, calls in progress, listen and
                                    whisper buttons; ``/supervisor/board`` is its live part,
                                    polled by htmx every 2 s.
``GET /calls/state/{call_id}``      JSON ``{"call": snapshot}`` as ``GET /api/v1/calls/{id}``,
                                    but an ended or unknown call is ``{"call": null, "ended":
                                    true}`` and a call that is not yours ``{"call": null,
                                    "forbidden": true, "message": ...}`` (200: the banner polls
                                    it, and a finished call is not an error in the console).
``GET /calls/transfer-targets``     JSON ``{"agents": [{user_id, username, extension}]}``: the
                                    ready agents a call may be blind-transferred to (agents may
                                    not list ``/api/v1/agents``; this shows them only who is
                                    ready, by name and extension).

The banner controls (``webui/templates/calls/_banner.html``) and the click-to-call button
(``calls/_call_button.html``) are template partials the contact view includes (only where
this ran: it sets the ``calls_enabled`` template global); their behaviour is
``webui/static/calls/calls.js`` over the call-control API. The banner follows the call from
the API's answers, from the desk websocket (desk.js dispatches every message as a
``desk:message`` DOM event) and from a 2 s poll of ``/calls/state``. Keyboard: every control
is a button; Alt+H hold/resume, Alt+M mute/unmute, Alt+R pause/resume the recording, Alt+T
transfer (shown in each button's tooltip and ``aria-keyshortcuts``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select

from callcontrol.agents import store as agent_store
from callcontrol.agents.states import AgentState
from callcontrol.calls.api import CALLS
from callcontrol.calls.control import CallError
from callcontrol.crm.models import User
from callcontrol.web.auth import SESSIONS, current_user, require_role
from callcontrol.web.pages import NavItem, add_nav, page, render

SUPERVISORS = ("supervisor", "admin")
STATE_LABELS = {
    AgentState.READY: "Ready", AgentState.RINGING: "Ringing", AgentState.ON_CALL: "On call",
    AgentState.WRAP_UP: "Wrap-up", AgentState.NOT_READY: "Not ready",
    AgentState.LOGGED_OUT: "Logged out",
}
CALL_STATE_LABELS = {
    "new": "New", "queued": "Waiting in queue", "ringing": "Ringing", "dialing": "Dialling",
    "connected": "Connected", "message": "Message", "ending": "Ending", "ended": "Ended",
}


def _agents_service(request: web.Request) -> Any:
    from callcontrol.desk.keys import AGENTS

    service = request.app.get(AGENTS)
    if service is None:
        raise web.HTTPServiceUnavailable(text="the agent service is not running")
    return service


def duration(seconds: float) -> str:
    """``m:ss`` under an hour, ``h:mm:ss`` above; never negative."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _seconds_since(value: datetime | str | None, now: datetime) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return (now - value).total_seconds()


async def board_data(request: web.Request) -> dict[str, Any]:
    """Agents (with time in state), counts per state, calls in progress."""
    now = datetime.now(UTC)
    service = _agents_service(request)
    agents = await service.list()
    sessions = request.app[SESSIONS]
    async with sessions() as session:
        # the same query the callcontrol_agents{state} gauge is set from
        counts = await agent_store.counts(session)
        names = dict((await session.execute(
            select(User.id, User.display_name).where(
                User.id.in_([a.user_id for a in agents] or [0])))).all())
    calls_service = request.app.get(CALLS)
    calls = calls_service.list_for(current_user(request)) if calls_service else None
    by_agent: dict[int, dict[str, Any]] = {}
    call_rows = []
    usernames = {a.user_id: a.username for a in agents}
    for call in calls or []:
        if call.get("agent_id") is not None:
            by_agent[call["agent_id"]] = call
        since = _seconds_since(call.get("answered_at") or call.get("started_at"), now)
        sup = call.get("supervisor")
        call_rows.append({
            **call,
            "state_label": CALL_STATE_LABELS.get(call["state"], call["state"]),
            "number": (call.get("e164") or call.get("caller") if call["direction"] == "inbound"
                       else call.get("called")) or "unknown number",
            "agent_name": usernames.get(call.get("agent_id"), ""),
            "elapsed": duration(since) if since is not None else "",
            "dom_id": "".join(c if c.isalnum() else "-" for c in call["call_id"]),
            "supervised_by_me": bool(sup and sup.get("user_id") == current_user(request).id),
            "can_supervise": call["state"] == "connected" and not sup,
        })
    rows = []
    for agent in agents:
        since = _seconds_since(agent.since, now)
        rows.append({
            "user_id": agent.user_id, "username": agent.username,
            "name": names.get(agent.user_id) or agent.username,
            "extension": agent.extension or "", "state": agent.state.value,
            "state_label": STATE_LABELS.get(agent.state, agent.state.value),
            "reason": agent.reason or "",
            "in_state": duration(since) if since is not None else "",
            "call": by_agent.get(agent.user_id),
        })
    order = list(STATE_LABELS)
    rows.sort(key=lambda r: (order.index(AgentState(r["state"])), r["username"]))
    return {
        "agents": rows, "calls": call_rows, "calls_running": calls_service is not None,
        "counts": [{"state": s.value, "label": STATE_LABELS[s], "count": counts.get(s.value, 0)}
                   for s in order],
        "updated": now.strftime("%H:%M:%S"),
    }


@page(roles=SUPERVISORS)
async def wallboard(request: web.Request) -> web.Response:
    return await render(request, "calls/supervisor.html", await board_data(request))


@page(roles=SUPERVISORS)
async def wallboard_board(request: web.Request) -> web.Response:
    # a bare fragment: not ``render``, which would consume the session's flash messages
    response = aiohttp_jinja2.render_template("calls/_board.html", request,
                                              await board_data(request))
    response.headers["Cache-Control"] = "no-store"
    return response


async def transfer_targets(request: web.Request) -> web.Response:
    user = require_role(request, "agent", *SUPERVISORS)
    agents = await _agents_service(request).list()
    ready = [{"user_id": a.user_id, "username": a.username, "extension": a.extension}
             for a in agents
             if a.state is AgentState.READY and a.extension and a.user_id != user.id]
    response = web.json_response({"agents": ready})
    response.headers["Cache-Control"] = "no-store"
    return response


async def call_state(request: web.Request) -> web.Response:
    user = current_user(request)
    calls = request.app.get(CALLS)
    call_id = request.match_info["call_id"]
    body: dict[str, Any]
    if calls is None:
        body = {"call": None, "ended": False, "message": "call control is not running"}
    else:
        try:
            body = {"call": calls.get(call_id, user)}
        except CallError as exc:
            if exc.kind == "forbidden":
                body = {"call": None, "forbidden": True, "message": exc.message}
            else:
                body = {"call": None, "ended": True, "message": exc.message}
    response = web.json_response(body)
    response.headers["Cache-Control"] = "no-store"
    return response


def add_page_routes(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app) if aiohttp_jinja2.APP_KEY in app else None
    if env is not None:  # the contact view's banner controls and click-to-call buttons
        env.globals["calls_enabled"] = True
    app.router.add_get("/calls/state/{call_id}", call_state)
    app.router.add_get("/supervisor", wallboard)
    app.router.add_get("/supervisor/board", wallboard_board)
    app.router.add_get("/calls/transfer-targets", transfer_targets)
    add_nav(app, NavItem("Wallboard", "/supervisor", SUPERVISORS))
