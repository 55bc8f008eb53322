"""Fan-out (issue #8 item 6): many agent websockets on one callcontrol process.

``python -m callcontrol serve`` runs as its own process (SQLite and the in-process bus, or
PostgreSQL and Redis); the benchmark process connects N agent websockets to it (bearer
tokens of N agent users). One agent is CTI-logged-in and ready; the others are connected and
idle. Measured: the server's RSS with one socket and with all N, and the latency of a pop
to the one agent (a real call from the PBX simulator, StasisStart to ``call.ringing``, as in
the call storm) while the N-1 others are connected.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bench import storm
from bench.datasets import Dataset
from bench.report import Row
from callcontrol.crm.models import AgentStateChange
from callcontrol.pbxsim import PbxSimulator

NAME = "fan-out"
TITLE = "Fan-out: agent websockets on one process, its memory and one agent's pop latency"
SOCKETS = {"smoke": 200, "full": 2000}
CALLS = {"smoke": 20, "full": 100}
TARGET_SOCKETS, TARGET_MB = 2000, 300.0
TARGET_P99_MS = 25.0  # the storm's pop target, for comparison
RING, TALK = 0.05, 0.05  # the one agent answers and hangs up quickly: calls one after another


@dataclass
class MemoryRow(Row):
    sockets: int = 0
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    kb_per_socket: float | None = None
    peak_rss_mb: float | None = None


async def _ready(http: aiohttp.ClientSession, base: str, agent: storm.Agent,
                 timeout: float = 10.0) -> None:
    """Until the agent is ready again (wrap-up over), so the next call rings them at once."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: object = None
    while asyncio.get_running_loop().time() < deadline:
        async with http.get(f"{base}/api/v1/agents/me", headers=agent.headers) as resp:
            last = await resp.json() if resp.status == 200 else resp.status
            if isinstance(last, dict) and last.get("state") == "ready":
                return
        await asyncio.sleep(0.02)
    raise RuntimeError(f"agent {agent.user_id} did not return to ready in {timeout:g} s "
                       f"(last seen: {last})")


async def _one_call(sim: PbxSimulator, clock: storm.PopClock, number: str,
                    http: aiohttp.ClientSession, base: str, agent: storm.Agent) -> None:
    await _ready(http, base, agent)
    before = len(clock.popped)
    # The agent hangs up after TALK; the caller would stay 2 s (never first).
    await sim.place_call(number=number, extension="caller-hangup", hangup_after=2.0,
                         give_up_after=storm.GIVE_UP_AFTER)
    await storm.poll(lambda: len(clock.popped) > before, storm.GIVE_UP_AFTER)
    await storm.poll(lambda: not sim.channels, storm.GIVE_UP_AFTER + 2)


async def _not_ready_report(ds: Dataset, agent: storm.Agent, child: storm.Watched) -> str:
    """When the agent did not return to ready: their last persisted state changes and the end
    of callcontrol's log (its folder is deleted with the run; more in it with
    CALLCONTROL_BENCH_LOG_LEVEL=INFO)."""
    async with ds.sessions() as session:
        rows = (await session.execute(
            select(AgentStateChange.state, AgentStateChange.at)
            .where(AgentStateChange.user_id == agent.user_id)
            .order_by(AgentStateChange.id.desc()).limit(12))).all()
    changes = ", ".join(f"{at:%H:%M:%S.%f}"[:-3] + f" {state}" for state, at in reversed(rows))
    return f"its last state changes: {changes}\ncallcontrol's log:\n{child.tail(40)}"


