"""What production throws at call control: websocket drops, restarts, database trouble, load."""

from __future__ import annotations

import asyncio

import pytest

from callcontrol.agents.states import AgentState
from tests.calls.conftest import call_env, eventually, wav_seconds

MARIA = "+35799123456"


async def test_websocket_drop_mid_call_keeps_the_call(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected")
    resyncs = env.calls.resyncs
    await env.sim.drop_websockets()
    await eventually(lambda: env.calls.resyncs > resyncs and env.calls.connected,
                     what="reconnected and reconciled")
    await asyncio.sleep(0.1)
    assert call.phase.value == "connected" and call_id in env.calls.calls
    assert env.metrics.counter("callcontrol_ari_reconnects_total").value() >= 1
    assert env.metrics["callcontrol_ari_connected"].value() == 1
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.hangup_cause == "caller_hangup" and comm.agent_id == agent
    assert env.store.path(comm.recording).is_file()
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_caller_hangs_up_while_the_websocket_is_down(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected")
    await asyncio.sleep(0.2)
    await env.sim.drop_websockets()
    await env.sim.hangup(sim_call.stasis_channel_id)     # nobody hears this
    comm = await env.completed(call_id)
    assert comm.category == "answered" and comm.hangup_cause == "caller_hangup"
    # the agent leg was hung up on reconcile, the recording copied
    await eventually(lambda: call.agent.id not in env.sim.channels, what="agent leg gone")
    assert env.store.path(comm.recording).is_file()
    await env.saw_state(agent, AgentState.WRAP_UP)


async def _restart(env):
    await env.calls.close()
    env.calls = env.new_control()
    await env.calls.start()
    await env.calls.stream.wait_connected(5)


async def test_restart_mid_call_adopts_the_live_call(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    await env.wait_call(call_id, "connected")
    await eventually(lambda: _answer_written(env, call_id), what="answer on record")
    await asyncio.sleep(0.3)
    await _restart(env)
    call = await env.wait_call(call_id, "connected")
    assert call.adopted and call.agent_id == agent
    await asyncio.sleep(0.3)
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.hangup_cause == "caller_hangup" and comm.category == "answered"
    # the recording ran on through the restart
    talk = (comm.ended_at - comm.answered_at).total_seconds()
    assert abs(wav_seconds(env.store.path(comm.recording)) - talk) < 0.35
    assert len(await env.comms()) == 1
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_restart_after_the_call_ended_completes_the_record(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected")
    await eventually(lambda: _answer_written(env, call_id), what="answer on record")
    await env.calls.close()
    await env.sim.hangup(sim_call.stasis_channel_id)     # while callcontrol is down
    env.calls = env.new_control()
    await env.calls.start()
    comm = await env.completed(call_id)
    assert comm.category == "answered" and comm.ended_at is not None
    assert comm.agent_id == agent and env.store.path(comm.recording).is_file()
    await eventually(lambda: call.agent.id not in env.sim.channels, what="agent leg gone")
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_restart_while_the_caller_waits_hunts_again(env):
    agent = await env.add_agent("anna", "1001", ready=False)
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    await env.wait_call(call_id, "queued")
    await eventually(lambda: env.comm(call_id), what="draft")
    await _restart(env)
    await env.wait_call(call_id, "queued")
    await env.agents.set_state(agent, AgentState.READY)
    await env.wait_call(call_id, "connected")
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.agent_id == agent and comm.category == "answered"


async def test_database_errors_mid_call_are_retried_without_duplicates(env, monkeypatch):
    agent = await env.add_agent("anna", "1001")
    records = env.calls.records
    real = records.run
    broken = {"on": True, "failures": 0}

    async def flaky(op):
        if broken["on"]:
            broken["failures"] += 1
            raise ConnectionError("database restarting")
        return await real(op)
    monkeypatch.setattr(records, "run", flaky)
    records.retry_initial, records.retry_max = 0.02, 0.1
    sim_call = await env.place(number=MARIA, hangup_after=50)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected")     # the call goes on without the DB
    assert call.agent_id == agent
    await eventually(lambda: call.phase.value == "ended" or call_id not in env.calls.calls,
                     what="call over")
    assert broken["failures"] > 0 and await env.comm(call_id) is None
    broken["on"] = False
    comm = await env.completed(call_id)
    assert comm.category == "answered" and comm.agent_id == agent
    assert len(await env.comms()) == 1


@pytest.mark.postgres
async def test_postgres_connections_killed_mid_call(tmp_path, postgres_database):
    import asyncpg

    async with call_env(tmp_path, db_url=postgres_database) as env:
        agent = await env.add_agent("anna", "1001")
        sim_call = await env.place(number=MARIA)
        call_id = env.call_id_of(sim_call)
        await env.wait_call(call_id, "connected")
        name = postgres_database.rsplit("/", 1)[1]
        conn = await asyncpg.connect(postgres_database.replace("+asyncpg", ""))
        try:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = $1 AND pid <> pg_backend_pid()", name)
        finally:
            await conn.close()
        await env.sim.hangup(sim_call.stasis_channel_id)
        comm = await env.completed(call_id)
        assert comm.agent_id == agent and comm.hangup_cause == "caller_hangup"
        await env.saw_state(agent, AgentState.WRAP_UP)


async def _answer_written(env, call_id):
    comm = await env.comm(call_id)
    return comm is not None and comm.answered_at is not None


async def _fifty_calls_ten_agents(tmp_path, db_url):
    async with call_env(tmp_path, db_url=db_url, queue_max_wait=60.0, wrapup_seconds=0.05,
                        ring_timeout=5.0) as env:
        agents = []
        for i in range(10):
            agents.append(await env.add_agent(f"agent{i}", f"10{i:02d}"))
            # each agent talks 0.5 s (50 lab seconds), then hangs up
            env.sim.set_device(f"PJSIP/10{i:02d}", answer_after=0.5, hangup_after=50)
        # callers wait up to a minute: the machine may be busy, the check is correctness
        sims = await asyncio.gather(*[
            env.place(number=f"+3579900{i:04d}", hangup_after=6000, give_up_after=6000)
            for i in range(50)])
        ids = [env.call_id_of(s) for s in sims]
        comms = [await env.completed(i, timeout=60) for i in ids]
        outcomes = [(c.category, c.hangup_cause) for c in comms]
        assert all(c.category == "answered" for c in comms), outcomes
        assert {c.agent_id for c in comms} <= set(agents)
        # no agent ever had two calls at once
        by_agent: dict[int, list] = {}
        for c in comms:
            by_agent.setdefault(c.agent_id, []).append((c.answered_at, c.ended_at))
        for spans in by_agent.values():
            spans.sort()
            for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
                assert start >= end
        assert len(await env.comms()) == 50
        waits = sorted((c.answered_at - c.started_at).total_seconds() for c in comms)
        print(f"\n50 calls / 10 agents ({'postgres' if db_url else 'sqlite'}): answered after "
              f"p50 {waits[24]:.2f}s, max {waits[-1]:.2f}s (5 rounds of 0.5 s talk)")
        # every call popped on the screen of the agent who answered it; an agent who did
        # not answer in time on a busy machine is rung no more for that call, and the pop
        # goes to the next one (so one pop per ring, never two to the same agent)
        popped: dict[str, list[int]] = {}
        for agent_id, m in env.recorder.messages:
            if m.get("type") == "call.ringing":
                popped.setdefault(m["call_id"], []).append(agent_id)
        assert set(popped) == set(ids)
        for call_id, comm in zip(ids, comms, strict=True):
            assert comm.agent_id in popped[call_id]
            assert len(popped[call_id]) == len(set(popped[call_id])), popped[call_id]
        await eventually(lambda: not env.calls.calls, what="no call left")
        assert env.metrics["callcontrol_calls_active"].value() == 0


@pytest.mark.slow
async def test_fifty_simultaneous_calls_ten_agents_sqlite(tmp_path):
    await _fifty_calls_ten_agents(tmp_path, None)


@pytest.mark.slow
@pytest.mark.postgres
async def test_fifty_simultaneous_calls_ten_agents_postgres(tmp_path, postgres_database):
    await _fifty_calls_ten_agents(tmp_path, postgres_database)


async def test_killed_before_the_answer_was_written(env, monkeypatch):
    """A crash loses what was not written yet: ARI's channels tell the new process."""
    agent = await env.add_agent("anna", "1001")
    real, never, allowed = env.calls.records.run, asyncio.Event(), [1]

    async def gated(op):
        if allowed:       # the draft gets written, then the database stops answering
            allowed.pop()
            return await real(op)
        await never.wait()
    monkeypatch.setattr(env.calls.records, "run", gated)
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    await eventually(lambda: env.comm(call_id), what="draft")
    await env.wait_call(call_id, "connected")
    # the process dies: no flush, no goodbye
    old = env.calls
    await old.stream.close()
    for call in old.calls.values():
        call.journal.close()
        if call.runner is not None:
            call.runner.cancel()
    draft = await env.comm(call_id)
    assert draft.answered_at is None and draft.agent_id is None
    env.calls = env.new_control()
    await env.calls.start()
    call = await env.wait_call(call_id, "connected")
    assert call.adopted and call.agent_id == agent and call.recording_state == "recording"
    await asyncio.sleep(0.3)
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.agent_id == agent and comm.answered_at is not None
    assert comm.hangup_cause == "caller_hangup"
    assert env.store.path(comm.recording).is_file()
    assert len(await env.comms()) == 1
    await env.saw_state(agent, AgentState.WRAP_UP)


class FlakyProxy:
    """A TCP proxy in front of PostgreSQL that can 'restart' it: every connection is cut
    and new ones are refused until it is back, like a database server restart."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up = True
        self.conns: set[asyncio.StreamWriter] = set()
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _client(self, reader, writer) -> None:
        if not self.up:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self.conns.update((writer, up_writer))

        async def pipe(src, dst) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                dst.close()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.conns.discard(writer)
        self.conns.discard(up_writer)

    def stop_database(self) -> None:
        self.up = False
        for writer in list(self.conns):
            writer.close()

    def start_database(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.stop_database()
        if self.server is not None:
            self.server.close()


@pytest.mark.slow
@pytest.mark.postgres
async def test_postgres_restarted_mid_call(tmp_path, postgres_database):
    from callcontrol.crm.migrate import upgrade_async

    await upgrade_async(postgres_database)
    proxy = FlakyProxy(5432)
    await proxy.start()
    db_url = postgres_database.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        async with call_env(tmp_path, db_url=db_url) as env:
            env.calls.records.retry_initial, env.calls.records.retry_max = 0.05, 0.2
            agent = await env.add_agent("anna", "1001")
            sim_call = await env.place(number=MARIA)
            call_id = env.call_id_of(sim_call)
            call = await env.wait_call(call_id, "connected")
            await eventually(lambda: _answer_written(env, call_id), what="answer written")
            proxy.stop_database()                       # PostgreSQL goes down mid-call
            await asyncio.sleep(0.3)
            await env.sim.hangup(sim_call.stasis_channel_id)
            await eventually(lambda: call_id not in env.calls.calls, what="call over")
            assert call.agent.id not in env.sim.channels   # the PBX side was cleaned up
            await asyncio.sleep(0.5)
            proxy.start_database()                      # ... and comes back
            comm = await env.completed(call_id, timeout=10)
            assert comm.hangup_cause == "caller_hangup" and comm.agent_id == agent
            assert env.store.path(comm.recording).is_file()
            assert len(await env.comms()) == 1
            await env.saw_state(agent, AgentState.WRAP_UP, timeout=10)
    finally:
        await proxy.close()


async def test_pbx_restart_mid_call_closes_the_record(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    await env.wait_call(call_id, "connected")
    await env.sim.restart()                      # Asterisk restarts: every channel is gone
    comm = await env.completed(call_id)
    assert comm.category == "answered" and comm.hangup_cause == "channels_lost"
    assert comm.ended_at is not None and comm.agent_id == agent
    await env.saw_state(agent, AgentState.WRAP_UP)
    # and the next call works as usual
    await env.wait_agent(agent, AgentState.READY)
    sim_call = await env.place(number=MARIA, hangup_after=30)
    comm = await env.completed(env.call_id_of(sim_call))
    assert comm.hangup_cause == "caller_hangup"


async def test_no_agent_is_rung_while_the_websocket_is_down(tmp_path):
    slow_reconnect = {"stream_options": {"backoff_initial": 2.0, "backoff_max": 2.0}}
    async with call_env(tmp_path, options=slow_reconnect) as env:
        agent = await env.add_agent("anna", "1001", ready=False)
        sim_call = await env.place(number=MARIA)
        call_id = env.call_id_of(sim_call)
        call = await env.wait_call(call_id, "queued")
        await env.sim.drop_websockets()
        await eventually(lambda: not env.calls.connected, what="disconnected")
        await env.agents.set_state(agent, AgentState.READY)
        await asyncio.sleep(0.3)                  # several hunting ticks
        assert not env.calls.connected and call.attempts == 0
        assert await env.agent_state(agent) is AgentState.READY
        # once events flow again (2 s backoff, the resync, a hunting tick, the ring)
        await env.wait_call(call_id, "connected", timeout=10)
        await env.sim.hangup(sim_call.stasis_channel_id)
        comm = await env.completed(call_id)
        assert comm.agent_id == agent and comm.category == "answered"
