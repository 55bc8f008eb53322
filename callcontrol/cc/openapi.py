"""The OpenAPI 3.1 description of the Centre's JSON API (``PATHS`` can be merged into a
product-wide document; ``/api/v1/cc/openapi.json`` serves it on its own)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from callcontrol.cc.fields import ACTIONS, FIELDS

_ERROR = {"description": "error", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Error"}}}}
_PAGE = {"description": "one page of results", "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/Page"}}}}
_PAGE_PARAM = {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}}


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params, "responses": {
        "200": ok, "401": _ERROR, "422": _ERROR}}}


PATHS: dict[str, Any] = {
    "/api/v1/cc/search": _get("Quick search (a field the active definition enables)", [
        {"name": "field", "in": "query", "required": True,
         "schema": {"type": "string", "enum": [k for k, f in FIELDS.items() if f.quick]}},
        {"name": "q", "in": "query", "required": True, "schema": {"type": "string",
                                                                    "maxLength": 200},
         "description": "Like: 'Mar'/'Ma%' word starts, '%ria' word ends, '%ari%' contains"},
        {"name": "op", "in": "query", "schema": {"type": "string", "enum": ["=", "like"]}},
        _PAGE_PARAM], _PAGE),
    "/api/v1/cc/search/advanced": _get("Advanced search: every given criterion must hold", [
        *({"name": k, "in": "query", "schema": {"type": "string"}} for k in FIELDS),
        {"name": "address_scope", "in": "query",
         "schema": {"type": "string", "enum": ["any", "subscription", "billing"]}},
        {"name": "op", "in": "query", "schema": {"type": "string", "enum": ["=", "like"]}},
        _PAGE_PARAM], _PAGE),
    "/api/v1/cc/communications": _get("The signed-in user's latest communications",
                                      [_PAGE_PARAM], _PAGE),
    "/api/v1/cc/contacts/{id}": _get("A contact and its sections, capped by the definition", [
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "sections", "in": "query", "schema": {"type": "string"},
         "description": "comma-separated: info,subscriptions,financials,work,customer,rewards"},
    ], {"description": "the contact", "content": {"application/json": {"schema": {
        "type": "object"}}}}),
    "/api/v1/cc/actions/{slug}": {"post": {
        "summary": "Perform an action the active definition enables",
        "parameters": [{"name": "slug", "in": "path", "required": True,
                        "schema": {"type": "string", "enum": list(ACTIONS)}}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "properties": {"contact": {"type": "integer"}},
            "additionalProperties": {"type": "string"}}}}},
        "responses": {"201": {"description": "done", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Outcome"}}}},
            "400": _ERROR, "401": _ERROR, "403": _ERROR, "404": _ERROR, "422": _ERROR}}},
}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error", "message"], "properties": {
        "error": {"type": "string"}, "message": {"type": "string"},
        "details": {"type": "object"}}},
    "Page": {"type": "object", "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "page": {"type": "integer"}, "page_size": {"type": "integer"},
        "has_next": {"type": "boolean"}}},
    "Outcome": {"type": "object", "properties": {
        "message": {"type": "string"}, "entity": {"type": "string"},
        "entity_id": {"type": "integer"}, "contact_id": {"type": ["integer", "null"]},
        "section": {"type": ["string", "null"]}, "reveal": {"type": "object"}}},
}


def document() -> dict[str, Any]:
    return {"openapi": "3.1.0",
            "info": {"title": "callcontrol Communication Centre API", "version": "1"},
            "components": {"schemas": SCHEMAS, "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearer": []}], "paths": PATHS}


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())
