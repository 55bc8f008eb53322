"""Domain errors that carry their HTTP meaning, and the one middleware that renders them.

Every API error is JSON ``{"error": "<error-id>", "message": "<text>", "details": {...}}``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    status: int = 400
    error_id: str = "bad-request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if error_id is not None:
            self.error_id = error_id
        self.details = details or {}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error_id, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class ValidationFailed(ApiError):
    status = 422
    error_id = "invalid-input"


class NotFound(ApiError):
    status = 404
    error_id = "not-found"


class Unauthorized(ApiError):
    status = 401
    error_id = "unauthorized"


class Forbidden(ApiError):
    status = 403
    error_id = "forbidden"


class Conflict(ApiError):
    status = 409
    error_id = "conflict"


class ServiceUnavailable(ApiError):
    status = 503
    error_id = "service-unavailable"


def json_error(status: int, error_id: str, message: str) -> web.Response:
    return web.json_response({"error": error_id, "message": message}, status=status)


@web.middleware
async def api_error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render ApiError and HTTP errors under /api as JSON; leave pages to their own handlers."""
    try:
        return await handler(request)
    except ApiError as exc:
        return web.json_response(exc.to_json(), status=exc.status)
    except web.HTTPException as exc:
        if not request.path.startswith("/api/") or exc.status < 400:
            raise
        error_id = {404: "not-found", 405: "method-not-allowed", 413: "too-large"}.get(
            exc.status, "http-error"
        )
        return json_error(exc.status, error_id, exc.reason or "error")
    except Exception:
        if not request.path.startswith("/api/"):
            raise
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal-error", "internal error; see the server log")
