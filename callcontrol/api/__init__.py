"""The public REST API's own routes: communications (the call record and its recordings)
and the OpenAPI 3.1 description of the whole /api/v1 surface.

``setup(app)`` registers ``/api/v1/communications...`` (``communications``) and
``GET /api/v1/openapi.json`` (``openapi``, built from ``paths`` and ``schemas``).
Recordings come from call control's store (``callcontrol.calls.RECORDINGS``) when call
control runs in the app, else from ``config.calls.recordings_dir``.
"""

from __future__ import annotations

from aiohttp import web

from callcontrol.api import communications, openapi

__all__ = ["setup"]


def setup(app: web.Application) -> None:
    communications.add_routes(app)
    openapi.add_routes(app)
