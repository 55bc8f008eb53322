"""Fixtures for the PBX simulator tests: a running simulator, a raw ARI client, event capture."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from callcontrol.pbxsim import PbxSimulator

HERE = Path(__file__).parent
AUTH = {"Authorization": aiohttp.encode_basic_auth("callcontrol", "callcontrol")}


class Events:
    """Events received on one websocket, with helpers to wait for them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._cond = asyncio.Condition()

    async def add(self, event: dict[str, Any]) -> None:
        async with self._cond:
            self.items.append(event)
            self._cond.notify_all()

    def types(self) -> list[str]:
        return [e["type"] for e in self.items]

    def of(self, etype: str) -> list[dict[str, Any]]:
        return [e for e in self.items if e["type"] == etype]

    async def wait(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 3.0,
                   ) -> dict[str, Any]:
        async def _wait() -> dict[str, Any]:
            async with self._cond:
                seen = 0
                while True:
                    for event in self.items[seen:]:
                        if predicate(event):
                            return event
                    seen = len(self.items)
                    await self._cond.wait()
        return await asyncio.wait_for(_wait(), timeout)

    async def wait_type(self, etype: str, channel_id: str | None = None, timeout: float = 3.0,
                        **fields: Any) -> dict[str, Any]:
        def match(e: dict[str, Any]) -> bool:
            if e["type"] != etype:
                return False
            if channel_id is not None and (e.get("channel") or {}).get("id") != channel_id:
                return False
            return all(e.get(k) == v for k, v in fields.items())
        return await self.wait(match, timeout)


class Ari:
    """A deliberately raw ARI client (aiohttp), so the simulator is tested on the wire."""

    def __init__(self, sim: PbxSimulator, session: aiohttp.ClientSession) -> None:
        self.sim = sim
        self.session = session
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None,
                      json_body: Any = None) -> tuple[int, Any]:
        query = {k: str(v) for k, v in (params or {}).items() if v is not None}
        async with self.session.request(method, self.sim.url + path, params=query,
                                        json=json_body, headers=AUTH) as resp:
            raw = await resp.read()
            if resp.content_type == "application/json" and raw:
                return resp.status, json.loads(raw)
            return resp.status, (raw or None)

    async def ok(self, method: str, path: str, params: dict[str, Any] | None = None,
                 json_body: Any = None, status: int | None = None) -> Any:
        got, body = await self.request(method, path, params, json_body)
        expected = status or (204 if got == 204 else 200)
        assert got == expected, f"{method} {path} -> {got} {body}"
        return body

    async def events(self, app: str = "callcontrol", subscribe_all: bool = False) -> Events:
        events = Events()
        url = self.sim.url + f"/events?app={app}&subscribeAll={str(subscribe_all).lower()}"
        ws = await self.session.ws_connect(url, headers=AUTH)
        self.sockets.append(ws)

        async def reader() -> None:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await events.add(json.loads(msg.data))

        self.tasks.append(asyncio.create_task(reader()))
        await self.sim.wait_for(lambda: self.sim.engine.app_registered(app), 2.0)
        return events

    async def close(self) -> None:
        for ws in self.sockets:
            await ws.close()
        for task in self.tasks:
            task.cancel()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[PbxSimulator]:
    simulator = PbxSimulator(recordings_dir=tmp_path / "recordings", time_scale=0.01)
    await simulator.start()
    yield simulator
    await simulator.close()


@pytest.fixture
async def ari(sim: PbxSimulator) -> AsyncIterator[Ari]:
    async with aiohttp.ClientSession() as session:
        client = Ari(sim, session)
        yield client
        await client.close()


@pytest.fixture(autouse=True)
def validated_output(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Every event every simulator emits and every ARI response it sends in these tests is
    validated against the Swagger models (``api-docs``); the test fails on any problem."""
    from tests.pbxsim.swagger import check_event, check_response

    problems: list[str] = []
    seen = {"events": 0, "responses": 0}
    original = PbxSimulator.__init__

    def on_event(event: dict[str, Any], targets: set[str]) -> None:
        seen["events"] += 1
        problems.extend(check_event(event))

    def on_response(route: Any, status: int, body: Any) -> None:
        seen["responses"] += 1
        problems.extend(check_response(route.method, route.path, route.model, status, body))

    def init(self: PbxSimulator, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.add_event_listener(on_event)
        self.response_listeners.append(on_response)

    monkeypatch.setattr(PbxSimulator, "__init__", init)
    yield seen
    assert not problems, "output not as the ARI models say:\n" + "\n".join(problems[:40])
