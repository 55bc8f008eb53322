"""Call control against the real PBX simulator, through the real ARI client and services.

``call_env`` builds the whole stack: a migrated database (SQLite by default, PostgreSQL
where a test asks), the PbxSimulator (time_scale 0.01: lab delays are 100x shorter), the
AgentService and PopService of the desk, an in-process bus and a started CallControl.
Timeouts of call control itself are real seconds, kept short.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from callcontrol.agents.service import AgentService
from callcontrol.agents.states import AgentState
from callcontrol.ari import AriClient
from callcontrol.bus import create_bus
from callcontrol.calls import CallControl, RecordingStore
from callcontrol.config import load_config
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.migrate import upgrade_async
from callcontrol.crm.models import Activity, Communication, Contact, Phone
from callcontrol.crm.users import create_user
from callcontrol.desk.pops import MemoryPopStore, PopService
from callcontrol.metrics import product_registry

TIME_SCALE = 0.01


async def eventually(predicate: Callable[[], Any], timeout: float = 5.0,
                     what: str = "condition") -> Any:
    """Poll (tests only) until predicate() is truthy; its value, or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


class PopRecorder:
    """Every message published on the agents' bus topics, in order."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, dict[str, Any]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._stack = contextlib.AsyncExitStack()

    async def watch(self, bus: Any, agent_id: int) -> None:
        sub = await self._stack.enter_async_context(bus.subscribe(f"agent.{agent_id}"))

        async def pump() -> None:
            while True:
                msg = await sub.get()
                self.messages.append((agent_id, msg.data))
        self._tasks.append(asyncio.create_task(pump()))

    def of(self, agent_id: int, kind: str | None = None) -> list[dict[str, Any]]:
        return [m for a, m in self.messages
                if a == agent_id and (kind is None or m.get("type") == kind)]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self._stack.aclose()


@dataclasses.dataclass
class CallEnv:
    sim: Any
    config: Any
    engine: Any
    sessions: Any
    bus: Any
    metrics: Any
    agents: AgentService
    pops: PopService
    store: RecordingStore
    calls: CallControl
    client: AriClient
    recorder: PopRecorder
    tmp: Path
    options: dict[str, Any]

    async def add_user(self, username: str, extension: str | None, device: str | None,
                       role: str = "agent") -> int:
        async with self.sessions() as session, session.begin():
            user = await create_user(session, username, "secret-password-1", role,
                                     extension=extension, device=device)
            return user.id

    async def add_agent(self, username: str, extension: str, *, device: str | None = None,
                        ready: bool = True, role: str = "agent") -> int:
        device = device or f"PJSIP/{extension}"
        user_id = await self.add_user(username, extension, device, role)
        await self.agents.cti_login(user_id)
        if not ready:
            await self.agents.set_state(user_id, AgentState.NOT_READY, reason="break")
        await self.recorder.watch(self.bus, user_id)
        return user_id

    async def add_contact(self, name: str, phone: str, e164: str) -> int:
        async with self.sessions() as session, session.begin():
            contact = Contact(kind="person", first_name=name, last_name="Test",
                              search_name=name.lower())
            session.add(contact)
            await session.flush()
            session.add(Phone(contact_id=contact.id, raw=phone, e164=e164, is_default=True))
            return contact.id

    async def comm(self, call_id: str) -> Communication | None:
        for attempt in range(3):
            try:
                async with self.sessions() as session:
                    return (await session.execute(
                        select(Communication).where(Communication.call_id == call_id)
                    )).scalar_one_or_none()
            except DBAPIError as exc:
                # an observer's read on a connection the server killed a moment ago (tests
                # that kill connections): the pool replaced it; read again
                if not exc.connection_invalidated or attempt == 2:
                    raise
        return None

    async def comms(self) -> list[Communication]:
        async with self.sessions() as session:
            return list((await session.execute(
                select(Communication).order_by(Communication.id))).scalars())

    async def completed(self, call_id: str, timeout: float = 5.0) -> Communication:
        async def done() -> Communication | None:
            comm = await self.comm(call_id)
            return comm if comm is not None and comm.state == "completed" else None
        return await eventually(done, timeout, f"communication of {call_id} completed")

    async def activities(self) -> list[Activity]:
        async with self.sessions() as session:
            return list((await session.execute(select(Activity))).scalars())

    async def agent_state(self, user_id: int) -> AgentState:
        status = await self.agents.get(user_id)
        assert status is not None
        return status.state

    async def wait_agent(self, user_id: int, state: AgentState, timeout: float = 5.0) -> None:
        async def check() -> bool:
            return await self.agent_state(user_id) is state
        await eventually(check, timeout, f"agent {user_id} {state.value}")

    async def place(self, number: str = "+35799123456", **options: Any) -> Any:
        """A PSTN caller; unanswered they wait 10 s (the lab's 30 s, scaled, is too short)."""
        options.setdefault("give_up_after", 1000)
        return await self.sim.place_call(number=number, **options)

    async def saw_state(self, user_id: int, state: AgentState, timeout: float = 5.0) -> None:
        """The agent went through ``state`` (persisted history; it may have moved on)."""
        from callcontrol.crm.models import AgentStateChange

        async def seen() -> bool:
            async with self.sessions() as session:
                rows = (await session.execute(select(AgentStateChange.state).where(
                    AgentStateChange.user_id == user_id))).scalars().all()
            return state.value in rows
        await eventually(seen, timeout, f"agent {user_id} went {state.value}")

    def call_id_of(self, sim_call: Any) -> str:
        return f"{self.config.ari.app}:{sim_call.stasis_channel_id}"

    async def wait_call(self, call_id: str, phase: str, timeout: float = 5.0) -> Any:
        def check() -> Any:
            call = self.calls.calls.get(call_id)
            return call if call is not None and call.phase.value == phase else None
        return await eventually(check, timeout, f"call {call_id} {phase}")

    def new_control(self, **options: Any) -> CallControl:
        """Another CallControl on the same stack (a restart, or a second instance)."""
        opts = {**self.options, **options}
        config = opts.pop("config", self.config)
        return CallControl(config, self.client, self.sessions, self.agents, self.pops,
                           self.bus, self.metrics, self.store, **opts)


def make_config(tmp: Path, ari_url: str, db_url: str, **calls: Any) -> Any:
    config = load_config(env={
        "CALLCONTROL_VAR_DIR": str(tmp / "var"),
        "CALLCONTROL_DATABASE_URL": db_url,
        "CALLCONTROL_ARI_URL": ari_url,
        "CALLCONTROL_SECRET_KEY": "x" * 40,
        "CALLCONTROL_OUTBOUND_CALLER_ID": "+35722000000",
        "CALLCONTROL_RECORDINGS_DIR": str(tmp / "recordings"),
    })
    defaults: dict[str, Any] = {"ring_timeout": 0.6, "queue_max_wait": 3.0, "wrapup_seconds": 0.3,
                "lookup_budget_ms": 150}
    defaults.update(calls)
    return dataclasses.replace(config, calls=dataclasses.replace(config.calls, **defaults))


@contextlib.asynccontextmanager
async def call_env(tmp: Path, db_url: str | None = None, **calls: Any) -> AsyncIterator[CallEnv]:
    from callcontrol.pbxsim import PbxSimulator

    db_url = db_url or f"sqlite+aiosqlite:///{tmp / 'calls.db'}"
    await upgrade_async(db_url)
    sim = PbxSimulator(recordings_dir=tmp / "pbx", time_scale=TIME_SCALE)
    await sim.start("127.0.0.1", 0)
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    # as in the app: on PostgreSQL the call path has its own pool (checked without a ping)
    hot = create_engine(db_url, call_path=True) if db_url.startswith("postgresql") else engine
    hot_sessions = session_factory(hot)
    options: dict[str, Any] = {"hunt_interval": 0.05, "ring_grace": 0.5, "recording_grace": 1.0,
               "message_timeout": 2.0, "customer_ring_timeout": 2.0,
               # the simulator scales ARI timeouts too: keep its backstop behind our timers
               "originate_timeout": 1000,
               "stream_options": {"backoff_initial": 0.05, "backoff_max": 0.2}}
    options.update(calls.pop("options", {}))
    config = make_config(tmp, sim.url, db_url, **calls)
    bus = create_bus(None)
    metrics = product_registry()
    agents = AgentService(sessions, bus, metrics, wrapup_seconds=config.calls.wrapup_seconds)
    await agents.start()
    pops = PopService(bus, MemoryPopStore(), metrics)
    store = RecordingStore(config.calls.recordings_dir)
    client = AriClient(config.ari)
    control = CallControl(config, client, hot_sessions, agents, pops, bus, metrics, store,
                          **options)
    recorder = PopRecorder()
    env = CallEnv(sim, config, engine, sessions, bus, metrics, agents, pops, store, control,
                  client, recorder, tmp, options)
    await control.start()
    await control.stream.wait_connected(5)
    try:
        yield env
    finally:
        await env.calls.close()
        await recorder.close()
        await agents.close()
        await client.close()
        await sim.close()
        await bus.close()
        if hot is not engine:
            await hot.dispose()
        await engine.dispose()


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[CallEnv]:
    async with call_env(tmp_path) as built:
        yield built


class Api:
    """The HTTP API of a built app, with one bearer token per user."""

    def __init__(self, client: Any, env: CallEnv) -> None:
        self.client = client
        self.env = env
        self.tokens: dict[int, str] = {}

    async def token(self, user_id: int) -> str:
        if user_id not in self.tokens:
            from callcontrol.crm.models import User
            from callcontrol.crm.users import create_api_token

            async with self.env.sessions() as session, session.begin():
                user = await session.get(User, user_id)
                self.tokens[user_id] = await create_api_token(session, user)
        return self.tokens[user_id]

    async def request(self, method: str, path: str, user_id: int | None,
                      body: Any = None) -> tuple[int, Any]:
        headers = {}
        if user_id is not None:
            headers["Authorization"] = f"Bearer {await self.token(user_id)}"
        resp = await self.client.request(method, path, json=body, headers=headers)
        data = await resp.json(content_type=None)
        return resp.status, data

    async def post(self, path: str, user_id: int | None, body: Any = None) -> tuple[int, Any]:
        return await self.request("POST", path, user_id, body)

    async def get(self, path: str, user_id: int | None) -> tuple[int, Any]:
        return await self.request("GET", path, user_id)


@pytest.fixture
async def api(env: CallEnv, aiohttp_client: Any) -> Api:
    from callcontrol.app import build_app
    from callcontrol.calls.api import CALLS, add_routes

    def setup(app: Any) -> None:
        add_routes(app)
        app[CALLS] = env.calls
    app = build_app(env.config, ari_state=env.calls, setups=[setup])
    return Api(await aiohttp_client(app), env)
