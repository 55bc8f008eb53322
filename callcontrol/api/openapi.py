"""The OpenAPI 3.1 description of the whole /api/v1 surface, served (public) at
``GET /api/v1/openapi.json``. Built in Python from ``paths`` and ``schemas``, once per app.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from callcontrol.api.paths import ERROR_RESPONSES, all_paths
from callcontrol.api.schemas import COMPONENT_SCHEMAS
from callcontrol.cc.openapi import SCHEMAS as CC_SCHEMAS
from callcontrol.web.auth import public

OPENAPI_PATH = "/api/v1/openapi.json"
DOCUMENT = web.AppKey("openapi_document", bytes)

DESCRIPTION = """\
Telephony-first call control on Asterisk ARI with a CRM Communication Centre.

Authenticate with a bearer token (`callcontrol token create USER`) in
`Authorization: Bearer ...`, or the session cookie of the web UI; cookie clients send
the `X-CSRF-Token` header on POST, PUT and DELETE. Every error is JSON
`{"error": id, "message": text}` (sometimes with `details`) and the HTTP status.
Roles: agent, supervisor, admin, engineer."""

TAGS = [
    {"name": "communications", "description": "The call record: communications and recordings"},
    {"name": "calls", "description": "Call control: click-to-call and mid-call controls"},
    {"name": "agents", "description": "Agent state, CTI login, the agent websocket"},
    {"name": "cti", "description": "Call events from PBXes other than Asterisk"},
    {"name": "communication-centre", "description": "The Communication Centre's JSON API"},
    {"name": "service", "description": "Health, metrics and this document"},
]


def build_document(version: str = "0.1.0") -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "callcontrol API", "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": TAGS,
        "security": [{"bearerToken": []}, {"sessionCookie": []}],
        "paths": all_paths(),
        "components": {
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer",
                                "description": "an API token from `callcontrol token create`"},
                "sessionCookie": {"type": "apiKey", "in": "cookie",
                                  "name": "callcontrol_session",
                                  "description": "the web UI's session (send X-CSRF-Token on "
                                                 "writes)"},
            },
            "schemas": {**CC_SCHEMAS, **COMPONENT_SCHEMAS},
            "responses": ERROR_RESPONSES,
        },
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("callcontrol")
    except PackageNotFoundError:
        return "0.1.0"


@public
async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[DOCUMENT], content_type="application/json",
                        headers={"Cache-Control": "public, max-age=300"})


def add_routes(app: web.Application) -> None:
    app[DOCUMENT] = json.dumps(build_document(_version()), indent=1).encode()
    app.router.add_get(OPENAPI_PATH, openapi_json)
