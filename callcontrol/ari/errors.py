"""Typed ARI errors: status, message, method and path of the failed request."""

from __future__ import annotations


class AriError(Exception):
    """An ARI request failed; `status` is None when no HTTP answer came back."""

    def __init__(self, status: int | None, message: str, method: str = "", path: str = "") -> None:
        super().__init__(f"{method} {path}: {status} {message}")
        self.status = status
        self.message = message
        self.method = method
        self.path = path


class BadRequest(AriError):
    pass


class Unauthorized(AriError):
    pass


class Forbidden(AriError):
    pass


class NotFound(AriError):
    pass


class NotAllowed(AriError):
    pass


class Conflict(AriError):
    pass


class Unprocessable(AriError):
    pass


class ServerError(AriError):
    pass


class AriUnavailable(AriError):
    """No HTTP answer: connection refused or reset, or the request timed out."""


class MalformedResponse(AriError):
    """A 2xx answer whose body is not the JSON model the operation promises."""


_BY_STATUS: dict[int, type[AriError]] = {
    400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 405: NotAllowed,
    409: Conflict, 422: Unprocessable, 500: ServerError,
}


def error_for(status: int, message: str, method: str, path: str) -> AriError:
    """The typed exception for an HTTP status (AriError for unlisted ones)."""
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else AriError)
    return cls(status, message, method, path)
