"""The OpenAPI document: valid 3.1, public, and in step with the routes ``serve`` registers
(every /api/ route documented with its method, every documented path served)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request
from openapi_spec_validator import validate

from callcontrol.api.openapi import OPENAPI_PATH, build_document
from callcontrol.server import create_app
from tests.api.conftest import api_config

METHODS = ("get", "put", "post", "delete", "patch")
# A regex group of plain alternatives, e.g. (?P<action>hold|unhold): each is its own path.
GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")
LITERALS = re.compile(r"^[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*$")


@pytest.fixture
def served_app(tmp_path: Path):
    """The app exactly as ``callcontrol serve`` composes it (not started: routes only)."""
    config = api_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    return create_app(config, with_agi=False)


def route_samples(route) -> list[str]:
    """Concrete paths that reach this route: one per alternative of each literal group."""
    info = route.resource.get_info()
    if "path" in info:
        return [info["path"]]
    formatter, pattern = info["formatter"], info["pattern"].pattern
    choices: dict[str, list[str]] = {}
    for group in GROUP.finditer(pattern):
        body = group["body"]
        choices[group["name"]] = body.split("|") if LITERALS.match(body) else ["1"]
    names = list(choices)
    return [formatter.format(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*(choices[n] for n in names))]


def api_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter") or ""
        if not path.startswith("/api/") or route.method == "HEAD":
            continue
        found.update((route.method, sample) for sample in route_samples(route))
    return found


def documented_match(document, method: str, concrete: str) -> str | None:
    for template, item in document["paths"].items():
        regex = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(regex, concrete) and method.lower() in item:
            return template
    return None


def test_document_is_valid_openapi_3_1():
    document = build_document()
    validate(document)
    assert document["openapi"] == "3.1.0"
    ids = [op["operationId"] for item in document["paths"].values()
           for method, op in item.items() if method in METHODS]
    assert len(ids) == len(set(ids)), "operationIds are unique"


def test_every_api_route_is_documented_with_its_method(served_app):
    document = build_document()
    routes = api_routes(served_app)
    assert ("GET", "/api/v1/communications/1/recording") in routes   # the sampler works
    assert ("POST", "/api/v1/calls/1/transfer") in routes
    missing = sorted(r for r in routes if documented_match(document, *r) is None)
    assert not missing, f"routes missing from the OpenAPI document: {missing}"


async def test_every_documented_operation_is_served(served_app):
    document = build_document()
    for template, item in document["paths"].items():
        concrete = re.sub(r"\{\w+\}", "1", template)
        for method in item:
            if method not in METHODS:
                continue
            request = make_mocked_request(method.upper(), concrete, app=served_app)
            match = await served_app.router.resolve(request)
            assert match.http_exception is None, f"{method.upper()} {template} is not served"
            assert match.route.method == method.upper()


def test_every_operation_documents_errors_and_a_success():
    document = build_document()
    for template, item in document["paths"].items():
        for method, operation in item.items():
            codes = set(operation["responses"])
            assert any(c.startswith("2") or c == "101" for c in codes), (method, template)
            if operation.get("security") == []:
                continue                                   # public
            assert "401" in codes, f"{method} {template} documents no 401"
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")) and "content" in response:  # 416: no body
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Error"}, (method, template)


def test_communications_are_documented_in_detail():
    document = build_document()
    listing = document["paths"]["/api/v1/communications"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "contact_id", "agent", "direction", "state", "limit", "offset"}
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["default"], limit["maximum"]) == (50, 500)
    recording = document["paths"]["/api/v1/communications/{id}/recording"]["get"]
    assert "audio/wav" in recording["responses"]["200"]["content"]
    comm = document["components"]["schemas"]["Communication"]["properties"]
    for field in ("direction", "media", "state", "contact", "agent", "started_at",
                  "answered_at", "ended_at", "duration_seconds", "hangup_cause", "recording"):
        assert field in comm


async def test_the_document_is_served_without_credentials(aiohttp_client, tmp_path):
    from callcontrol.crm.migrate import upgrade_async

    config = api_config(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'served.db'}")
    await upgrade_async(config.database_url)
    client = await aiohttp_client(create_app(config, with_agi=False))
    resp = await client.get(OPENAPI_PATH)
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    served = await resp.json()
    assert served == build_document(served["info"]["version"])
    # its neighbours still need a token
    resp = await client.get("/api/v1/communications")
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"

