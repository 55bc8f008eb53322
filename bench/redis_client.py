"""CPU per Redis command of the bus: callcontrol's RESP2 client (callcontrol/bus/resp.py)
against redis-py's asyncio client.

    python -m bench.redis_client [--ops 5000] [--concurrency 1 10] [--rounds 3]

Against the Redis of ``CALLCONTROL_BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``),
this process sends what the bus and the pop store send at a call storm through each client
in turn, alternating rounds: a PUBLISH of a pop's envelope, and the pop store's
MULTI, HSET, EXPIRE, PUBLISH, EXEC. It reports the CPU time of this process per operation
(the client's cost: encoding, parsing the replies, the event loop's share), the median of
the rounds, one operation at a time and several in flight (redis-py then uses a pool of
connections, this client pipelines on its one). Prints a table and writes
``redis-client.json`` to the results folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import uuid
from pathlib import Path

import redis.asyncio as aioredis

from bench.cputime import Send, cpu_per_operation
from bench.machine import describe, facts
from callcontrol.bus.resp import RespClient

REDIS_URL = os.environ.get("CALLCONTROL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
CLIENTS = ("callcontrol", "redis-py")
OPERATIONS = {"publish": "PUBLISH", "multi": "MULTI HSET EXPIRE PUBLISH EXEC"}

POP = {"call_id": "1700000000.42", "communication_id": 17, "direction": "inbound",
       "caller": {"number": "99 123456", "e164": "+35799123456"},
       "contacts": [{"id": 5, "code": "C-0005", "name": "Maria Georgiou", "kind": "person",
                     "vip": False,
                     "summary": {"open_service_requests": 1, "balance_due": "120.50",
                                 "currency": "EUR", "flash_notes": ["Disputed bill, see SR-9"]}}],
       "started_at": "2026-11-23T11:00:00+00:00", "type": "call.ringing"}

def senders(ours: RespClient, theirs: aioredis.Redis, name: str) -> dict[str, dict[str, Send]]:
    channel = f"{name}:agent.7"
    key = f"{name}:pops:7"
    pop = json.dumps(POP, separators=(",", ":"))
    envelope = json.dumps({"origin": "0123456789abcdef", "topic": "agent.7", "data": POP},
                          separators=(",", ":"))

    async def our_publish(i: int) -> object:
        return await ours.execute(b"PUBLISH", channel, envelope)

    async def their_publish(i: int) -> object:
        return await theirs.publish(channel, envelope)

    async def our_multi(i: int) -> object:
        return await ours.transaction((b"HSET", key, f"call-{i}", pop), (b"EXPIRE", key, 60),
                                      (b"PUBLISH", channel, envelope))

    async def their_multi(i: int) -> object:
        async with theirs.pipeline(transaction=True) as pipe:
            pipe.hset(key, f"call-{i}", pop)
            pipe.expire(key, 60)
            pipe.publish(channel, envelope)
            return await pipe.execute()

    return {"publish": {"callcontrol": our_publish, "redis-py": their_publish},
            "multi": {"callcontrol": our_multi, "redis-py": their_multi}}


Figures = dict[int, dict[str, dict[str, list[float]]]]  # concurrency, operation, client


async def measure(url: str, n: int, concurrencies: list[int], rounds: int) -> Figures:
    ours = RespClient(url)
    theirs = aioredis.Redis.from_url(url, socket_connect_timeout=3)
    name = f"callcontrol-bench-{uuid.uuid4().hex[:8]}"
    sends = senders(ours, theirs, name)
    figures: Figures = {c: {op: {client: [] for client in CLIENTS} for op in OPERATIONS}
                        for c in concurrencies}
    try:
        for op in OPERATIONS:  # warm both up
            for client in CLIENTS:
                await cpu_per_operation(sends[op][client], 500, max(concurrencies))
        for _ in range(rounds):
            for concurrency in concurrencies:
                for op in OPERATIONS:
                    for client in CLIENTS:
                        figures[concurrency][op][client].append(
                            await cpu_per_operation(sends[op][client], n, concurrency))
    finally:
        await ours.execute(b"DEL", f"{name}:pops:7")
        await ours.close()
        await theirs.aclose()
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_client",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=5000, help="operations per round")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 10],
                        help="operations in flight (one measure each)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per client")
    parser.add_argument("--redis-url", default=REDIS_URL, help="the Redis to send to")
    parser.add_argument("--results", type=Path, default=Path("bench/results"),
                        help="folder for redis-client.json")
    args = parser.parse_args(argv)
    figures = asyncio.run(measure(args.redis_url, args.ops, args.concurrency, args.rounds))
    medians = {c: {op: {client: statistics.median(rounds) * 1e6
                        for client, rounds in per_client.items()}
                   for op, per_client in per_op.items()}
               for c, per_op in figures.items()}
    command = "python -m bench.redis_client " + " ".join(
        argv if argv is not None else sys.argv[1:])
    print(f"# {command.strip()}")
    machine = facts()   # once: it measures the machine's Python speed
    print("\n".join(f"# {line}" for line in describe(machine)))
    print(f"  {'operation':<32} {'in flight':>9}  {'client':<12} {'CPU us/op (median)':>19}"
          "   rounds")
    for op, title in OPERATIONS.items():
        for c in args.concurrency:
            for client in CLIENTS:
                print(f"  {title:<32} {c:>9}  {client:<12} {medians[c][op][client]:19.1f}   "
                      + ", ".join(f"{x * 1e6:.1f}" for x in figures[c][op][client]))
            print(f"  {'':<32} {'':>9}  redis-py / callcontrol: "
                  f"x{medians[c][op]['redis-py'] / medians[c][op]['callcontrol']:.1f}")
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "redis-client.json").write_text(json.dumps({
        "command": command.strip(), "machine": machine, "ops": args.ops,
        "rounds": args.rounds, "operations": OPERATIONS,
        "cpu_us_per_op": {str(c): {op: {client: [x * 1e6 for x in rounds]
                                        for client, rounds in per_client.items()}
                                   for op, per_client in per_op.items()}
                          for c, per_op in figures.items()},
        "median_us": {str(c): per_op for c, per_op in medians.items()}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
