"""Validation against the ARI Swagger 1.2 definitions copied into ``api-docs/``."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

API_DOCS = Path(__file__).parent / "api-docs"


def _load() -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    models: dict[str, Any] = {}
    operations: dict[tuple[str, str], dict[str, Any]] = {}
    for path in sorted(API_DOCS.glob("*.json")):
        doc = json.loads(path.read_text())
        models.update(doc.get("models", {}))
        for api in doc.get("apis", []):
            for op in api.get("operations", []):
                operations[(op["httpMethod"], api["path"])] = op
    return models, operations


MODELS, OPERATIONS = _load()
_PARENTS: dict[str, str] = {}
for _name, _model in MODELS.items():
    for _sub in _model.get("subTypes", []):
        _PARENTS[_sub] = _name


# Values the real Asterisk 22.10.1 sent although the model does not list them.
RECORDED_EXTRA_VALUES = {
    ("Playback", "state"): {"paused"},      # GET /playbacks/{id} while paused (playback.json)
}


def properties(model: str) -> dict[str, Any]:
    """A model's properties including those it inherits (Event -> Message)."""
    props: dict[str, Any] = {}
    chain = [model]
    while chain[-1] in _PARENTS:
        chain.append(_PARENTS[chain[-1]])
    for name in reversed(chain):
        props.update(MODELS[name]["properties"])
    return props


def check(value: Any, type_: str, where: str) -> list[str]:
    """Problems of ``value`` as an instance of Swagger type ``type_`` (empty: valid)."""
    if type_.startswith("List[") and type_.endswith("]"):
        if not isinstance(value, list):
            return [f"{where}: expected a list ({type_}), got {type(value).__name__}"]
        out: list[str] = []
        for i, item in enumerate(value):
            out += check(item, type_[5:-1], f"{where}[{i}]")
        return out
    if type_ == "string":
        return [] if isinstance(value, str) else [f"{where}: expected string, got {value!r}"]
    if type_ in ("int", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected {type_}, got {value!r}"]
    if type_ == "double":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected double, got {value!r}"]
    if type_ == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected boolean, got {value!r}"]
    if type_ == "object":
        return [] if isinstance(value, dict) else [f"{where}: expected object, got {value!r}"]
    if type_ == "Date":
        try:
            datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return [f"{where}: expected a date, got {value!r}"]
        return []
    if type_ in ("void", "binary"):
        return []
    if type_ not in MODELS:
        return [f"{where}: unknown type {type_}"]
    if not isinstance(value, dict):
        return [f"{where}: expected a {type_} object, got {value!r}"]
    props = properties(type_)
    out = []
    for name, prop in props.items():
        if prop.get("required") and name not in value:
            out.append(f"{where}: {type_}.{name} is required but missing")
    for name, item in value.items():
        if name not in props:
            out.append(f"{where}: {type_} has no property {name!r}")
            continue
        prop = props[name]
        kind = prop.get("type") or prop.get("$ref", "")
        if "allowableValues" in prop and prop["allowableValues"].get("valueType") == "LIST":
            allowed = prop["allowableValues"]["values"]
            extra = RECORDED_EXTRA_VALUES.get((type_, name), set())
            if item not in allowed and item not in extra:
                out.append(f"{where}: {type_}.{name}={item!r} not in {allowed}")
        out += check(item, kind, f"{where}.{name}")
    return out


def check_event(event: dict[str, Any]) -> list[str]:
    etype = event.get("type")
    if etype not in MODELS or _PARENTS.get(etype) != "Event":
        return [f"event type {etype!r} is not an ARI event"]
    full = {"application": "callcontrol", **event}    # set per socket when sent
    return check(full, etype, etype)


def check_response(method: str, path: str, model: str, status: int, body: Any) -> list[str]:
    where = f"{method} {path} -> {status}"
    if status >= 400:
        ok = isinstance(body, dict) and len(body) == 1 and (
            isinstance(body.get("message"), str) or isinstance(body.get("error"), str))
        return [] if ok else [f"{where}: error body {body!r}"]
    if status == 204 or model in ("void", "binary"):
        return [] if body is None or model == "binary" else [f"{where}: body for void {body!r}"]
    return check(body, model, where)
