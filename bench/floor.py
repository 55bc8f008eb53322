"""The floor (issue #8 item 2): the least a screen-pop pipeline can do, to price callcontrol.

``python -m bench.floor --ari-url URL --port N`` is its own tiny aiohttp process: it reads
the ARI events websocket as the Stasis application, answers each inbound channel like the
minimal lab app, and forwards a pop JSON to one agent's websocket (``GET /ws?agent=N``,
round robin). No database, no look-up, no agent states, no logic.

As a benchmark (``python -m bench --only floor``) it reports the floor rows the call storm
measured in the same run, with the same load; run alone, it runs the storm's load through
the floor only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
from typing import Any

import aiohttp
from aiohttp import web

NAME = "floor"
TITLE = "The floor: ARI events -> websocket pop, no database, no logic (same load as the storm)"

AGENTS: web.AppKey[dict[int, web.WebSocketResponse]] = web.AppKey("floor_agents", dict)


async def agent_socket(request: web.Request) -> web.WebSocketResponse:
    try:
        agent = int(request.query.get("agent", ""))
    except ValueError:
        raise web.HTTPBadRequest(text="agent=<number> is required") from None
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    request.app[AGENTS][agent] = ws
    try:
        async for _msg in ws:
            pass
    finally:
        if request.app[AGENTS].get(agent) is ws:
            del request.app[AGENTS][agent]
    return ws


class Floor:
    """ARI events in, pops out."""

    def __init__(self, ari_url: str, username: str, password: str, app: str,
                 agents: dict[int, web.WebSocketResponse]) -> None:
        self.ari_url = ari_url.rstrip("/")
        self.auth = aiohttp.BasicAuth(username, password)
        self.app = app
        self.agents = agents
        self._turn = itertools.count()
        self._tasks: set[asyncio.Task[Any]] = set()

    def _next_agent(self) -> web.WebSocketResponse | None:
        live = [ws for ws in self.agents.values() if not ws.closed]
        return live[next(self._turn) % len(live)] if live else None

    async def _answer(self, http: aiohttp.ClientSession, channel_id: str) -> None:
        with contextlib.suppress(aiohttp.ClientError):
            async with http.post(f"{self.ari_url}/channels/{channel_id}/answer") as resp:
                await resp.read()

    async def _pop(self, ws: web.WebSocketResponse, text: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(text)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _event(self, http: aiohttp.ClientSession, text: str) -> None:
        event = json.loads(text)
        if event.get("type") != "StasisStart":
            return
        args = event.get("args") or []
        if not args or args[0] != "inbound":
            return
        channel = event["channel"]
        ws = self._next_agent()
        if ws is not None:
            pop = {"type": "call.ringing", "call_id": f"{self.app}:{channel['id']}",
                   "caller": {"number": (channel.get("caller") or {}).get("number")}}
            self._spawn(self._pop(ws, json.dumps(pop)))
        self._spawn(self._answer(http, channel["id"]))

    async def run(self, ready: asyncio.Event) -> None:
        events = (self.ari_url.replace("http", "ws", 1)
                  + f"/events?app={self.app}&api_key={self.auth.login}:{self.auth.password}")
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(auth=self.auth, connector=connector) as http, \
                http.ws_connect(events, max_msg_size=1 << 22) as ari:
            ready.set()
            async for msg in ari:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self._event(http, msg.data)


async def serve(args: argparse.Namespace) -> None:
    app = web.Application()
    app[AGENTS] = {}
    app.router.add_get("/ws", agent_socket)
    runner = web.AppRunner(app, access_log=None, handle_signals=True)
    await runner.setup()
    await web.TCPSite(runner, args.host, args.port, backlog=1024).start()
    floor = Floor(args.ari_url, args.username, args.password, args.app, app[AGENTS])
    ready = asyncio.Event()
    try:
        task = asyncio.create_task(floor.run(ready))
        await ready.wait()
        print(f"floor ready on http://{args.host}:{args.port}", flush=True)
        await task
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.floor", description=__doc__)
    parser.add_argument("--ari-url", required=True, help="e.g. http://127.0.0.1:8088/ari")
    parser.add_argument("--username", default="callcontrol")
    parser.add_argument("--password", default="callcontrol")
    parser.add_argument("--app", default="callcontrol", help="Stasis application name")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args))
    return 0


# --------------------------------------------------------------------------- the benchmark


async def run(ds: Any, *, mode: str = "smoke", queries: int | None = None) -> list[Any]:
    """The floor rows of the storm measured in this run; else the storm's load, floor only."""
    from bench import storm

    del queries
    measured = storm.FLOOR_MEASURED.get((mode, ds.backend))
    if measured is not None:
        for row in measured:
            if "same run" not in row.note:
                row.note += "; measured in the same run and with the same load as call-storm"
        return list(measured)
    rates, duration = storm.scale(mode)
    return list(await storm.storm(ds, rates=rates, duration=duration, redis_url=None,
                                  with_callcontrol=False))


if __name__ == "__main__":
    sys.exit(main())
