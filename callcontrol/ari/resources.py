"""The small resources: playbacks, endpoints, applications, asterisk, device states."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from callcontrol.ari import validate as v
from callcontrol.ari.models import Application, DeviceState, Endpoint, Playback
from callcontrol.ari.params import query, segment

if TYPE_CHECKING:
    from callcontrol.ari.client import AriClient

PLAYBACK_OPERATIONS = ("restart", "pause", "unpause", "reverse", "forward")
EVENT_SOURCE_SCHEMES = ("channel", "bridge", "endpoint", "deviceState")
DEVICE_STATES = ("NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING",
                 "RINGINUSE", "ONHOLD")


def _id(what: str, value: str) -> str:
    return segment(v.identifier(what, value))


class PlaybacksApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def get(self, playback_id: str) -> Playback:
        return await self._client.request_model(
            "GET", f"/playbacks/{_id('playback_id', playback_id)}", Playback.from_json)

    async def stop(self, playback_id: str) -> None:
        await self._client.request("DELETE", f"/playbacks/{_id('playback_id', playback_id)}")

    async def control(self, playback_id: str, operation: str) -> None:
        params = query(operation=v.choice("operation", operation, PLAYBACK_OPERATIONS))
        await self._client.request(
            "POST", f"/playbacks/{_id('playback_id', playback_id)}/control", params=params)


class EndpointsApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def list(self) -> list[Endpoint]:
        return await self._client.request_list("/endpoints", Endpoint.from_json)

    async def get(self, tech: str, resource: str) -> Endpoint:
        v.choice("technology", tech, sorted(v.TECHNOLOGIES))
        path = f"/endpoints/{_id('tech', tech)}/{_id('resource', resource)}"
        return await self._client.request_model("GET", path, Endpoint.from_json)


def _event_sources(event_source: str | list[str]) -> str:
    def check(source: str) -> str:
        scheme, sep, rest = v.text("event_source", source).partition(":")
        if not sep or scheme not in EVENT_SOURCE_SCHEMES:
            raise ValueError(f"event_source {source!r} must be <scheme>:<id> with scheme in "
                             f"{list(EVENT_SOURCE_SCHEMES)}")
        return source

    return v.one_or_many("event_source", event_source, check)


class ApplicationsApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def get(self, app: str) -> Application:
        return await self._client.request_model(
            "GET", f"/applications/{_id('app', app)}", Application.from_json)

    async def subscribe(self, app: str, event_source: str | list[str]) -> Application:
        """Subscribe to e.g. `channel:<id>`, `bridge:<id>`, `endpoint:PJSIP/1001`."""
        return await self._client.request_model(
            "POST", f"/applications/{_id('app', app)}/subscription", Application.from_json,
            params=query(eventSource=_event_sources(event_source)))

    async def filter_events(self, app: str, allowed: list[str] | None = None,
                            disallowed: list[str] | None = None) -> Application:
        """``PUT /applications/{app}/eventFilter`` (Asterisk 13.26/16.3+): the event types the
        application gets. A list left as None is not changed; an empty ``allowed`` list
        allows every type; both None clears the filter."""
        body: dict[str, list[dict[str, str]]] = {}
        for key, types in (("allowed", allowed), ("disallowed", disallowed)):
            if types is not None:
                body[key] = [{"type": v.text(f"{key} event type", t)} for t in types]
        return await self._client.request_model(
            "PUT", f"/applications/{_id('app', app)}/eventFilter", Application.from_json,
            json=body)

    async def unsubscribe(self, app: str, event_source: str | list[str]) -> Application:
        return await self._client.request_model(
            "DELETE", f"/applications/{_id('app', app)}/subscription", Application.from_json,
            params=query(eventSource=_event_sources(event_source)))


class AsteriskApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def info(self) -> dict[str, Any]:
        return await self._client.request_model("GET", "/asterisk/info", _json_object)

    async def ping(self) -> dict[str, Any]:
        return await self._client.request_model("GET", "/asterisk/ping", _json_object)

    async def reload_module(self, name: str) -> None:
        await self._client.request("PUT", f"/asterisk/modules/{_id('module', name)}")


class DeviceStatesApi:
    def __init__(self, client: AriClient) -> None:
        self._client = client

    async def get(self, name: str) -> DeviceState:
        return await self._client.request_model(
            "GET", f"/deviceStates/{_id('device name', name)}", DeviceState.from_json)

    async def update(self, name: str, state: str) -> None:
        """Only `Stasis:<name>` devices are ARI-controlled; Asterisk answers 409 for others."""
        params = query(deviceState=v.choice("device state", state, DEVICE_STATES))
        await self._client.request("PUT", f"/deviceStates/{_id('device name', name)}",
                                   params=params)


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise TypeError("expected a JSON object")
    return body
