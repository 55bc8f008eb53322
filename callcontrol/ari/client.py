"""AriClient: one aiohttp session, basic auth, per-request timeouts, typed errors.

Resource namespaces (`client.channels`, `client.bridges`, ...) live in their own modules and
only build paths and query parameters; this module owns the wire.
"""

from __future__ import annotations

import json as jsonlib
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import aiohttp

from callcontrol.ari.bridges import BridgesApi
from callcontrol.ari.channels import ChannelsApi
from callcontrol.ari.errors import AriUnavailable, MalformedResponse, error_for
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


class AriClient:
    """Thin typed ARI REST client; `await client.close()` (or `async with`) when done."""

    def __init__(self, config: AriConfig, session: aiohttp.ClientSession | None = None) -> None:
        self.config = config
        self._session = session
        self._owns_session = session is None
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
        if self._owns_session and self._session is not None:
            await self._session.close()
        self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            auth = aiohttp.encode_basic_auth(self.config.username, self.config.password)
            self._session = aiohttp.ClientSession(headers={"Authorization": auth})
            self._owns_session = True
        return self._session

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
        url = self.config.url.rstrip("/") + path
        limit = aiohttp.ClientTimeout(total=timeout or self.config.request_timeout)
        try:
            async with self._get_session().request(method, url, params=params, json=json,
                                                   timeout=limit) as resp:
                if resp.status >= 400:
                    error = error_for(resp.status, await _message(resp), method, path)
                    logger.debug("ARI %s %s failed: %s %s", method, path, resp.status,
                                 error.message)
                    raise error
                if binary:
                    return await resp.read(), resp.status
                if resp.status == 204 or resp.content_length == 0:
                    return None, resp.status
                try:
                    return await resp.json(content_type=None), resp.status
                except ValueError as exc:
                    raise MalformedResponse(resp.status, f"response is not JSON: {exc}",
                                            method, path) from exc
        except (TimeoutError, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            reason = str(exc) or type(exc).__name__
            if isinstance(exc, TimeoutError):
                reason = f"no answer within {limit.total:g} s"
            raise AriUnavailable(None, reason, method, path) from exc


async def _message(resp: aiohttp.ClientResponse) -> str:
    """Asterisk puts the reason in `message`, except some 500s that use `error`."""
    text = await resp.text()
    try:
        body = jsonlib.loads(text)
    except ValueError:
        return text.strip() or (resp.reason or "")
    if isinstance(body, dict):
        for key in ("message", "error"):
            if isinstance(body.get(key), str):
                return body[key]
    return text.strip()
