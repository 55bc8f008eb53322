"""AriClient transport: one aiohttp session, basic auth, per-request timeouts, typed errors."""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from callcontrol.ari.errors import AriUnavailable, error_for
from callcontrol.config import AriConfig

logger = logging.getLogger(__name__)


class AriClient:
    """Minimal ARI REST transport (resource namespaces not built yet)."""

    def __init__(self, config: AriConfig, session: aiohttp.ClientSession | None = None) -> None:
        self._config = config
        self._session = session
        self._owns_session = session is None

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
            auth = aiohttp.encode_basic_auth(self._config.username, self._config.password)
            self._session = aiohttp.ClientSession(headers={"Authorization": auth})
        return self._session

    async def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                      json: Any = None, timeout: float | None = None) -> Any:
        """Send one request; return parsed JSON (None for 204) or raise an AriError subclass."""
        url = self._config.url.rstrip("/") + path
        limit = aiohttp.ClientTimeout(total=timeout or self._config.request_timeout)
        try:
            async with self._get_session().request(method, url, params=params, json=json,
                                                   timeout=limit) as resp:
                if resp.status >= 400:
                    raise error_for(resp.status, await _message(resp), method, path)
                if resp.status == 204 or resp.content_length == 0:
                    return None
                return await resp.json(content_type=None)
        except (TimeoutError, aiohttp.ClientConnectionError) as exc:
            raise AriUnavailable(None, str(exc) or type(exc).__name__, method, path) from exc


async def _message(resp: aiohttp.ClientResponse) -> str:
    try:
        body = await resp.json(content_type=None)
        return str(body.get("message", "")) if isinstance(body, dict) else str(body)
    except (ValueError, aiohttp.ContentTypeError):
        return await resp.text()
