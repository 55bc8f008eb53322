"""Every route the simulator serves is an ARI operation, with the documented parameters and
response model (checked against the Swagger files of Asterisk 22.10.1 in ``api-docs``)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from callcontrol.pbxsim import PbxSimulator
from callcontrol.pbxsim.server import ARI_ROUTES, EVENTS_ROUTE, build_app
from tests.pbxsim.swagger import MODELS, OPERATIONS, check, check_event


def test_every_declared_route_matches_the_api_docs() -> None:
    problems = []
    for route in (*ARI_ROUTES, EVENTS_ROUTE):
        op = OPERATIONS.get((route.method, route.path))
        if op is None:
            problems.append(f"{route.method} {route.path}: not in api-docs")
            continue
        documented = {p["name"]: p for p in op.get("parameters", [])}
        path_params = {p for p, d in documented.items() if d["paramType"] == "path"}
        in_path = {seg[1:-1] for seg in route.path.split("/") if seg.startswith("{")}
        if path_params != in_path:
            problems.append(f"{route.method} {route.path}: path params {in_path} "
                            f"!= {path_params}")
        for name in route.params:
            if name not in documented:
                problems.append(f"{route.method} {route.path}: parameter {name!r} undocumented")
            elif documented[name]["paramType"] == "path":
                problems.append(f"{route.method} {route.path}: {name!r} is a path parameter")
        required = {n for n, d in documented.items()
                    if d.get("required") and d["paramType"] != "path"}
        missing = required - set(route.params)
        if missing:
            problems.append(f"{route.method} {route.path}: required {sorted(missing)} not read")
        if route.model != op["responseClass"]:
            problems.append(f"{route.method} {route.path}: model {route.model} "
                            f"!= {op['responseClass']}")
    assert not problems, "\n".join(problems)


def test_router_serves_only_declared_ari_routes(tmp_path: Path) -> None:
    app = build_app(PbxSimulator(recordings_dir=tmp_path))
    declared = {(r.method, "/ari" + r.path) for r in (*ARI_ROUTES, EVENTS_ROUTE)}
    served = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path and path.startswith("/ari") and route.method != "HEAD":
            served.add((route.method, path))
    assert served == declared
    assert isinstance(app, web.Application)
    assert len(served) >= 75


def test_the_validator_catches_bad_output() -> None:
    # the checks used on every event and response of these tests can fail
    assert check({"id": "1", "name": "x"}, "Channel", "c")
    assert check({"name": "r", "format": "wav", "state": "bogus", "target_uri": "x"},
                 "LiveRecording", "r")
    assert check_event({"type": "StasisStart", "timestamp": "2026-11-22T11:34:51.373+0000",
                        "args": [], "channel": {"id": "1"}})
    assert check_event({"type": "NoSuchEvent"})
    good = {"type": "ChannelDestroyed", "timestamp": "2026-11-22T11:34:51.373+0000",
            "cause": 16, "cause_txt": "Normal Clearing", "asterisk_id": "x",
            "channel": {"id": "1", "name": "n", "state": "Up", "protocol_id": "",
                        "caller": {"name": "", "number": ""},
                        "connected": {"name": "", "number": ""}, "accountcode": "",
                        "dialplan": {"context": "c", "exten": "e", "priority": 1,
                                     "app_name": "", "app_data": ""},
                        "creationtime": "2026-11-22T11:34:51.373+0000", "language": "en"}}
    assert check_event(good) == []
    assert "Channel" in MODELS