async def measure(ds: Dataset, *, sockets: int, calls: int, redis_url: str | None,
                  backend: str) -> list[Row]:
    agents = await storm.ensure_agents(ds, sockets)
    clock = storm.PopClock()
    numbers = await storm.caller_numbers(ds, calls + 5, random.Random(6))
    with tempfile.TemporaryDirectory(prefix="cc-fanout-") as tmp:
        var = Path(tmp)
        sim = PbxSimulator(recordings_dir=var / "sim")
        sim.add_event_listener(clock.listener)
        await sim.start("127.0.0.1", 0)
        sim.set_device(f"PJSIP/{agents[0].extension}", answer_after=RING, hangup_after=TALK)
        connector = aiohttp.TCPConnector(limit=0)
        try:
            async with aiohttp.ClientSession(connector=connector) as http:
                child, base = await storm.start_serve(ds, sim, var, redis_url, http)
                ws = storm.AgentSockets(http, clock)

                async def one_call(number: str) -> None:
                    try:
                        await _one_call(sim, clock, number, http, base, agents[0])
                    except RuntimeError as exc:
                        report = await _not_ready_report(ds, agents[0], child)
                        raise RuntimeError(f"{exc}; {report}") from exc
                try:
                    await storm.cti_login_all(http, base, agents[:1])
                    url = base.replace("http", "ws", 1) + "/api/v1/ws"
                    await ws.connect(url, agents[0].headers)
                    for number in numbers[:3]:  # warm: every code path of a call has run
                        await one_call(number)
                    await asyncio.sleep(0.5)
                    clock.reset()  # the baseline: the same calls with no other socket open
                    for number in numbers[3:3 + calls // 2]:
                        await one_call(number)
                    alone = clock.latencies_ms()
                    await asyncio.sleep(0.5)
                    rss_before = child.rss()
                    child.start_sampling()
                    try:
                        await ws.connect_many([(url, a.headers) for a in agents[1:]])
                    except aiohttp.WSServerHandshakeError as exc:
                        raise RuntimeError(f"websocket {len(ws.sockets) + 1} of {sockets} "
                                           f"refused ({exc.status}); callcontrol's log:\n"
                                           f"{child.tail(30)}") from exc
                    await storm.poll(lambda: clock.hellos >= sockets - 1, 30)
                    hellos = clock.hellos
                    await asyncio.sleep(1.0)
                    rss_after = child.rss()
                    clock.reset()
                    for number in numbers[3:3 + calls]:
                        await one_call(number)
                    peak = await child.stop_sampling()
                    rss_end = child.rss()
                    errors, refused = list(ws.errors), list(ws.refused)
                    open_sockets = sum(1 for s in ws.sockets if not s.closed)
                finally:
                    await ws.close()
                    await storm.cti_logout_all(http, base, agents[:1])
                    await child.stop()
        finally:
            await sim.close()
    latencies = clock.latencies_ms()
    lost = calls - len(latencies)
    pop = Row.timed(backend, f"pop to 1 agent, {sockets - 1:,} others idle",
                    latencies or [float("nan")], target=f"p99 < {TARGET_P99_MS:g} ms",
                    limit=("p99", TARGET_P99_MS) if latencies else None,
                    note=f"{calls} calls one after another, {lost} without a pop; "
                    f"{open_sockets} of {sockets} sockets still open after them"
                    + (f"; socket errors: {errors[:3]}" if errors else ""))
    pop.n = len(latencies)
    base_row = Row.timed(backend, "pop to 1 agent, no other socket (baseline)",
                         alone or [float("nan")],
                         note=f"the same kind of call before the {sockets - 1:,} other sockets "
                         "connected, for comparison")
    base_row.n = len(alone)
    mb = 2**20
    mem = MemoryRow(backend, f"RSS with {sockets:,} websockets", sockets,
                    target=f"< {TARGET_MB:g} MB at {TARGET_SOCKETS:,}", sockets=sockets,
                    rss_before_mb=round(rss_before / mb, 1), rss_after_mb=round(rss_after / mb, 1),
                    kb_per_socket=round((rss_after - rss_before) / 1024 / max(1, sockets - 1), 1),
                    peak_rss_mb=round(max(peak, rss_end) / mb, 1))
    if sockets >= TARGET_SOCKETS:
        mem.verdict = "meets" if mem.rss_after_mb < TARGET_MB else "MISSES"
    mem.note = (f"server RSS {mem.rss_before_mb} MB with 1 socket -> {mem.rss_after_mb} MB with "
                f"{sockets:,} ({mem.kb_per_socket} KB per socket), peak {mem.peak_rss_mb} MB; "
                f"{hellos} hello messages received (one per new socket)"
                + (f"; {len(refused)} handshakes refused (HTTP "
                   f"{', '.join(sorted({str(s) for s in refused}))}) and retried"
                   if refused else ""))
    return [base_row, pop, mem]


async def run(ds: Dataset, *, mode: str = "smoke", queries: int | None = None) -> list[Row]:
    """SQLite -> embedded defaults (in-process bus); PostgreSQL -> PostgreSQL + Redis."""
    sockets = queries or SOCKETS[mode]
    redis_url = None
    if ds.backend == "postgresql":
        problem = await storm.redis_available(storm.REDIS_URL)
        if problem is not None:
            raise RuntimeError(f"Redis at {storm.REDIS_URL} is not reachable: {problem}")
        redis_url = storm.REDIS_URL
    backend = "postgresql+redis" if redis_url else f"{ds.backend} (embedded)"
    return await measure(ds, sockets=sockets, calls=CALLS[mode], redis_url=redis_url,
                         backend=backend)
