"""JSON Schemas (OpenAPI 3.1 components) of the /api/v1 request and response bodies.

Built as plain dicts so the document needs no data file; ``callcontrol.api.openapi``
assembles them with the paths. Nullable fields use JSON Schema 2020-12 type lists.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: tuple[str, ...] | None = None,
        *, description: str | None = None, extra: bool = True) -> Schema:
    """An object; by default every property is required (responses always carry them)."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": list(properties if required is None else required)}
    if not extra:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


def nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    kind = schema["type"]
    widened = {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}
    if "enum" in schema:
        widened["enum"] = [*schema["enum"], None]
    return widened


def array(items: Schema, description: str | None = None) -> Schema:
    schema: Schema = {"type": "array", "items": items}
    if description:
        schema["description"] = description
    return schema


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
ID: Schema = {"type": "integer", "minimum": 1}
TIME: Schema = {"type": "string", "format": "date-time"}
MONEY: Schema = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$",
                 "description": "a decimal amount as a string (exact)"}
ANY_OBJECT: Schema = {"type": "object", "additionalProperties": True}


def enum(*values: str, description: str | None = None) -> Schema:
    schema: Schema = {"type": "string", "enum": list(values)}
    if description:
        schema["description"] = description
    return schema


AGENT_STATES = ("logged_out", "ready", "not_ready", "ringing", "on_call", "wrap_up")
CALL_PHASES = ("new", "queued", "ringing", "dialing", "connected", "message", "ending", "ended")

ERROR = obj({
    "error": {**STRING, "description": "a stable error id, e.g. not-found, bad-request"},
    "message": {**STRING, "description": "what went wrong, for a person"},
    "details": {**ANY_OBJECT, "description": "optional: the parameter or fields concerned"},
}, required=("error", "message"), description="Every API error, with the HTTP status.")

RECORDING = obj({
    "name": STRING,
    "duration_seconds": nullable({"type": "number", "minimum": 0,
                                  "description": "read from the WAV header"}),
    "size_bytes": {"type": "integer", "minimum": 0},
    "content_type": {"const": "audio/wav"},
    "url": {**STRING, "description": "GET it with the same credentials"},
}, description="The call's recording in callcontrol's store; null while none is stored.")

COMMUNICATION = obj({
    "id": ID,
    "direction": enum("incoming", "outgoing"),
    "media": {**STRING, "description": "phone for calls; email, sms, letter, ..."},
    "category": nullable({**STRING, "description": "for calls, the outcome: answered, "
                                                   "missed, failed, ..."}),
    "state": enum("draft", "completed"),
    "subject": STRING,
    "content": nullable(STRING),
    "contact": nullable(obj({"id": ID, "code": STRING, "name": STRING})),
    "agent": nullable(obj({"id": ID, "username": STRING})),
    "call_id": nullable(STRING),
    "caller_number": nullable(STRING),
    "called_number": nullable(STRING),
    "started_at": nullable(TIME),
    "answered_at": nullable(TIME),
    "ended_at": nullable(TIME),
    "duration_seconds": nullable({"type": "integer", "minimum": 0,
                                  "description": "talk time, answer to end, rounded"}),
    "hangup_cause": nullable(STRING),
    "recording": nullable(ref("Recording")),
    "recording_pauses": array(obj({"start": TIME, "end": nullable(TIME)}, ("start",)),
                              "intervals when recording was paused (card payments)"),
    "transfers": array(obj({"at": TIME, "to_extension": STRING, "outcome": STRING},
                           ("at",)), "blind transfers of the call, in order"),
    "parent_id": nullable({**ID, "description": "the communication this one follows up"}),
})

COMMUNICATION_LIST = obj({
    "communications": array(ref("Communication"), "newest first"),
    "limit": INTEGER, "offset": INTEGER,
    "has_more": {**BOOLEAN, "description": "more match: ask again with a larger offset"},
})

