"""The OpenAPI path items of every route under /api/v1 (plus /healthz and /metrics).

One function per domain; ``tests/api/test_openapi.py`` checks them against the routes the
app as ``serve`` composes it registers, in both directions, so this cannot drift.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from callcontrol.api.schemas import ID, INTEGER, STRING, TIME, Schema, enum, obj, ref

Operation = dict[str, Any]

ERRORS = {
    400: ("BadRequest", "bad input: a parameter or the body is wrong"),
    401: ("Unauthorized", "no valid session cookie or bearer token"),
    403: ("Forbidden", "signed in, but this needs another role or is someone else's"),
    404: ("NotFound", "no such resource"),
    409: ("Conflict", "not possible in the current state"),
    413: ("TooLarge", "the request body is too large"),
    422: ("InvalidInput", "the input is well formed but not valid"),
    503: ("ServiceUnavailable", "a service this needs is not running"),
}
ERROR_RESPONSES = {name: {"description": text, "content": {
    "application/json": {"schema": ref("Error")}}} for name, text in ERRORS.values()}


def json(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def param(name: str, where: str, schema: Schema, description: str, *,
          required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "schema": schema, "description": description,
            "required": required or where == "path"}


def op(op_id: str, tag: str, summary: str, responses: dict[int, Any], *,
       errors: tuple[int, ...] = (401,), description: str | None = None,
       params: tuple[dict[str, Any], ...] = (), body: Schema | None = None,
       body_required: bool = True, public: bool = False) -> Operation:
    operation: Operation = {"operationId": op_id, "tags": [tag], "summary": summary,
                            "responses": {str(code): value for code, value in responses.items()}}
    for code in errors:
        operation["responses"][str(code)] = {
            "$ref": f"#/components/responses/{ERRORS[code][0]}"}
    if description:
        operation["description"] = description
    if params:
        operation["parameters"] = list(params)
    if body is not None:
        operation["requestBody"] = {"required": body_required,
                                    "content": {"application/json": {"schema": body}}}
    if public:
        operation["security"] = []
    return operation


COMM_ID = param("id", "path", ID, "the communication's id")
CALL_ID = param("call_id", "path", STRING, "the call id, e.g. callcontrol:1700000000.42")


def communications() -> dict[str, Any]:
    who = ("Agents see only communications they handled; supervisors and admins see all; "
           "engineers get 403.")
    return {
        "/api/v1/communications": {"get": op(
            "listCommunications", "communications", "List communications, newest first",
            {200: json("a page of communications", ref("CommunicationList"))},
            errors=(400, 401, 403),
            description=who + " Unknown parameters are refused (400); an empty value counts "
                              "as not given.",
            params=(
                param("contact_id", "query", ID, "only this contact's"),
                param("agent", "query", {"oneOf": [ID, {"const": "me"}]},
                      "only those this agent handled: a user id or `me` (agents: only `me` "
                      "or their own id)"),
                param("direction", "query", enum("incoming", "outgoing"), "only this direction"),
                param("state", "query", enum("draft", "completed"), "only this state"),
                param("limit", "query", {**INTEGER, "minimum": 1, "maximum": 500,
                                         "default": 50}, "at most this many"),
                param("offset", "query", {**INTEGER, "minimum": 0, "maximum": 100000,
                                          "default": 0}, "skip this many"),
            ))},
        "/api/v1/communications/{id}": {"get": op(
            "getCommunication", "communications", "One communication with its recording",
            {200: json("the communication", ref("Communication"))},
            errors=(400, 401, 403, 404), description=who, params=(COMM_ID,))},
        "/api/v1/communications/{id}/recording": {"get": op(
            "getCommunicationRecording", "communications", "Download the call's recording",
            {200: {"description": "the WAV file (Content-Length set)",
                   "content": {"audio/wav": {"schema": {"type": "string",
                                                        "contentMediaType": "audio/wav"}}}},
             206: {"description": "the requested byte range (send a Range header)",
                   "content": {"audio/wav": {"schema": {"type": "string"}}}},
             416: {"description": "the Range lies outside the file"}},
            errors=(400, 401, 403, 404), params=(COMM_ID,),
            description=who + " 404 `no-recording` when none is stored.")},
    }


def _call_action(op_id: str, summary: str, body: Schema | None = None,
                 description: str | None = None) -> dict[str, Any]:
    return {"post": op(op_id, "calls", summary, {200: json("the call", ref("Call"))},
                       errors=(400, 401, 403, 404, 409, 503), params=(CALL_ID,), body=body,
                       body_required=False, description=description)}


def calls() -> dict[str, Any]:
    base = "/api/v1/calls/{call_id}"
    paths: dict[str, Any] = {
        "/api/v1/calls": {
            "post": op("createCall", "calls", "Click-to-call: ring my device, then the customer",
                       {201: json("the new call", ref("Call"))},
                       errors=(400, 401, 403, 404, 409, 503), body=ref("NewCall"),
                       description="Agents, supervisors and admins; their own device rings "
                                   "first, then the customer is dialled with the configured "
                                   "caller id."),
            "get": op("listCalls", "calls", "Calls under way (mine; supervisors: all)",
                      {200: json("the calls", obj({"calls": {"type": "array",
                                                             "items": ref("Call")}}))},
                      errors=(401, 503)),
        },
        base: {"get": op("getCall", "calls", "One call under way",
                         {200: json("the call", ref("Call"))},
                         errors=(401, 403, 404, 503), params=(CALL_ID,))},
    }
    actions = {
        "hold": ("holdCall", "Hold (the customer hears music on hold)", None),
        "unhold": ("unholdCall", "Take off hold", None),
        "mute": ("muteCall", "Mute the agent", None),
        "unmute": ("unmuteCall", "Unmute the agent", None),
        "hangup": ("hangupCall", "Hang up", None),
        "transfer": ("transferCall", "Blind transfer to an agent's extension or a number",
                     obj({"extension": {**STRING, "pattern": r"^[0-9*#+]{1,20}$"}})),
        "supervise": ("superviseCall", "Supervisor: listen to or whisper on the call",
                      obj({"mode": enum("listen", "whisper")}, required=())),
        "unsupervise": ("unsuperviseCall", "Supervisor: stop listening", None),
    }
    for action, (op_id, summary, body) in actions.items():
        paths[f"{base}/{action}"] = _call_action(op_id, summary, body)
    for action in ("pause", "resume"):
        paths[f"{base}/recording/{action}"] = _call_action(
            f"{action}Recording", f"{action.capitalize()} the recording",
            description="For card payments; each paused interval is kept on the "
                        "communication (recording_pauses).")
    return paths


def agents() -> dict[str, Any]:
    status = {200: json("the agent's status", ref("AgentStatus"))}
    me = "/api/v1/agents/me"
    return {
        "/api/v1/agents": {"get": op(
            "listAgents", "agents", "Every agent's status (supervisors, admins)",
            {200: json("the agents", obj({"agents": {"type": "array",
                                                     "items": ref("AgentStatus")}}))},
            errors=(401, 403))},
        me: {"get": op("getMyAgent", "agents", "My status and active pops",
                       {200: json("the AgentStatus fields (none before a first CTI "
                                  "login) and the active pops",
                                  obj({"pops": {"type": "array", "items": ref("Pop")}}))})},
        "/api/v1/agents/{user}/occupancy": {"get": op(
            "getAgentOccupancy", "agents", "Time per state and per pause reason",
            {200: json("the agent's occupancy in the window", ref("Occupancy"))},
            errors=(401, 403, 404, 422),
            description="`me` for oneself; another agent's needs a supervisor or admin. "
                        "The window defaults to the last 24 hours, at most 92 days.",
            params=(param("user", "path", {"oneOf": [ID, {"const": "me"}]},
                          "a user id or `me`"),
                    param("from", "query", TIME, "start of the window (ISO 8601)"),
                    param("to", "query", TIME, "end of the window (ISO 8601)")))},
        f"{me}/cti": {"post": op(
            "cti", "agents", "CTI login or logout in one call", status,
            errors=(400, 401, 409, 413, 422), body=obj({
                "action": enum("login", "logout"), "extension": {**STRING, "maxLength": 16},
                "device": {**STRING, "maxLength": 64}}, required=("action",)),
            description="The same as cti-login (with its optional extension and device) or "
                        "cti-logout.")},
        f"{me}/cti-login": {"post": op(
            "ctiLogin", "agents", "CTI login: bind me to my extension and device", status,
            errors=(400, 401, 409, 413, 422), body_required=False,
            body=obj({"extension": {**STRING, "maxLength": 16},
                      "device": {**STRING, "maxLength": 64}}, required=()),
            description="Defaults to the user's own extension and device.")},
        f"{me}/cti-logout": {"post": op(
            "ctiLogout", "agents", "CTI logout (refused while ringing or on a call)", status,
            errors=(401, 409))},
        f"{me}/state": {"put": op(
            "setMyState", "agents", "Become ready or not ready", status,
            errors=(400, 401, 409, 413, 422),
            body=obj({"state": enum("ready", "not_ready"),
                      "reason": {**STRING, "maxLength": 100}}, required=("state",)))},
        f"{me}/pop-preference": {"put": op(
            "setMyPopPreference", "agents", "When my screen pop opens", status,
            errors=(400, 401, 413, 422),
            body=obj({"preference": enum("ring", "answer", "never")}))},
    }


def desk() -> dict[str, Any]:
    return {
        "/api/v1/ws": {"get": op(
            "agentWebsocket", "agents", "The agent websocket (pops and state changes)",
            {101: {"description": "switching to the websocket protocol; server messages are "
                                  "JSON objects (WebsocketMessage)",
                   "content": {"application/json": {"schema": ref("WebsocketMessage")}}}},
            errors=(400, 401, 403),
            description="Session cookie (with an allowed Origin) or bearer token. Client "
                        "messages: agent.state, agent.cti_login, agent.cti_logout, "
                        "agent.pop_preference, pop.ack, ping.")},
        "/api/v1/cti/events": {"post": op(
            "postCtiEvent", "cti", "A third-party PBX's call event (ringing/answered/ended)",
            {202: json("handled: communication and pops updated", ref("CtiResult")),
             200: json("not handled (logged when the definition says so)", ref("CtiResult"))},
            errors=(400, 401, 403, 404, 413, 422), body=ref("CtiEvent"),
            description="Bearer token of an admin or engineer only (no cookie).")},
    }


def _operation_id(method: str, path: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.removeprefix("/api/v1/"))
    return method + "".join(w.capitalize() for w in words)


def cc() -> dict[str, Any]:
    """The Centre's own description (``callcontrol.cc.openapi.PATHS``), tagged and named."""
    from callcontrol.cc.openapi import PATHS

    paths = copy.deepcopy(PATHS)
    for path, item in paths.items():
        for method, operation in item.items():
            operation.setdefault("tags", ["communication-centre"])
            operation.setdefault("operationId", _operation_id(method, path))
    paths["/api/v1/cc/openapi.json"] = {"get": op(
        "getCcOpenApi", "communication-centre", "The Centre's part of this document alone",
        {200: json("an OpenAPI 3.1 document", {"type": "object"})})}
    return paths


def service() -> dict[str, Any]:
    return {
        "/api/v1/openapi.json": {"get": op(
            "getOpenApi", "service", "This OpenAPI 3.1 document",
            {200: json("the document", {"type": "object"})}, errors=(), public=True)},
        "/healthz": {"get": op(
            "health", "service", "Database, Redis and ARI checks",
            {200: json("all healthy", ref("Health")), 503: json("degraded", ref("Health"))},
            errors=(), public=True)},
        "/metrics": {"get": op(
            "metrics", "service", "Prometheus metrics",
            {200: {"description": "text exposition format",
                   "content": {"text/plain": {"schema": STRING}}}},
            errors=(), public=True)},
    }


def all_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for part in (service, communications, calls, agents, desk, cc):
        paths.update(part())
    return paths
