"""Every request the client builds (the tables of test_resources) checked against Asterisk
22.10.1's own API definitions (api-docs/, copied unchanged): an operation with that method
and path exists, every query parameter is declared, required ones are present, enumerated
values are allowed, numbers and booleans are spelled as Asterisk parses them, and a JSON body
is only sent where a body parameter is declared."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ari.test_resources import BRIDGES, CHANNELS, OTHERS, RECORDINGS

DOCS = Path(__file__).parent / "api-docs"


@dataclass
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    params: dict[str, dict[str, Any]]
    nickname: str

    @property
    def literal_parts(self) -> int:
        return sum(1 for part in self.template.split("/") if part and "{" not in part)


def _operations() -> list[Operation]:
    ops = []
    for file in sorted(DOCS.glob("*.json")):
        for api in json.loads(file.read_text())["apis"]:
            regex = re.sub(r"\{[^}]+\}", "[^/]+", api["path"])
            for op in api["operations"]:
                ops.append(Operation(op["httpMethod"], api["path"], re.compile(f"^{regex}$"),
                                     {p["name"]: p for p in op.get("parameters", [])},
                                     op["nickname"]))
    return ops


OPERATIONS = _operations()


def _operation(method: str, path: str) -> Operation:
    candidates = [op for op in OPERATIONS if op.method == method and op.pattern.match(path)]
    assert candidates, f"no api-docs operation for {method} {path}"
    # /channels/create is also /channels/{channelId}: the literal path is the one meant
    return max(candidates, key=lambda op: op.literal_parts)


def _check_value(op: Operation, name: str, value: str) -> None:
    param = op.params[name]
    values = value.split(",") if param.get("allowMultiple") else [value]
    allowed = (param.get("allowableValues") or {}).get("values")
    for item in values:
        if allowed:
            assert item in allowed, f"{op.nickname}: {name}={item!r} not in {allowed}"
        if param["dataType"] in ("int", "long"):
            assert re.fullmatch(r"-?\d+", item), f"{op.nickname}: {name}={item!r} not an int"
        if param["dataType"] == "boolean":
            assert item in ("true", "false"), f"{op.nickname}: {name}={item!r}"


def test_the_api_docs_were_loaded():
    assert len(OPERATIONS) > 80
    assert _operation("POST", "/channels/create").nickname == "create"
    assert _operation("POST", "/channels/abc").nickname == "originateWithId"


@pytest.mark.parametrize("row", [pytest.param(r, id=r[0])
                                 for r in CHANNELS + BRIDGES + RECORDINGS + OTHERS])
async def test_request_matches_the_asterisk_api_definition(fake_ari, row):
    fake, client = fake_ari
    reply = row[2]
    fake.reply = (204, None) if reply is None else (200, reply)
    await row[1](client)
    seen = fake.requests[0]
    op = _operation(seen.method, seen.path.removeprefix("/ari"))
    declared_query = {n for n, p in op.params.items() if p["paramType"] == "query"}
    assert set(seen.query) <= declared_query, (op.nickname, set(seen.query) - declared_query)
    required = {n for n, p in op.params.items()
                if p["paramType"] == "query" and p.get("required")}
    assert required <= set(seen.query), (op.nickname, required - set(seen.query))
    for name, value in seen.query.items():
        _check_value(op, name, value)
    body_params = {n for n, p in op.params.items() if p["paramType"] == "body"}
    whole = [n for n, p in op.params.items()
             if p["paramType"] == "body" and p.get("dataType") == "object"]
    if seen.body is not None and not whole:
        assert set(seen.body) <= body_params, (op.nickname, seen.body)
    elif seen.body is not None:
        # a body parameter of type "object" is the body itself (eventFilter's "filter" is
        # {"allowed": [...], "disallowed": [...]})
        assert isinstance(seen.body, dict) and len(whole) == 1, (op.nickname, seen.body)


def _models() -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for file in sorted(DOCS.glob("*.json")):
        models.update(json.loads(file.read_text()).get("models", {}))
    return models


MODELS = _models()


@pytest.mark.parametrize("name", ["Channel", "CallerID", "DialplanCEP", "Bridge",
                                  "LiveRecording", "StoredRecording", "Playback", "Endpoint",
                                  "DeviceState", "Application"])
def test_model_fields_are_the_swagger_properties(name):
    from dataclasses import fields

    from callcontrol.ari import models

    ours = {f.name for f in fields(getattr(models, name))}
    theirs = MODELS[name]["properties"]
    assert ours <= set(theirs), ours - set(theirs)
    required = {p for p, spec in theirs.items() if spec.get("required")}
    # the few required ones we leave out are not used by call control
    assert required - ours <= {"events_allowed", "events_disallowed"}, required - ours


def test_event_fields_are_the_swagger_properties():
    from dataclasses import fields

    from callcontrol.ari import events

    common = {"type", "application", "timestamp", "asterisk_id", "raw"}
    for type_name in events.EVENT_TYPES:
        cls = getattr(events, type_name)
        ours = {f.name for f in fields(cls)} - common
        theirs = MODELS[type_name]["properties"]
        assert ours <= set(theirs), (type_name, ours - set(theirs))
        required = {p for p, spec in theirs.items() if spec.get("required")} - common
        assert required <= ours, (type_name, required - ours)
