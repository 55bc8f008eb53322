"""Call storm (issue #8 item 1) and its floor (item 2): inbound calls at a set rate from the
PBX simulator against ``python -m callcontrol serve`` running as its own process.

Who runs where: the simulator (``PbxSimulator``), the load generator and the agents'
websocket clients run in the benchmark process; callcontrol (or the floor, ``bench.floor``)
runs in a separate process, so its CPU time (user + system of that pid, ``psutil``) and peak
RSS are its own. Pop latency is measured on one clock, the benchmark process's: from the
moment the simulator emits the inbound channel's ``StasisStart`` (an engine listener) to the
moment an agent's websocket receives ``call.ringing`` for that call (matched by channel id).

Agents answer ``ANSWER_AFTER`` seconds after ringing and hang up after ``TALK_SECONDS``;
there are enough of them to take the rate (rate x (answer + talk + wrap-up) plus a margin).
The sweep reuses one callcontrol process for every rate (warmed up by a short burst first).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import math
import os
import random
import secrets
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from sqlalchemy import func, select, text

from bench.datasets import Dataset
from bench.machine import ROOT
from bench.report import Row
from callcontrol.crm.models import ApiToken, Phone, User
from callcontrol.crm.users import hash_password, token_hash
from callcontrol.pbxsim import PbxSimulator
from callcontrol.pbxsim.load import generate_load

logger = logging.getLogger(__name__)

NAME = "call-storm"
TITLE = "Call storm: pop latency, calls/s, CPU and memory of callcontrol serve vs the floor"
RATES = {"smoke": (10.0,), "full": (25.0, 50.0, 100.0, 200.0, 300.0)}
DURATION = {"smoke": 5.0, "full": 15.0}  # seconds of load per rate (smoke: CI's time)
ANSWER_AFTER = 0.2      # seconds an agent's phone rings before the agent answers
TALK_SECONDS = 1.0      # the agent (and the caller) hang up this long after answering
WRAPUP_SECONDS = 0.05   # CALLCONTROL_WRAPUP_SECONDS (must be > 0)
GIVE_UP_AFTER = 8.0     # a caller nobody answered leaves after this long
TARGET_RATE, TARGET_P99_MS = 100.0, 25.0
TARGET_RATIO, TARGET_SETUPS_PER_CORE = 3.0, 300.0
REDIS_URL = os.environ.get("CALLCONTROL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
AGENT_PREFIX = "bench-agent-"
SLOWEST = 8                # slowest pops kept per rate (when, how slow)
EXTENSION_BASE = 80000


@dataclass
class StormRow(Row):
    """A ``Row`` with the storm's own figures (they land in the JSON result as well)."""

    pipeline: str = ""              # callcontrol | floor
    rate: float = 0.0               # calls/s asked for
    placed: int = 0
    popped: int = 0
    failures: int = 0               # placed but no pop (or not placed at all)
    sustained_per_s: float | None = None
    cpu_ms_per_call: float | None = None
    # of cpu_ms_per_call, the kernel's (system time): its socket sends and receives, the
    # wake-ups of the peers, epoll
    cpu_system_ms_per_call: float | None = None
    peak_rss_mb: float | None = None
    agents: int = 0
    load_seconds: float = 0.0       # how long calls were placed for
    bench_cpu_ms_per_call: float | None = None  # the benchmark process: simulator + agents
    setups_per_core: float | None = None   # 1000 / cpu_ms_per_call
    latency_ratio_p99: float | None = None  # callcontrol p99 / floor p99
    cpu_ratio: float | None = None          # callcontrol CPU per call / floor's
    ari_requests_per_call: float | None = None  # REST requests the pipeline sent the PBX
    ari_events_per_call: float | None = None    # events the PBX sent the pipeline
    # the slowest pops: [seconds into the rate, latency ms], slowest first; whether a tail
    # is a few stalls (clustered in time) or a slower call path (spread) shows here
    slowest: list[list[float]] | None = None
    # the benchmark process's own loop while the rate ran: [seconds into the rate, ms late]
    # of its worst stalls over LoopLag.THRESHOLD; slowest pops at the same seconds were
    # delayed here (the pops are timed in this process), not by the pipeline
    bench_stalls: list[list[float]] | None = None


