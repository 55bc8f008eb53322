"""AriClient: keep-alive connections, basic auth, per-request timeouts, typed errors.

Resource namespaces (`client.channels`, `client.bridges`, ...) live in their own modules and
only build paths and query parameters; this module owns the wire, through the small HTTP/1.1
client in `http.py` (why not aiohttp's: see there).
"""

from __future__ import annotations

import base64
import json as jsonlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from callcontrol.ari.bridges import BridgesApi
from callcontrol.ari.channels import ChannelsApi
from callcontrol.ari.errors import AriUnavailable, MalformedResponse, error_for
from callcontrol.ari.http import HttpError, HttpPool, Response
from callcontrol.ari.params import quoter
from callcontrol.ari.recordings import RecordingsApi
from callcontrol.ari.resources import (
    ApplicationsApi,
    AsteriskApi,
    DeviceStatesApi,
    EndpointsApi,
    PlaybacksApi,
)
from callcontrol.config import AriConfig

logger = logging.getLogger(__name__)
T = TypeVar("T")
# kept as they are in a query value, as yarl (aiohttp's URLs) kept them: '+', '&', '=' and
# ';' are encoded, so is a space (%20)
QUERY_SAFE = "/:@?!$'()*,"
_QUOTE_KEY = quoter("")
_QUOTE_VALUE = quoter(QUERY_SAFE)


class AriClient:
    """Thin typed ARI REST client; `await client.close()` (or `async with`) when done."""

    def __init__(self, config: AriConfig) -> None:
        self.config = config
        self._pool: HttpPool | None = None
        self.channels = ChannelsApi(self)
        self.bridges = BridgesApi(self)
        self.recordings = RecordingsApi(self)
        self.playbacks = PlaybacksApi(self)
        self.endpoints = EndpointsApi(self)
        self.applications = ApplicationsApi(self)
        self.asterisk = AsteriskApi(self)
        self.device_states = DeviceStatesApi(self)

    async def __aenter__(self) -> AriClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool = None

    def _get_pool(self) -> HttpPool:
        if self._pool is None:
            token = f"{self.config.username}:{self.config.password}".encode()
            auth = "Basic " + base64.b64encode(token).decode("ascii")
            self._pool = HttpPool(self.config.url, headers={"Authorization": auth,
                                                            "Accept": "application/json"})
        return self._pool

    async def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                      json: Any = None, timeout: float | None = None) -> Any:
        """Send one request; return parsed JSON (None for 204) or raise an AriError subclass."""
        body, _ = await self._send(method, path, params, json, timeout, binary=False)
        return body

    async def request_bytes(self, method: str, path: str, *, timeout: float | None = None
                            ) -> bytes:
        """Send one request whose answer is a file (e.g. a stored recording)."""
        body, _ = await self._send(method, path, None, None, timeout, binary=True)
        return body

    async def request_model(self, method: str, path: str, parse: Callable[[Any], T], *,
                            params: Mapping[str, str] | None = None, json: Any = None) -> T:
        """Send a request and parse its body with a model's `from_json`."""
        body = await self.request(method, path, params=params, json=json)
        return self.parse(parse, body, method, path)

    async def request_list(self, path: str, parse: Callable[[Any], T]) -> list[T]:
        body = await self.request("GET", path)
        if not isinstance(body, list):
            raise MalformedResponse(200, f"expected a JSON list, got {body!r:.200}", "GET", path)
        return [self.parse(parse, item, "GET", path) for item in body]

    @staticmethod
    def parse(parse: Callable[[Any], T], body: Any, method: str, path: str) -> T:
        try:
            return parse(body)
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedResponse(200, f"unexpected response body ({exc}): {body!r:.200}",
                                    method, path) from exc

    async def _send(self, method: str, path: str, params: Mapping[str, str] | None,
                    json: Any, timeout: float | None, *, binary: bool) -> tuple[Any, int]:
        target = path
        if params:
            target += "?" + "&".join(f"{_QUOTE_KEY(k)}={_QUOTE_VALUE(v)}"
                                     for k, v in params.items())
        body = None if json is None else jsonlib.dumps(json).encode()
        limit = timeout or self.config.request_timeout
        try:
            resp = await self._get_pool().request(method, target, body=body, timeout=limit)
        except TimeoutError as exc:
            raise AriUnavailable(None, f"no answer within {limit:g} s", method, path) from exc
        except HttpError as exc:
            raise AriUnavailable(None, str(exc), method, path) from exc
        if resp.status >= 400:
            error = error_for(resp.status, _message(resp), method, path)
            logger.debug("ARI %s %s failed: %s %s", method, path, resp.status, error.message)
            raise error
        if binary:
            return resp.body, resp.status
        if resp.status == 204 or not resp.body:
            return None, resp.status
        try:
            return jsonlib.loads(resp.body), resp.status
        except ValueError as exc:
            raise MalformedResponse(resp.status, f"response is not JSON: {exc}",
                                    method, path) from exc


def _message(resp: Response) -> str:
    """Asterisk puts the reason in `message`, except some 500s that use `error`."""
    text = resp.body.decode("utf-8", errors="replace")
    try:
        body = jsonlib.loads(text)
    except ValueError:
        return text.strip() or resp.reason
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str):
                return body[key]
    return text.strip()