CALL = obj({
    "call_id": STRING, "direction": enum("inbound", "outbound"),
    "state": enum(*CALL_PHASES), "communication_id": nullable(ID),
    "caller": nullable(STRING), "e164": nullable(STRING), "called": nullable(STRING),
    "contact_id": nullable(ID), "agent_id": nullable(ID), "held": BOOLEAN, "muted": BOOLEAN,
    "recording": nullable(enum("recording", "paused", "done")),
    "recording_pauses": array(ANY_OBJECT), "transfers": array(ANY_OBJECT),
    "supervisor": nullable(ANY_OBJECT), "started_at": TIME, "answered_at": nullable(TIME),
}, description="A call callcontrol is handling (live state, not the record).")

NEW_CALL = {
    "description": "exactly one of contact_id (rings its default phone) or number",
    "oneOf": [obj({"contact_id": ID}, extra=False), obj({"number": {
        **STRING, "minLength": 1, "maxLength": 64}}, extra=False)],
}

AGENT_STATUS = obj({
    "user_id": ID, "username": STRING, "extension": nullable(STRING),
    "device": nullable(STRING), "state": enum(*AGENT_STATES), "reason": nullable(STRING),
    "since": nullable(TIME), "idle_since": nullable(TIME),
    "pop_preference": nullable(enum("ring", "answer", "never")),
})

SECONDS_BY_NAME: Schema = {"type": "object", "additionalProperties": {"type": "number"}}

OCCUPANCY = obj({
    "user_id": ID, "from": TIME, "to": TIME,
    "seconds": {**SECONDS_BY_NAME, "description": "seconds in each agent state"},
    "not_ready_reasons": {**SECONDS_BY_NAME, "description": "not-ready seconds per reason"},
    "changes": INTEGER,
    "occupancy": nullable({"type": "number", "minimum": 0, "maximum": 1, "description":
                           "share of logged-in time ringing, on calls or in wrap-up"}),
})

POP_CONTACT = obj({
    "id": ID, "code": STRING, "name": STRING, "kind": enum("person", "company"),
    "vip": BOOLEAN, "summary": obj({
        "open_service_requests": INTEGER, "balance_due": MONEY, "currency": nullable(STRING),
        "flash_notes": array(STRING)}),
})

POP = obj({
    "call_id": STRING, "communication_id": nullable(ID), "direction": enum("inbound", "outbound"),
    "caller": obj({"number": nullable(STRING), "e164": nullable(STRING)}),
    "contacts": array(ref("PopContact"), "0, 1 or several matches of the number"),
    "started_at": TIME,
}, description="The screen pop: the call and the contacts matching the number.")

WS_MESSAGE = obj({
    "type": enum("hello", "call.ringing", "call.answered", "call.ended", "pop.closed",
                 "agent.state", "agent.pop_preference", "error", "pong"),
}, description="A server message on the agent websocket; call.* messages carry the Pop "
               "fields, agent.state the AgentStatus, pop.closed call_id and reason.")

CTI_EVENT = obj({
    "event": {**STRING, "maxLength": 32, "description": "ringing, answered or ended; other "
              "names are accepted as unhandled events"},
    "extension": {**STRING, "maxLength": 16}, "call_id": {**STRING, "maxLength": 64},
    "caller": {**STRING, "maxLength": 32}, "called": {**STRING, "maxLength": 32},
    "direction": enum("inbound", "outbound"), "cause": {**STRING, "maxLength": 64},
}, required=("event",))

CTI_RESULT = obj({
    "handled": BOOLEAN, "communication_id": ID, "contacts": INTEGER, "logged": BOOLEAN,
}, required=("handled",))

HEALTH = obj({"status": enum("ok", "degraded"), "checks": ANY_OBJECT})

COMPONENT_SCHEMAS: dict[str, Schema] = {
    "Error": ERROR, "Communication": COMMUNICATION, "CommunicationList": COMMUNICATION_LIST,
    "Recording": RECORDING, "Call": CALL, "NewCall": NEW_CALL, "AgentStatus": AGENT_STATUS,
    "Occupancy": OCCUPANCY, "Pop": POP, "PopContact": POP_CONTACT,
    "WebsocketMessage": WS_MESSAGE, "CtiEvent": CTI_EVENT, "CtiResult": CTI_RESULT,
    "Health": HEALTH,
}