async def _stopped(task: asyncio.Task[None] | None) -> None:
    """Cancel a watching task and wait until it has stopped."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def poll(predicate: Callable[[], bool], timeout: float, every: float = 0.05) -> bool:
    """Wait until ``predicate()`` holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(every)
    return True


def agents_for(rate: float) -> int:
    """Enough agents to take ``rate``: rate x (ring + talk + wrap-up), 50 % margin, at least 5."""
    busy = ANSWER_AFTER + TALK_SECONDS + WRAPUP_SECONDS + 0.3  # 0.3 s: set-up and tear-down
    return max(5, math.ceil(rate * busy * 1.5))


# --------------------------------------------------------------------------- processes


class Watched:
    """A child process (callcontrol serve or the floor): CPU time, RSS sampled for a peak."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.ps = psutil.Process(proc.pid)
        self.log = log
        self.peak_rss = 0
        self._sampler: asyncio.Task[None] | None = None

    def cpu_and_system_seconds(self) -> tuple[float, float]:
        """CPU (user + system) and its system part, from one reading."""
        t = self.ps.cpu_times()
        return float(t.user + t.system), float(t.system)

    def rss(self) -> int:
        return int(self.ps.memory_info().rss)

    def start_sampling(self, every: float = 0.1) -> None:
        self.peak_rss = self.rss()

        async def sample() -> None:
            while True:
                with contextlib.suppress(psutil.Error):
                    self.peak_rss = max(self.peak_rss, self.rss())
                await asyncio.sleep(every)
        self._sampler = asyncio.get_running_loop().create_task(sample())

    async def stop_sampling(self) -> int:
        await _stopped(self._sampler)
        self._sampler = None
        with contextlib.suppress(psutil.Error):
            self.peak_rss = max(self.peak_rss, self.rss())
        return self.peak_rss

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self, timeout: float = 15.0) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), timeout)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                await self.proc.wait()


async def spawn(args: Sequence[str], env: dict[str, str], log: Path) -> Watched:
    full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *args, cwd=str(ROOT), env=full_env,
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=asyncio.subprocess.STDOUT)
    return Watched(proc, log)


async def wait_healthy(http: aiohttp.ClientSession, base: str, child: Watched,
                       timeout: float = 60.0) -> None:
    """Until ``/healthz`` says the database is fine and ARI is connected."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.returncode is not None:
            raise RuntimeError(f"callcontrol exited ({child.proc.returncode}):\n{child.tail()}")
        with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
            async with http.get(f"{base}/healthz", timeout=aiohttp.ClientTimeout(2)) as resp:
                if resp.status == 200:
                    body = await resp.json()
                    if body.get("checks", {}).get("ari", {}).get("connected"):
                        return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"callcontrol did not become healthy in {timeout:.0f} s:\n{child.tail()}")


def serve_env(ds: Dataset, sim: PbxSimulator, port: int, var: Path,
              redis_url: str | None) -> dict[str, str]:
    env = {
        "CALLCONTROL_DATABASE_URL": ds.url,
        "CALLCONTROL_ARI_URL": sim.url,
        "CALLCONTROL_HTTP_PORT": str(port),
        "CALLCONTROL_AGI_PORT": str(free_port()),
        "CALLCONTROL_VAR_DIR": str(var),
        "CALLCONTROL_RECORDINGS_DIR": str(var / "recordings"),
        "CALLCONTROL_SECRET_KEY": secrets.token_urlsafe(40),
        "CALLCONTROL_WRAPUP_SECONDS": str(WRAPUP_SECONDS),
        "CALLCONTROL_LOG_LEVEL": os.environ.get("CALLCONTROL_BENCH_LOG_LEVEL", "WARNING"),
    }
    env["CALLCONTROL_REDIS_URL"] = redis_url or ""
    return env


