"""A minimal Stasis app (raw aiohttp) used to load the simulator: answer, bridge with a Local
agent, and clean up when the caller hangs up. Like the lab's capacity test app."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from tests.pbxsim.conftest import AUTH


class MiniApp:
    def __init__(self, url: str, session: aiohttp.ClientSession, app: str = "callcontrol",
                 agent: str = "Local/1001@agents") -> None:
        self.url = url
        self.session = session
        self.app = app
        self.agent = agent
        self.calls: dict[str, dict[str, Any]] = {}   # caller channel -> {bridge, agent}
        self.bridge_owner: dict[str, str] = {}
        self.completed = 0
        self.errors: list[str] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._ws = await self.session.ws_connect(f"{self.url}/events?app={self.app}",
                                                 headers=AUTH)
        self._task = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
        for task in list(self._pending):
            task.cancel()

    async def _req(self, method: str, path: str, **params: str) -> Any:
        async with self.session.request(method, self.url + path, params=params,
                                        headers=AUTH) as resp:
            if resp.status >= 300:
                self.errors.append(f"{method} {path}: {resp.status} {await resp.text()}")
                return None
            return await resp.json() if resp.status == 200 else None

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            event = json.loads(msg.data)
            task = asyncio.create_task(self._handle(event))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _handle(self, event: dict[str, Any]) -> None:
        etype = event["type"]
        if etype == "StasisStart":
            args = event["args"]
            cid = event["channel"]["id"]
            if args and args[0] == "inbound":
                await self._inbound(cid)
            elif args and args[0] == "agent":
                caller = self.bridge_owner.get(args[1])
                if caller is None or caller not in self.calls:
                    await self._req("DELETE", f"/channels/{cid}")
                    return
                await self._req("POST", f"/bridges/{args[1]}/addChannel", channel=cid)
        elif etype == "StasisEnd":
            cid = event["channel"]["id"]
            call = self.calls.pop(cid, None)
            if call is not None:
                if call.get("agent"):
                    await self._req("DELETE", f"/channels/{call['agent']}")
                if call.get("bridge"):
                    await self._req("DELETE", f"/bridges/{call['bridge']}")
                self.completed += 1

    async def _inbound(self, cid: str) -> None:
        self.calls[cid] = {"bridge": None, "agent": None}
        await self._req("POST", f"/channels/{cid}/answer")
        bridge = await self._req("POST", "/bridges", type="mixing", name=f"call-{cid}")
        if bridge is None:
            return
        call = self.calls.get(cid)
        if call is None:               # the caller already hung up
            await self._req("DELETE", f"/bridges/{bridge['id']}")
            return
        call["bridge"] = bridge["id"]
        self.bridge_owner[bridge["id"]] = cid
        await self._req("POST", f"/bridges/{bridge['id']}/addChannel", channel=cid)
        agent = await self._req("POST", "/channels", endpoint=self.agent, app=self.app,
                                appArgs=f"agent,{bridge['id']}")
        if agent is not None and cid in self.calls:
            self.calls[cid]["agent"] = agent["id"]
