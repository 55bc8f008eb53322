"""``POST /api/v1/agents/me/cti`` ``{"action": "login" | "logout"}``: the CTI login call as
issue #4's acceptance checks make it, with the desk's cti-login / cti-logout semantics
(same body fields, agent service, answers and errors). Registered only when the desk has
not registered that route itself.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcontrol.desk.http import json_body
from callcontrol.desk.keys import AGENTS
from callcontrol.errors import ValidationFailed
from callcontrol.web.auth import current_user

PATH = "/api/v1/agents/me/cti"


def _text(data: dict[str, Any], field: str, limit: int) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationFailed(f"{field}: a string of at most {limit} characters",
                               details={"field": field})
    return value.strip() or None


async def cti(request: web.Request) -> web.Response:
    user = current_user(request)
    data = await json_body(request)
    action, agents = data.get("action"), request.app[AGENTS]
    if action == "login":
        status = await agents.cti_login(user.id, _text(data, "extension", 16),
                                        _text(data, "device", 64))
    elif action == "logout":
        status = await agents.cti_logout(user.id)
    else:
        raise ValidationFailed("action: 'login' or 'logout'", details={"field": "action"})
    return web.json_response(status.to_json())


def registered(app: web.Application, method: str, path: str) -> bool:
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method == method and info.get("path") == path:
            return True
    return False


def add_routes(app: web.Application) -> None:
    if not registered(app, "POST", PATH):
        app.router.add_post(PATH, cti)
