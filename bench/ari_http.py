"""CPU per ARI request: callcontrol's HTTP client (callcontrol/ari/http.py) against aiohttp's.

    python -m bench.ari_http [--requests 20000] [--concurrency 10]

A small aiohttp server in a child process answers ``POST /ari/channels/{id}/answer`` with 204
and ``GET /ari/channels/{id}`` with a channel's JSON, as Asterisk does; this process sends the
same requests through each client in turn, alternating rounds, and reports the CPU time of
this process per request (the client's cost: building the request, parsing the answer, the
event loop's share). Prints a table and writes ``ari-http.json`` to the results folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
from pathlib import Path

import aiohttp

from bench.cputime import cpu_per_operation
from bench.machine import describe, facts

CHANNEL = {"id": "1700000000.1", "name": "PJSIP/trunk-00000001", "state": "Ring",
           "protocol_id": "", "caller": {"name": "", "number": "+35799123456"},
           "connected": {"name": "", "number": ""}, "accountcode": "",
           "dialplan": {"context": "from-trunk", "exten": "100", "priority": 3,
                        "app_name": "Stasis", "app_data": "callcontrol,inbound"},
           "creationtime": "2026-12-05T02:00:00.000+0000", "language": "en"}


def _serve(sock: socket.socket) -> None:
    from aiohttp import web

    async def answer(request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def get(request: web.Request) -> web.Response:
        return web.json_response(CHANNEL)

    app = web.Application()
    app.router.add_post("/ari/channels/{id}/answer", answer)
    app.router.add_get("/ari/channels/{id}", get)
    web.run_app(app, sock=sock, print=None, handle_signals=True)


async def measure(url: str, n: int, concurrency: int, rounds: int) -> dict[str, list[float]]:
    from callcontrol.ari import AriClient
    from callcontrol.config import AriConfig

    ari = AriClient(AriConfig(url=url))
    auth = aiohttp.encode_basic_auth("callcontrol", "callcontrol")
    session = aiohttp.ClientSession(headers={"Authorization": auth})

    async def ours(i: int) -> None:
        if i % 2:
            await ari.channels.answer("1700000000.1")
        else:
            await ari.channels.get("1700000000.1")

    async def theirs(i: int) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        if i % 2:
            async with session.post(f"{url}/channels/1700000000.1/answer",
                                    timeout=timeout) as resp:
                await resp.read()
        else:
            async with session.get(f"{url}/channels/1700000000.1", timeout=timeout) as resp:
                await resp.json()

    figures: dict[str, list[float]] = {"callcontrol": [], "aiohttp": []}
    try:
        await cpu_per_operation(ours, 500, concurrency)  # warm both up
        await cpu_per_operation(theirs, 500, concurrency)
        for _ in range(rounds):
            figures["callcontrol"].append(await cpu_per_operation(ours, n, concurrency))
            figures["aiohttp"].append(await cpu_per_operation(theirs, n, concurrency))
    finally:
        await ari.close()
        await session.close()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ari_http", description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests per round")
    parser.add_argument("--concurrency", type=int, default=10, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per client")
    parser.add_argument("--results", type=Path, default=Path("bench/results"),
                        help="folder for ari-http.json")
    args = parser.parse_args(argv)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(target=_serve, args=(sock,),
                                                         daemon=True)
    server.start()
    try:
        figures = asyncio.run(measure(f"http://127.0.0.1:{port}/ari", args.requests,
                                      args.concurrency, args.rounds))
    finally:
        server.terminate()
        server.join(5)
    ours = statistics.median(figures["callcontrol"]) * 1e6
    theirs = statistics.median(figures["aiohttp"]) * 1e6
    command = "python -m bench.ari_http " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"# {command.strip()}")
    machine = facts()   # once: it measures the machine's Python speed
    print("\n".join(f"# {line}" for line in describe(machine)))
    print(f"  {'client':<14} {'CPU us/request (median of rounds)':>36}   rounds")
    print(f"  {'callcontrol':<14} {ours:36.1f}   "
          + ", ".join(f"{x * 1e6:.1f}" for x in figures["callcontrol"]))
    print(f"  {'aiohttp':<14} {theirs:36.1f}   "
          + ", ".join(f"{x * 1e6:.1f}" for x in figures["aiohttp"]))
    print(f"  aiohttp / callcontrol: x{theirs / ours:.1f}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "ari-http.json").write_text(json.dumps({
        "command": command.strip(), "machine": machine, "requests": args.requests,
        "concurrency": args.concurrency,
        "cpu_us_per_request": {k: [x * 1e6 for x in v] for k, v in figures.items()},
        "median_us": {"callcontrol": ours, "aiohttp": theirs}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