async def start_serve(ds: Dataset, sim: PbxSimulator, var: Path, redis_url: str | None,
                      http: aiohttp.ClientSession) -> tuple[Watched, str]:
    port = free_port()
    profile = os.environ.get("CALLCONTROL_BENCH_CPROFILE")   # a file: cProfile of serve
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    child = await spawn([*prefix, "-m", "callcontrol", "serve", "--no-migrate", "--no-agi"],
                        serve_env(ds, sim, port, var, redis_url), var / "serve.log")
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(http, base, child)
    except BaseException:
        await child.stop()
        raise
    return child, base


async def redis_available(url: str) -> str | None:
    """None when Redis answers PING, else why not."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(url, socket_connect_timeout=2)
    try:
        await client.ping()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not there"
        return str(exc) or type(exc).__name__
    finally:
        await client.aclose()


# --------------------------------------------------------------------------- agents


@dataclass
class Agent:
    user_id: int
    extension: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def ensure_agents(ds: Dataset, count: int) -> list[Agent]:
    """``count`` agent users (created once, reused by later runs) with a fresh API token each.

    Rows are inserted directly with one shared password hash: hashing per user (argon2,
    ~100 ms each) would cost minutes for a thousand agents, and nobody signs in with it.
    """
    names = [f"{AGENT_PREFIX}{i:05d}" for i in range(count)]
    async with ds.sessions() as session, session.begin():
        # A run that was killed left its agents logged in (and ready) in the dataset: they
        # would be offered calls with nobody on their websockets. Start from logged out.
        await session.execute(text(
            "DELETE FROM agent_status WHERE user_id IN "
            f"(SELECT id FROM users WHERE username LIKE '{AGENT_PREFIX}%')"))  # noqa: S608
        users = {u.username: u for u in (await session.scalars(
            select(User).where(User.username.in_(names)))).all()}
        missing = [n for n in names if n not in users]
        if missing:
            shared_hash = hash_password(secrets.token_urlsafe(24))
            for name in missing:
                ext = str(EXTENSION_BASE + int(name[len(AGENT_PREFIX):]))
                user = User(username=name, password_hash=shared_hash, role="agent",
                            extension=ext, device=f"PJSIP/{ext}", display_name=name,
                            active=True)
                session.add(user)
                users[name] = user
            await session.flush()
        agents = []
        for name in names:
            user = users[name]
            token = "cc_" + secrets.token_urlsafe(32)
            session.add(ApiToken(user_id=user.id, token_hash=token_hash(token)))
            agents.append(Agent(user.id, user.extension or "", token))
    return agents


class LoopLag:
    """How late a timer of this process's event loop fires, checked every ``EVERY`` s while
    a rate runs: the simulator and the agents' sockets that time every pop live here, so
    when this loop stalls, pops look slow whatever the pipeline did."""

    EVERY = 0.01
    THRESHOLD = 0.015   # late by more than this: a stall worth naming

    def __init__(self) -> None:
        self.stalls: list[tuple[float, float]] = []   # (perf_counter when due, seconds late)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            due = time.perf_counter() + self.EVERY
            await asyncio.sleep(self.EVERY)
            late = time.perf_counter() - due
            if late > self.THRESHOLD:
                self.stalls.append((due, late))

    async def stop(self) -> None:
        await _stopped(self._task)
        self._task = None

    def worst(self, since: float | None, count: int = SLOWEST) -> list[list[float]]:
        """The ``count`` worst stalls as [seconds after ``since``, ms late], worst first."""
        origin = since if since is not None else 0.0
        return [[round(due - origin, 2), round(late * 1000, 1)]
                for due, late in sorted(self.stalls, key=lambda s: -s[1])[:count]]


class PopClock:
    """When the simulator sent each inbound StasisStart, and when its first pop arrived."""

    def __init__(self) -> None:
        self.sent: dict[str, float] = {}
        self.popped: dict[str, float] = {}
        self.first_sent: float | None = None
        self.last_pop: float | None = None
        self.other_messages = 0
        self.hellos = 0  # the websocket's greeting: one per connected agent socket

    def listener(self, event: dict[str, Any], _targets: set[str]) -> None:
        if event.get("type") != "StasisStart":
            return
        args = event.get("args") or []
        if args and args[0] == "inbound":
            now = time.perf_counter()
            self.sent[event["channel"]["id"]] = now
            if self.first_sent is None:
                self.first_sent = now

    def on_message(self, text: str) -> None:
        if '"call.ringing"' not in text:
            self.other_messages += 1
            if '"hello"' in text:
                self.hellos += 1
            return
        now = time.perf_counter()
        data = json.loads(text)
        if data.get("type") != "call.ringing" or data.get("replay"):
            return
        channel = str(data.get("call_id", "")).rsplit(":", 1)[-1]
        if channel in self.sent and channel not in self.popped:
            self.popped[channel] = now
            self.last_pop = now

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def latencies_ms(self) -> list[float]:
        return [(self.popped[c] - t) * 1000 for c, t in self.sent.items() if c in self.popped]

    def slowest(self, count: int = SLOWEST) -> list[list[float]]:
        """The ``count`` slowest pops as [seconds after the first call was sent, ms]."""
        start = self.first_sent or 0.0
        pops = [(self.popped[c] - t, t - start) for c, t in self.sent.items()
                if c in self.popped]
        return [[round(at, 2), round(latency * 1000, 1)]
                for latency, at in sorted(pops, reverse=True)[:count]]


class AgentSockets:
    """One websocket per agent, each reading messages into the ``PopClock``."""

    def __init__(self, http: aiohttp.ClientSession, clock: PopClock) -> None:
        self.http = http
        self.clock = clock
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.errors: list[str] = []
        self.refused: list[int] = []  # HTTP status of each refused handshake (retried)

    async def _reader(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    self.clock.on_message(msg.data)
        except (aiohttp.ClientError, ConnectionError) as exc:
            if len(self.errors) < 10:
                self.errors.append(str(exc))

    async def connect(self, url: str, headers: dict[str, str] | None = None,
                      attempts: int = 5) -> None:
        """Open one agent websocket; a refused handshake is retried like a browser would
        (after 0.5, 1, 2, 4 s) and counted in ``refused``."""
        for attempt in range(attempts):
            try:
                ws = await self.http.ws_connect(url, headers=headers, heartbeat=None,
                                                max_msg_size=1 << 20)
                break
            except aiohttp.WSServerHandshakeError as exc:
                self.refused.append(exc.status)
                if attempt == attempts - 1:
                    raise
                await asyncio.sleep(0.5 * 2**attempt)
        self.sockets.append(ws)
        self.tasks.append(asyncio.get_running_loop().create_task(self._reader(ws)))

    async def connect_many(self, urls_headers: Sequence[tuple[str, dict[str, str] | None]],
                           parallel: int = 20) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(url: str, headers: dict[str, str] | None) -> None:
            async with gate:
                await self.connect(url, headers)
        await asyncio.gather(*(one(u, h) for u, h in urls_headers))

    async def close(self) -> None:
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.sockets.clear()
        self.tasks.clear()


async def cti_login_all(http: aiohttp.ClientSession, base: str, agents: Sequence[Agent],
                        parallel: int = 20) -> None:
    gate = asyncio.Semaphore(parallel)

    async def call(method: str, url: str, agent: Agent, what: str, **kw: Any) -> None:
        for attempt in range(4):  # a 5xx under load (SQLite busy) is retried, as a desk would
            async with http.request(method, url, headers=agent.headers, **kw) as resp:
                if resp.status == 200:
                    return
                text = await resp.text()
            if resp.status < 500 or attempt == 3:
                raise RuntimeError(f"{what} of agent {agent.user_id}: {resp.status} {text}")
            await asyncio.sleep(0.5 * 2**attempt)

    async def one(agent: Agent) -> None:
        async with gate:
            await call("POST", f"{base}/api/v1/agents/me/cti-login", agent, "CTI login")
            await call("PUT", f"{base}/api/v1/agents/me/state", agent, "ready",
                       json={"state": "ready"})
    await asyncio.gather(*(one(a) for a in agents))


async def cti_logout_all(http: aiohttp.ClientSession, base: str, agents: Sequence[Agent],
                         parallel: int = 20) -> None:
    """Leave no agent logged in in the dataset for the next run (errors are ignored)."""
    gate = asyncio.Semaphore(parallel)

    async def one(agent: Agent) -> None:
        async with gate:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with http.post(f"{base}/api/v1/agents/me/cti-logout",
                                     headers=agent.headers) as resp:
                    await resp.read()
    await asyncio.gather(*(one(a) for a in agents))


# --------------------------------------------------------------------------- the load


async def caller_numbers(ds: Dataset, count: int, rng: random.Random) -> list[str]:
    """80 % numbers of seeded contacts (the look-up finds them), 20 % unknown callers."""
    async with ds.sessions() as session:
        top = int((await session.execute(select(func.max(Phone.id)))).scalar() or 0)
        ids = [rng.randint(1, top) for _ in range(count)] if top else []
        known = list((await session.execute(
            select(Phone.e164).where(Phone.id.in_(ids)))).scalars().all()) if ids else []
    known = known[: count * 4 // 5]
    unknown = [f"+447700900{rng.randrange(1000):03d}" for _ in range(count - len(known))]
    numbers = known + unknown
    rng.shuffle(numbers)
    return numbers


@dataclass
class Measured:
    rate: float
    placed: int
    load_errors: list[str]
    latencies_ms: list[float]
    seconds: float
    sustained: float
    cpu_seconds: float
    peak_rss: int
    unpopped: int
    extra: dict[str, Any] = field(default_factory=dict)


async def drive(sim: PbxSimulator, clock: PopClock, child: Watched, *, rate: float,
                duration: float, numbers: Sequence[str]) -> Measured:
    """One rate: place calls for ``duration`` s, wait for pops and for the calls to end.

    This process (the simulator, the load and the agents' sockets, which time every pop)
    does not collect cyclic garbage while a rate runs, as ``timeit`` does not: its own
    full collections (60 to 90 ms with the simulator's state) delayed the pops it was
    timing, the floor's and callcontrol's alike. The pipeline measured collects as it
    always does.
    """
    clock.reset()
    counted0 = dict(sim.engine.counters)
    me = psutil.Process()
    gc.collect()
    gc.disable()
    lag = LoopLag()
    lag.start()
    try:
        mine0 = me.cpu_times()
        cpu0, system0 = child.cpu_and_system_seconds()
        child.start_sampling()
        load = await generate_load(sim, calls_per_second=rate, duration=duration,
                                   talk_time=TALK_SECONDS, numbers=numbers,
                                   give_up_after=GIVE_UP_AFTER)
        # every call popped, or gave up: then every channel gone (agents hang up after
        # talking)
        await poll(lambda: len(clock.popped) >= len(clock.sent), GIVE_UP_AFTER + 2)
        await poll(lambda: not sim.channels, GIVE_UP_AFTER + TALK_SECONDS + 5)
        await asyncio.sleep(0.3)  # the hang-ups' last writes
        cpu1, system1 = child.cpu_and_system_seconds()
        cpu, system = cpu1 - cpu0, system1 - system0
        mine1 = me.cpu_times()
    finally:
        gc.enable()
        await lag.stop()
    peak = await child.stop_sampling()
    latencies = clock.latencies_ms()
    span = ((clock.last_pop or 0) - (clock.first_sent or 0)) if latencies else 0.0
    sustained = len(latencies) / span if span > 0 else 0.0
    # one call's pop cannot make a rate: with few calls, report the rate they came at
    sustained = min(sustained, len(latencies) / load.seconds) if load.seconds else sustained
    return Measured(rate, load.placed, load.errors, latencies, load.seconds, sustained, cpu,
                    peak, load.placed - len(latencies),
                    {"channels_left": len(sim.channels), "load_failed": load.failed,
                     "slowest": clock.slowest(),
                     "bench_stalls": lag.worst(clock.first_sent),
                     "system_cpu": system,
                     "bench_cpu": mine1.user + mine1.system - mine0.user - mine0.system,
                     "ari_requests": sim.engine.counters["http_requests"]
                     - counted0.get("http_requests", 0),
                     "ari_events": sim.engine.counters["events_sent"]
                     - counted0.get("events_sent", 0)})


def storm_row(backend: str, pipeline: str, m: Measured, agents: int, *,
              target: bool) -> StormRow:
    cpu_ms = m.cpu_seconds * 1000 / m.placed if m.placed else None
    target = target and m.rate == TARGET_RATE
    samples = m.latencies_ms or [float("nan")]
    limit = ("p99", TARGET_P99_MS) if target and m.latencies_ms else None
    row = StormRow.timed(backend, f"{pipeline} @ {m.rate:g} calls/s", samples,
                         target=f"p99 < {TARGET_P99_MS:g} ms" if target else "", limit=limit)
    assert isinstance(row, StormRow)
    row.n = len(m.latencies_ms)
    row.pipeline, row.rate, row.placed, row.popped = pipeline, m.rate, m.placed, \
        len(m.latencies_ms)
    row.failures = m.unpopped + m.extra.get("load_failed", 0)
    row.sustained_per_s = round(m.sustained, 1)
    row.cpu_ms_per_call = round(cpu_ms, 3) if cpu_ms is not None else None
    row.setups_per_core = round(1000 / cpu_ms, 1) if cpu_ms else None
    if m.placed and "system_cpu" in m.extra:
        row.cpu_system_ms_per_call = round(m.extra["system_cpu"] * 1000 / m.placed, 3)
    row.peak_rss_mb = round(m.peak_rss / 2**20, 1)
    row.agents = agents
    row.load_seconds = round(m.seconds, 1)
    if m.placed and "bench_cpu" in m.extra:
        row.bench_cpu_ms_per_call = round(m.extra["bench_cpu"] * 1000 / m.placed, 3)
    if m.placed and "ari_requests" in m.extra:
        row.ari_requests_per_call = round(m.extra["ari_requests"] / m.placed, 1)
        row.ari_events_per_call = round(m.extra["ari_events"] / m.placed, 1)
    row.slowest = m.extra.get("slowest") or None
    row.bench_stalls = m.extra.get("bench_stalls")   # [] measured, none; None: not watched
    return row


def describe(row: StormRow) -> str:
    parts = [f"{row.placed} placed in {row.load_seconds:g} s, {row.popped} popped "
             f"({row.failures} failures), "
             f"sustained {row.sustained_per_s} calls/s, CPU {row.cpu_ms_per_call} ms/call "
             f"({row.cpu_system_ms_per_call} of it in the kernel; "
             f"= {row.setups_per_core} set-ups/s per core), peak RSS {row.peak_rss_mb} MB, "
             f"{row.agents} agents; the benchmark process (simulator, load, agents) used "
             f"{row.bench_cpu_ms_per_call} ms CPU per call; per call "
             f"{row.ari_requests_per_call} ARI requests, {row.ari_events_per_call} ARI events"]
    if row.latency_ratio_p99 is not None:
        parts.append(f"vs the floor: p99 latency x{row.latency_ratio_p99}, "
                     f"CPU/call x{row.cpu_ratio}")
    if row.slowest:
        parts.append("slowest pops (ms at s into the rate): "
                     + ", ".join(f"{ms:g} at {at:g}" for at, ms in row.slowest))
    if row.bench_stalls:
        parts.append("the benchmark process's own loop late (ms at s into the rate): "
                     + ", ".join(f"{ms:g} at {at:g}" for at, ms in row.bench_stalls))
    elif row.bench_stalls is not None:
        parts.append("the benchmark process's own loop never late by over "
                     f"{LoopLag.THRESHOLD * 1000:g} ms")
    return "; ".join(parts)


# --------------------------------------------------------------------------- the two pipelines


async def run_floor(sim: PbxSimulator, clock: PopClock, http: aiohttp.ClientSession,
                    rates: Sequence[float], duration: float, numbers: Sequence[str],
                    var: Path, backend: str) -> list[StormRow]:
    """The same load through ``bench.floor`` (ARI events -> websocket, no database)."""
    port = free_port()
    profile = os.environ.get("CALLCONTROL_BENCH_CPROFILE_FLOOR")   # a file: cProfile of it
    prefix = ["-m", "cProfile", "-o", profile] if profile else []
    child = await spawn([*prefix, "-m", "bench.floor", "--ari-url", sim.url, "--port", str(port),
                         "--username", sim.username, "--password", sim.password],
                        {}, var / "floor.log")
    sockets = AgentSockets(http, clock)
    rows = []
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while not sim.engine.app_registered("callcontrol"):
            if child.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the floor did not connect to ARI:\n{child.tail()}")
            await asyncio.sleep(0.05)
        count = agents_for(max(rates))
        await sockets.connect_many([(f"{base.replace('http', 'ws', 1)}/ws?agent={i}", None)
                                    for i in range(count)])
        await drive(sim, clock, child, rate=min(rates), duration=1.0, numbers=numbers)  # warm
        for rate in rates:
            m = await drive(sim, clock, child, rate=rate, duration=duration, numbers=numbers)
            rows.append(storm_row(backend, "floor", m, count, target=False))
    finally:
        await sockets.close()
        await child.stop(timeout=120.0 if profile else 15.0)
        await _wait_unregistered(sim)
    return rows


async def _wait_unregistered(sim: PbxSimulator, timeout: float = 5.0) -> None:
    await poll(lambda: not sim.engine.app_registered("callcontrol"), timeout)


async def run_callcontrol(ds: Dataset, sim: PbxSimulator, clock: PopClock,
                          http: aiohttp.ClientSession, rates: Sequence[float],
                          duration: float, numbers: Sequence[str], var: Path,
                          redis_url: str | None, backend: str) -> list[StormRow]:
    count = agents_for(max(rates))
    agents = await ensure_agents(ds, count)
    for agent in agents:
        sim.set_device(f"PJSIP/{agent.extension}", answer_after=ANSWER_AFTER,
                       hangup_after=TALK_SECONDS)
    child, base = await start_serve(ds, sim, var, redis_url, http)
    sockets = AgentSockets(http, clock)
    rows = []
    try:
        try:
            await cti_login_all(http, base, agents)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\ncallcontrol's log:\n{child.tail(40)}") from exc
        ws_url = base.replace("http", "ws", 1) + "/api/v1/ws"
        await sockets.connect_many([(ws_url, a.headers) for a in agents])
        await drive(sim, clock, child, rate=min(rates), duration=1.0, numbers=numbers)  # warm
        for rate in rates:
            name = f"callcontrol-{backend}-{rate:g}"
            profiler = await start_profiler(child, name)
            m = await drive(sim, clock, child, rate=rate, duration=duration, numbers=numbers)
            await stop_profiler(profiler)
            row = storm_row(backend, "callcontrol", m, count,
                            target=backend.startswith("postgresql"))
            rows.append(row)
            if profiler is not None:
                await asyncio.to_thread(print_profile, name, row.cpu_ms_per_call)
            if m.extra.get("channels_left"):
                row.note = f"{m.extra['channels_left']} channels still up after the drain"
    finally:
        await sockets.close()
        with contextlib.suppress(Exception):
            await cti_logout_all(http, base, agents)
        # under cProfile the profile is written as the process exits: give it the time
        await child.stop(timeout=120.0 if os.environ.get("CALLCONTROL_BENCH_CPROFILE") else 15.0)
        await _wait_unregistered(sim)
    return rows


PROFILE_DIR = os.environ.get("CALLCONTROL_BENCH_PYSPY")  # a folder: profile with py-spy


async def start_profiler(child: Watched, name: str) -> asyncio.subprocess.Process | None:
    """With ``CALLCONTROL_BENCH_PYSPY=<folder>``, sample callcontrol with py-spy (collapsed
    stacks, ``<folder>/<name>.txt``) while one rate runs. Off by default: it costs CPU."""
    if not PROFILE_DIR:
        return None
    import shutil

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    path = _profile_path(name)
    await asyncio.to_thread(path.parent.mkdir, parents=True, exist_ok=True)
    return await asyncio.create_subprocess_exec(
        exe, "record", "--pid", str(child.proc.pid), "--rate", "250", "--nonblocking", "--gil",
        "--format", "raw", "--output", str(path),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


def _profile_path(name: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-." else "_" for c in name)
    return Path(PROFILE_DIR or ".") / f"{safe}.txt"


def print_profile(name: str, cpu_ms_per_call: float | None) -> None:
    """The profile just recorded, by part of the stack (``python -m bench.profile``)."""
    from bench import profile

    path = _profile_path(name)
    try:
        parts = profile.read(path.read_text(encoding="utf-8", errors="replace").splitlines())
    except OSError as exc:
        print(f"  profile {path}: {exc}")
        return
    print(f"  where callcontrol's CPU went ({path}):")
    print("\n".join(profile.table(parts, cpu_ms_per_call=cpu_ms_per_call)))


async def stop_profiler(proc: asyncio.subprocess.Process | None) -> None:
    if proc is None or proc.returncode is not None:
        return
    import signal

    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()


def compare(cc: Sequence[StormRow], floor: Sequence[StormRow]) -> None:
    by_rate = {r.rate: r for r in floor}
    for row in cc:
        base = by_rate.get(row.rate)
        if base is None:
            continue
        if row.p99_ms and base.p99_ms and not math.isnan(base.p99_ms):
            row.latency_ratio_p99 = round(row.p99_ms / base.p99_ms, 2)
        if row.cpu_ms_per_call and base.cpu_ms_per_call:
            row.cpu_ratio = round(row.cpu_ms_per_call / base.cpu_ms_per_call, 2)


async def storm(ds: Dataset, *, rates: Sequence[float], duration: float,
                redis_url: str | None, with_floor: bool = True,
                with_callcontrol: bool = True) -> list[StormRow]:
    """The floor then callcontrol, at each rate, against one simulator; rows of both."""
    backend = "postgresql+redis" if redis_url else f"{ds.backend} (embedded)"
    rng = random.Random(42)
    numbers = await caller_numbers(ds, 2000, rng)
    clock = PopClock()
    keep = os.environ.get("CALLCONTROL_BENCH_KEEP")   # a folder: keep serve.log and the WAVs
    with tempfile.TemporaryDirectory(prefix="cc-storm-") as tmp:
        var = Path(keep) if keep else Path(tmp)
        var.mkdir(parents=True, exist_ok=True)
        sim = PbxSimulator(recordings_dir=var / "sim", time_scale=1.0)
        sim.add_event_listener(clock.listener)
        await sim.start("127.0.0.1", 0)
        connector = aiohttp.TCPConnector(limit=0)
        try:
            async with aiohttp.ClientSession(connector=connector) as http:
                floor_rows = await run_floor(sim, clock, http, rates, duration, numbers, var,
                                             backend) if with_floor else []
                cc_rows = await run_callcontrol(ds, sim, clock, http, rates, duration,
                                                numbers, var, redis_url, backend) \
                    if with_callcontrol else []
        finally:
            await sim.close()
    compare(cc_rows, floor_rows)
    rows = [*floor_rows, *cc_rows]
    for row in rows:
        row.note = "; ".join(x for x in (describe(row), row.note) if x)
    return rows


def scale(mode: str) -> tuple[tuple[float, ...], float]:
    rates = os.environ.get("CALLCONTROL_BENCH_RATES")
    chosen = tuple(float(r) for r in rates.split(",")) if rates else RATES[mode]
    return chosen, float(os.environ.get("CALLCONTROL_BENCH_DURATION") or DURATION[mode])


# The floor rows measured by the storm of this process, per backend: the ``floor``
# benchmark reports them rather than running the same load again.
FLOOR_MEASURED: dict[tuple[str, str], list[StormRow]] = {}


async def run(ds: Dataset, *, mode: str = "smoke", queries: int | None = None) -> list[Row]:
    """The harness entry: SQLite -> embedded defaults; PostgreSQL -> PostgreSQL + Redis."""
    del queries  # the storm's scale is its rates and duration
    rates, duration = scale(mode)
    redis_url = None
    if ds.backend == "postgresql":
        problem = await redis_available(REDIS_URL)
        if problem is not None:
            raise RuntimeError(f"Redis at {REDIS_URL} is not reachable: {problem}")
        redis_url = REDIS_URL
    rows = await storm(ds, rates=rates, duration=duration, redis_url=redis_url)
    FLOOR_MEASURED[(mode, ds.backend)] = [r for r in rows if r.pipeline == "floor"]
    return list(rows)
