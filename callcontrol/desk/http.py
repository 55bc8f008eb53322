"""Agent REST API: the signed-in agent's CTI login/logout, state and pop preference; the
supervisors' list of agents and occupancy from the persisted state history.
Cookie callers need the CSRF header (the middleware checks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from callcontrol.agents import report
from callcontrol.agents.errors import NoSuchAgent
from callcontrol.agents.states import AgentState, Cause
from callcontrol.crm.models import utcnow
from callcontrol.desk.keys import AGENTS, POPS
from callcontrol.errors import ApiError, ValidationFailed
from callcontrol.web.auth import SESSIONS, current_user, require_role, requires

MAX_BODY = 4096


async def json_body(request: web.Request, *, optional: bool = False) -> dict[str, Any]:
    if optional and not request.can_read_body:
        return {}
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError("request body too large", status=413, error_id="too-large")
    try:
        data = await request.json()
    except ValueError:
        raise ApiError("the body must be a JSON object", error_id="bad-json") from None
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object", error_id="bad-json")
    return data


def _text(data: dict[str, Any], field: str, limit: int) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(f"{field}: a string of at most {limit} characters")
    return value.strip() or None


def _status(status: Any) -> web.Response:
    return web.json_response(status.to_json())


async def me(request: web.Request) -> web.Response:
    user = current_user(request)
    status = await request.app[AGENTS].get(user.id)
    body = status.to_json() if status else {}
    body["pops"] = await request.app[POPS].active(user.id)
    return web.json_response(body)


async def cti_login(request: web.Request) -> web.Response:
    return await _login(request, await json_body(request, optional=True))


async def _login(request: web.Request, data: dict[str, Any]) -> web.Response:
    user = current_user(request)
    status = await request.app[AGENTS].cti_login(
        user.id, _text(data, "extension", 16), _text(data, "device", 64))
    return _status(status)


async def cti_logout(request: web.Request) -> web.Response:
    return _status(await request.app[AGENTS].cti_logout(current_user(request).id))


async def cti(request: web.Request) -> web.Response:
    """``POST /api/v1/agents/me/cti`` ``{"action": "login"|"logout"}`` (plus, for a login,
    the optional ``extension`` and ``device`` of ``cti-login``)."""
    data = await json_body(request)
    action = data.get("action")
    if action == "login":
        return await _login(request, data)
    if action == "logout":
        return await cti_logout(request)
    raise ValidationFailed("action: 'login' or 'logout'", details={"field": "action"})


async def put_state(request: web.Request) -> web.Response:
    user = current_user(request)
    data = await json_body(request)
    state = data.get("state")
    if state not in (AgentState.READY.value, AgentState.NOT_READY.value):
        raise ValidationFailed("state: 'ready' or 'not_ready'")
    reason = _text(data, "reason", 100)
    return _status(await request.app[AGENTS].set_state(
        user.id, AgentState(state), Cause.AGENT, reason))


async def put_pop_preference(request: web.Request) -> web.Response:
    user = current_user(request)
    data = await json_body(request)
    return _status(await request.app[AGENTS].set_pop_preference(
        user.id, data.get("preference")))


@requires("supervisor", "admin")
async def list_agents(request: web.Request) -> web.Response:
    agents = await request.app[AGENTS].list()
    return web.json_response({"agents": [a.to_json() for a in agents]})


def _instant(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name}: an ISO 8601 time such as 2026-11-23T08:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def occupancy(request: web.Request) -> web.Response:
    """Time per state and per pause reason in ``from``..``to`` (default: the last 24 h)."""
    user = current_user(request)
    target = request.match_info["user"]
    if target == "me":
        user_id = user.id
    else:
        require_role(request, "supervisor", "admin")
        if not target.isdigit():
            raise NoSuchAgent(f"no agent {target[:20]!r}")
        user_id = int(target)
    end = _instant(request, "to", utcnow())
    start = _instant(request, "from", end - timedelta(days=1))
    if not start < end or end - start > timedelta(days=report.MAX_WINDOW_DAYS):
        raise ValidationFailed(
            f"from must be before to, at most {report.MAX_WINDOW_DAYS} days apart")
    if await request.app[AGENTS].get(user_id) is None:
        raise NoSuchAgent(f"no agent {user_id}")
    async with request.app[SESSIONS]() as session:
        result = await report.agent_occupancy(session, user_id, start, end)
    return web.json_response({"user_id": user_id, **result.to_json()})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/agents", list_agents)
    app.router.add_get("/api/v1/agents/me", me)
    app.router.add_post("/api/v1/agents/me/cti", cti)
    app.router.add_post("/api/v1/agents/me/cti-login", cti_login)
    app.router.add_post("/api/v1/agents/me/cti-logout", cti_logout)
    app.router.add_put("/api/v1/agents/me/state", put_state)
    app.router.add_put("/api/v1/agents/me/pop-preference", put_pop_preference)
    app.router.add_get("/api/v1/agents/{user}/occupancy", occupancy)
