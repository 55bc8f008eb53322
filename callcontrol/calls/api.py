"""HTTP API of call control: click-to-call and the mid-call controls.

``POST /api/v1/calls`` ``{"contact_id": 5}`` or ``{"number": "+35799123456"}`` (an agent,
bearer token or session): rings the agent's own device, then dials the customer.
``GET /api/v1/calls`` (own calls; supervisors see all), ``GET /api/v1/calls/{call_id}``,
``POST /api/v1/calls/{call_id}/{hold|unhold|mute|unmute|hangup|transfer|supervise|
unsupervise}`` and ``POST /api/v1/calls/{call_id}/recording/{pause|resume}``.
Errors: 400 bad input, 403 not your call, 404 unknown call, 409 not possible now.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from callcontrol.calls.control import CallControl, CallError
from callcontrol.errors import ApiError, Conflict, Forbidden, NotFound
from callcontrol.web.auth import current_user, require_role

CALLS = web.AppKey("calls", CallControl)

_ERRORS: dict[str, type[ApiError]] = {"not_found": NotFound, "conflict": Conflict,
                                      "forbidden": Forbidden}
ACTIONS = ("hold", "unhold", "mute", "unmute", "hangup", "transfer", "supervise", "unsupervise")


def api_error(exc: CallError) -> ApiError:
    cls = _ERRORS.get(exc.kind)
    if cls is None:
        return ApiError(exc.message, status=400, error_id="bad-request")
    return cls(exc.message)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json(loads=json.loads)
    except (ValueError, UnicodeDecodeError):
        raise ApiError("the body must be a JSON object", status=400,
                       error_id="bad-request") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ApiError("the body must be a JSON object", status=400, error_id="bad-request")
    return data


def _calls(request: web.Request) -> CallControl:
    calls = request.app.get(CALLS)
    if calls is None:
        raise ApiError("call control is not running", status=503,
                       error_id="service-unavailable")
    return calls


async def create_call(request: web.Request) -> web.Response:
    user = require_role(request, "agent", "supervisor", "admin")
    body = await _body(request)
    contact_id, number = body.get("contact_id"), body.get("number")
    if (contact_id is None) == (number is None):
        raise ApiError("give exactly one of contact_id or number", status=400,
                       error_id="bad-request")
    if contact_id is not None and (isinstance(contact_id, bool) or
                                   not isinstance(contact_id, int) or contact_id <= 0):
        raise ApiError("contact_id must be a positive whole number", status=400,
                       error_id="bad-request")
    if number is not None and (not isinstance(number, str) or not number.strip()
                               or len(number) > 64):
        raise ApiError("number must be a phone number", status=400, error_id="bad-request")
    try:
        call = await _calls(request).originate(user.id, number=number, contact_id=contact_id)
    except CallError as exc:
        raise api_error(exc) from exc
    return web.json_response(call, status=201)


async def list_calls(request: web.Request) -> web.Response:
    user = current_user(request)
    return web.json_response({"calls": _calls(request).list_for(user)})


async def get_call(request: web.Request) -> web.Response:
    user = current_user(request)
    try:
        return web.json_response(_calls(request).get(request.match_info["call_id"], user))
    except CallError as exc:
        raise api_error(exc) from exc


async def call_action(request: web.Request) -> web.Response:
    user = current_user(request)
    action = request.match_info["action"]
    if "recording" in request.match_info:
        action = f"recording/{request.match_info['recording']}"
    body = await _body(request)
    try:
        call = await _calls(request).control(request.match_info["call_id"], user, action, body)
    except CallError as exc:
        raise api_error(exc) from exc
    return web.json_response(call)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/calls", create_call)
    app.router.add_get("/api/v1/calls", list_calls)
    app.router.add_get("/api/v1/calls/{call_id}", get_call)
    app.router.add_post("/api/v1/calls/{call_id}/{action:" + "|".join(ACTIONS) + "}",
                        call_action)
    app.router.add_post("/api/v1/calls/{call_id}/{action:recording}/{recording:pause|resume}",
                        call_action)
