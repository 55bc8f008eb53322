"""Inbound calls to agents: issue #4 steps 1-7 and their failures, on the PBX simulator."""

from __future__ import annotations

import asyncio

import pytest

from callcontrol.agents.states import AgentState
from callcontrol.ari import errors as ari_errors
from tests.calls.conftest import call_env, eventually, wav_seconds

MARIA = "+35799123456"


async def test_answered_call_is_bridged_recorded_and_logged(env):
    anna = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Maria", "99 123456", MARIA)
    env.sim.set_device("PJSIP/1001", answer_after=0.5, behaviour="answer")
    sim_call = await env.place(number=MARIA, name="Maria", hangup_after=80)
    call_id = env.call_id_of(sim_call)

    # the draft exists from the first second, with the one matching contact
    draft = await eventually(lambda: env.comm(call_id), what="draft")
    assert draft.direction == "incoming" and draft.media == "phone"
    assert draft.contact_id == contact and draft.caller_number == MARIA

    call = await env.wait_call(call_id, "connected")
    assert call.agent_id == anna and call.recording_state == "recording"
    bridge = env.sim.bridges[call.bridge_id]
    assert {c.id for c in bridge.channels} >= {call.customer.id, call.agent.id}
    await env.wait_agent(anna, AgentState.ON_CALL)

    comm = await env.completed(call_id)
    assert comm.agent_id == anna and comm.category == "answered"
    assert comm.hangup_cause == "caller_hangup"
    assert comm.started_at <= comm.answered_at <= comm.ended_at
    talk = (comm.ended_at - comm.answered_at).total_seconds()
    path = env.store.path(comm.recording)
    assert path.is_file()
    # the file holds the talk time (the simulator records real time)
    recorded = wav_seconds(path)
    assert abs(recorded - talk) < 0.35, (recorded, talk)
    # the other leg was hung up: nothing of this call is left on the PBX
    await eventually(lambda: not [c for c in env.sim.channels if c.startswith(call_id)],
                     what="agent leg hung up")
    assert call.bridge_id not in env.sim.bridges and not env.sim.live_recordings
    # wrap-up, then ready again
    await env.saw_state(anna, AgentState.WRAP_UP)
    await env.wait_agent(anna, AgentState.READY, timeout=3)
    kinds = [m["type"] for m in env.recorder.of(anna)
             if m.get("type", "").startswith("call.")]
    assert kinds[:3] == ["call.ringing", "call.answered", "call.ended"]
    ring = env.recorder.of(anna, "call.ringing")[0]
    assert ring["call_id"] == call_id and ring["contacts"][0]["id"] == contact
    assert ring["caller"]["e164"] == MARIA
    metrics = env.metrics
    assert metrics.counter("callcontrol_calls_total").value(
        direction="inbound", outcome="answered") == 1
    assert metrics["callcontrol_calls_active"].value() == 0
    assert metrics.histogram("callcontrol_pop_latency_seconds").series


async def test_agent_does_not_answer_and_the_next_one_does(env):
    slow = await env.add_agent("slow", "1001")      # idle longest: rung first
    await asyncio.sleep(0.01)
    quick = await env.add_agent("quick", "1002")
    env.sim.set_device("PJSIP/1001", behaviour="no_answer")
    env.sim.set_device("PJSIP/1002", answer_after=0.5, behaviour="answer")
    sim_call = await env.place(number=MARIA, hangup_after=60)
    call_id = env.call_id_of(sim_call)
    comm = await env.completed(call_id, timeout=8)
    assert comm.agent_id == quick and comm.category == "answered"
    await env.wait_agent(slow, AgentState.NOT_READY)
    status = await env.agents.get(slow)
    assert status.state is AgentState.NOT_READY and status.reason == "no answer"
    assert env.recorder.of(slow, "call.ringing") and env.recorder.of(slow, "pop.closed")
    assert env.recorder.of(quick, "call.answered")


@pytest.mark.parametrize(("behaviour", "reason"), [
    ("busy", "busy"), ("reject", "busy"), ("congestion", "unreachable")])
async def test_busy_rejecting_or_unreachable_agent_is_skipped(env, behaviour, reason):
    busy = await env.add_agent("busy", "1001")
    await asyncio.sleep(0.01)
    free = await env.add_agent("free", "1002")
    env.sim.set_device("PJSIP/1001", behaviour=behaviour, answer_after=0.5)
    env.sim.set_device("PJSIP/1002", answer_after=0.2, behaviour="answer")
    sim_call = await env.place(number=MARIA, hangup_after=40)
    comm = await env.completed(env.call_id_of(sim_call), timeout=8)
    assert comm.agent_id == free and comm.category == "answered"
    await env.wait_agent(busy, AgentState.NOT_READY)
    status = await env.agents.get(busy)
    assert status.state is AgentState.NOT_READY and status.reason == reason
    assert env.recorder.of(busy, "pop.closed")


async def test_the_pop_does_not_wait_for_the_originate_answer(env, monkeypatch):
    anna = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Maria", "99 123456", MARIA)
    env.sim.set_device("PJSIP/1001", answer_after=0.5, behaviour="answer")
    real = env.client.channels.originate
    answered: list[bool] = []

    async def slow_originate(*args, **kwargs):
        await asyncio.sleep(0.6)           # a PBX slow to answer the originate request
        result = await real(*args, **kwargs)
        answered.append(True)
        return result

    monkeypatch.setattr(env.client.channels, "originate", slow_originate)
    sim_call = await env.place(number=MARIA, hangup_after=40)
    call_id = env.call_id_of(sim_call)
    ring = await eventually(lambda: env.recorder.of(anna, "call.ringing"), what="pop")
    assert not answered, "the pop waited for the originate's answer"
    assert ring[0]["call_id"] == call_id and ring[0]["contacts"][0]["id"] == contact
    comm = await env.completed(call_id, timeout=8)
    assert comm.agent_id == anna and comm.category == "answered"


async def test_an_agent_whose_phone_cannot_be_rung_keeps_no_pop_open(env):
    lost = await env.add_agent("lost", "1001", device="PJSIP/no-such-phone")  # rung first
    await asyncio.sleep(0.01)
    free = await env.add_agent("free", "1002")
    env.sim.set_device("PJSIP/1002", answer_after=0.2, behaviour="answer")
    for attempt in range(3):   # the look-up ends before or after the failed originate
        if attempt:   # both ready again, the lost one idle longest
            await env.agents.set_state(lost, AgentState.READY)
            await env.agents.set_state(free, AgentState.NOT_READY, reason="break")
            await env.agents.set_state(free, AgentState.READY)
        sim_call = await env.place(number=MARIA, hangup_after=10)
        comm = await env.completed(env.call_id_of(sim_call), timeout=8)
        assert comm.agent_id == free and comm.category == "answered"
        await env.wait_agent(lost, AgentState.NOT_READY)
        assert (await env.agents.get(lost)).reason == "unreachable"
        await env.wait_agent(free, AgentState.READY, timeout=5)
    rings = [m["call_id"] for m in env.recorder.of(lost, "call.ringing")]
    closed = env.recorder.of(lost, "pop.closed")
    assert sorted(rings) == sorted(m["call_id"] for m in closed)
    assert {m["reason"] for m in closed} <= {"unreachable"}


async def test_queue_wait_ends_while_an_agent_rings(tmp_path):
    from tests.calls.conftest import call_env

    async with call_env(tmp_path, queue_max_wait=0.6, ring_timeout=5.0) as env:
        agent = await env.add_agent("anna", "1001")
        env.sim.set_device("PJSIP/1001", behaviour="no_answer")
        sim_call = await env.place(number=MARIA)
        call_id = env.call_id_of(sim_call)
        await env.wait_call(call_id, "ringing")
        comm = await env.completed(call_id, timeout=6)
        assert comm.category == "missed" and comm.hangup_cause == "queue_timeout"
        # not the agent's fault: ready again, not "no answer"
        await env.wait_agent(agent, AgentState.READY)
        [closed] = env.recorder.of(agent, "pop.closed")
        assert closed["call_id"] == call_id and closed["reason"] == "expired"
        assert len(await env.activities()) == 1


async def test_caller_hangs_up_while_ringing(tmp_path):
    from tests.calls.conftest import call_env

    async with call_env(tmp_path, ring_timeout=10.0) as env:
        agent = await env.add_agent("anna", "1001")
        env.sim.set_device("PJSIP/1001", behaviour="no_answer")
        sim_call = await env.sim.place_call(number=MARIA, give_up_after=50)
        call_id = env.call_id_of(sim_call)
        comm = await env.completed(call_id, timeout=6)
        assert comm.category == "missed" and comm.hangup_cause == "abandoned"
        assert comm.answered_at is None and comm.agent_id is None and comm.recording is None
        # the ringing agent is free again, their pop closed
        await env.wait_agent(agent, AgentState.READY)
        assert env.recorder.of(agent, "pop.closed")
        await eventually(lambda: not [c for c in env.sim.channels if c.startswith(call_id)],
                         what="agent leg hung up")
        [activity] = await env.activities()
        assert activity.subject == f"Call back {MARIA}" and activity.state == "Pending"


async def test_nobody_answers_within_the_queue_wait(tmp_path):
    from tests.calls.conftest import call_env

    async with call_env(tmp_path, queue_max_wait=1.0) as env:
        away = await env.add_agent("away", "1001", ready=False)
        contact = await env.add_contact("Maria", "99123456", MARIA)
        sim_call = await env.place(number=MARIA)
        call_id = env.call_id_of(sim_call)
        call = await env.wait_call(call_id, "queued")
        await eventually(lambda: call.moh, what="music on hold")
        comm = await env.completed(call_id, timeout=6)
        assert comm.category == "missed" and comm.hangup_cause == "queue_timeout"
        assert comm.subject == f"Missed call from {MARIA}"
        [activity] = await env.activities()
        assert activity.contact_id == contact and activity.subject == f"Call back {MARIA}"
        assert await env.agent_state(away) is AgentState.NOT_READY
        assert env.sim.channels.get(sim_call.stasis_channel_id) is None
        assert env.metrics.counter("callcontrol_calls_total").value(
            direction="inbound", outcome="missed") == 1


async def test_all_agents_busy_then_one_frees_up(env):
    agent = await env.add_agent("anna", "1001", ready=False)
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "queued")
    await eventually(lambda: call.moh, what="music on hold while waiting")
    await asyncio.sleep(0.3)
    assert call.phase.value == "queued"
    await env.agents.set_state(agent, AgentState.READY)
    await env.wait_call(call_id, "connected")
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.agent_id == agent and comm.category == "answered"


async def test_agent_hangs_up_first(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected")
    await asyncio.sleep(0.3)
    await env.sim.hangup(call.agent.id)
    comm = await env.completed(call_id)
    assert comm.hangup_cause == "agent_hangup"
    assert env.sim.channels.get(sim_call.stasis_channel_id) is None   # caller hung up too
    assert env.store.path(comm.recording).is_file()
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_unknown_caller_and_several_matches(env):
    agent = await env.add_agent("anna", "1001")
    one = await env.add_contact("Maria", "99111111", "+35799111111")
    two = await env.add_contact("Marios", "99111111", "+35799111111")
    several = await env.place(number="+35799111111", hangup_after=30)
    comm = await env.completed(env.call_id_of(several))
    assert comm.contact_id is None and comm.agent_id == agent
    pop = env.recorder.of(agent, "call.ringing")[-1]
    assert sorted(c["id"] for c in pop["contacts"]) == sorted([one, two])

    await env.wait_agent(agent, AgentState.READY)
    unknown = await env.place(number="+35799222222", hangup_after=30)
    comm = await env.completed(env.call_id_of(unknown))
    assert comm.contact_id is None and comm.caller_number == "+35799222222"
    assert env.recorder.of(agent, "call.ringing")[-1]["contacts"] == []


async def test_malformed_caller_id_is_an_unknown_caller(env):
    agent = await env.add_agent("anna", "1001")
    sim_call = await env.place(number="anonymous", hangup_after=30)
    comm = await env.completed(env.call_id_of(sim_call))
    assert comm.contact_id is None and comm.agent_id == agent
    pop = env.recorder.of(agent, "call.ringing")[-1]
    assert pop["caller"]["e164"] is None and pop["contacts"] == []


async def test_slow_lookup_never_holds_the_call(env, monkeypatch):
    agent = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Maria", "99123456", MARIA)
    real = env.calls.records.lookup
    release = asyncio.Event()

    async def slow(e164):
        await release.wait()
        return await real(e164)
    monkeypatch.setattr(env.calls.records, "lookup", slow)
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected", timeout=3)
    assert call.agent_id == agent
    draft = await eventually(lambda: env.comm(call_id), what="the draft is written")
    assert draft.contact_id is None   # unknown for now: the look-up still hangs
    release.set()
    # the late result fills the record in
    await eventually(lambda: _contact_of(env, call_id, contact), what="late contact")
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.contact_id == contact


async def test_failing_lookup_is_retried_for_the_record(env, monkeypatch):
    agent = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Maria", "99123456", MARIA)
    real = env.calls.records.lookup
    failures = []

    async def flaky(e164):
        if len(failures) < 2:
            failures.append(e164)
            raise ConnectionError("database is away")
        return await real(e164)
    monkeypatch.setattr(env.calls.records, "lookup", flaky)
    sim_call = await env.place(number=MARIA, hangup_after=60)
    call_id = env.call_id_of(sim_call)
    await env.wait_call(call_id, "connected", timeout=3)
    comm = await env.completed(call_id)
    assert comm.agent_id == agent and len(failures) == 2
    await eventually(lambda: _contact_of(env, call_id, contact), what="contact after retry")


async def _contact_of(env, call_id, contact_id) -> bool:
    comm = await env.comm(call_id)
    return comm is not None and comm.contact_id == contact_id


async def test_sip_phone_caller_answered_and_cancelling(tmp_path):
    """A real SIP caller (one PJSIP channel, no Local pair): answered, then one who CANCELs."""
    from tests.calls.conftest import call_env

    async with call_env(tmp_path, ring_timeout=10.0) as env:
        agent = await env.add_agent("anna", "1001")
        sim_call = await env.place(number=MARIA, technology="PJSIP", hangup_after=50)
        assert sim_call.caller_channel_id == sim_call.stasis_channel_id
        comm = await env.completed(env.call_id_of(sim_call))
        assert comm.agent_id == agent and comm.hangup_cause == "caller_hangup"
        assert env.store.path(comm.recording).is_file()

        await env.wait_agent(agent, AgentState.READY)
        env.sim.set_device("PJSIP/1001", behaviour="no_answer")
        cancelling = await env.sim.place_call(number=MARIA, technology="PJSIP",
                                              give_up_after=30)
        comm = await env.completed(env.call_id_of(cancelling))
        assert comm.category == "missed" and comm.hangup_cause == "abandoned"
        await env.wait_agent(agent, AgentState.READY)
        assert not env.sim.channels
        assert not [b for b in env.sim.bridges if b.startswith("callcontrol:")]


async def test_waiting_callers_are_served_first_come_first_served(env):
    agent = await env.add_agent("anna", "1001", ready=False)
    env.sim.set_device("PJSIP/1001", answer_after=0.5, hangup_after=10)
    ids = []
    for i in range(3):
        sim_call = await env.place(number=f"+3579900000{i}")
        ids.append(env.call_id_of(sim_call))
        await env.wait_call(ids[-1], "queued")
        await asyncio.sleep(0.05)
    await env.agents.set_state(agent, AgentState.READY)
    comms = [await env.completed(i, timeout=8) for i in ids]
    assert [c.agent_id for c in comms] == [agent] * 3
    answered = [c.answered_at for c in comms]
    assert answered == sorted(answered)


async def test_a_waiting_caller_gets_an_agent_the_moment_they_are_ready(tmp_path):
    """Waiting callers are dispatched when an agent of this process becomes ready (after
    wrap-up, or by hand), not at the next hunt tick (every 0.5 s by default; here 30 s, so
    only the agent's readiness can serve the call in time)."""
    async with call_env(tmp_path, options={"hunt_interval": 30.0}) as env:
        agent = await env.add_agent("anna", "1001", ready=False)
        env.sim.set_device("PJSIP/1001", answer_after=0.2, hangup_after=10)
        sim_call = await env.place(number=MARIA)
        call_id = env.call_id_of(sim_call)
        await env.wait_call(call_id, "queued")
        await asyncio.sleep(0.1)
        loop = asyncio.get_running_loop()
        ready_at = loop.time()
        await env.agents.set_state(agent, AgentState.READY)
        await eventually(lambda: env.recorder.of(agent, "call.ringing"), timeout=2,
                         what="the pop to the agent who became ready")
        assert loop.time() - ready_at < 1.0
        comm = await env.completed(call_id, timeout=8)
        assert comm.agent_id == agent and comm.category == "answered"


async def test_every_log_line_about_a_call_carries_its_id(tmp_path):
    import logging

    from callcontrol.logs import CallIdFilter

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
    handler = Keep(level=logging.DEBUG)
    handler.addFilter(CallIdFilter())
    log = logging.getLogger("callcontrol.calls")
    old_level = log.level
    log.setLevel(logging.DEBUG)
    log.addHandler(handler)
    try:
        async with call_env(tmp_path, queue_max_wait=0.9) as env:
            await _ring_out_and_miss(env)
    finally:
        log.removeHandler(handler)
        log.setLevel(old_level)
    # ringing, no answer, waiting, the message, the end: all with the one call's id
    call_ids = {r.call_id for r in records}
    assert len(records) >= 4 and len(call_ids) == 1 and "-" not in call_ids, call_ids


async def _ring_out_and_miss(env) -> None:
    agent = await env.add_agent("anna", "1001")
    env.sim.set_device("PJSIP/1001", behaviour="no_answer")
    sim_call = await env.place(number=MARIA, give_up_after=80)
    comm = await env.completed(env.call_id_of(sim_call))
    assert comm.category == "missed"
    await env.wait_agent(agent, AgentState.NOT_READY)


def test_the_event_filter_asks_for_every_type_call_control_handles():
    """HANDLED_EVENTS is what ARI is asked to send: a type handle_event acts on but the
    filter leaves out would never arrive."""
    import inspect
    import re

    from callcontrol.calls.control import HANDLED_EVENTS, CallControl

    source = inspect.getsource(CallControl.handle_event)
    handled = set(re.findall(r"ev\.([A-Z]\w+)", source)) - {"Event"}  # the annotation
    assert handled and handled <= set(HANDLED_EVENTS)
    assert "ApplicationReplaced" in HANDLED_EVENTS     # the stream stops on it


async def test_call_control_receives_only_the_events_it_handles(env):
    from callcontrol.calls.control import HANDLED_EVENTS

    anna = await env.add_agent("anna", "1001")
    app = await eventually(lambda: _filter_set(env), what="the event filter")
    assert {e["type"] for e in app["events_allowed"]} == set(HANDLED_EVENTS)
    seen: list[str] = []
    env.sim.engine.listeners.append(lambda event, targets: seen.append(event["type"]))
    before = env.sim.engine.counters["events_sent"]
    sim_call = await env.place(number=MARIA, hangup_after=50)
    call_id = env.call_id_of(sim_call)
    comm = await env.completed(call_id)
    assert comm.agent_id == anna and comm.category == "answered"
    sent = env.sim.engine.counters["events_sent"] - before
    assert "ChannelVarset" in seen               # the PBX emitted them ...
    assert 0 < sent < len(seen)                  # ... the application did not get them all


async def _filter_set(env):
    app = env.sim.engine.application_json(env.calls.app)
    return app if app["events_allowed"] else None


async def test_an_ended_call_lets_its_emptied_bridge_end_the_recording(env, monkeypatch):
    """Hanging up every leg empties the bridge, which ends the recording (as Asterisk
    does): no stop request is sent, and the whole recording is kept."""
    anna = await env.add_agent("anna", "1001")
    env.sim.set_device("PJSIP/1001", answer_after=0.5, behaviour="answer")
    stops: list[str] = []
    real_stop = env.calls.ari.recordings.stop

    async def stop(name):
        stops.append(name)
        return await real_stop(name)
    monkeypatch.setattr(env.calls.ari.recordings, "stop", stop)
    sim_call = await env.place(number=MARIA, hangup_after=80)
    call_id = env.call_id_of(sim_call)
    await env.wait_call(call_id, "connected")
    comm = await env.completed(call_id)
    assert comm.agent_id == anna and env.store.path(comm.recording).is_file()
    assert abs(wav_seconds(env.store.path(comm.recording))
               - (comm.ended_at - comm.answered_at).total_seconds()) < 0.35
    assert stops == [] and not env.sim.live_recordings


async def test_a_recording_whose_bridge_does_not_empty_is_stopped(env, monkeypatch):
    """A leg that will not hang up keeps the bridge, and so the recording, going: the stop
    request then ends it, and the record still gets its file."""
    await env.add_agent("anna", "1001")
    env.sim.set_device("PJSIP/1001", answer_after=0.5, behaviour="answer")
    stops: list[str] = []
    real_stop = env.calls.ari.recordings.stop
    real_hangup = env.calls.ari.channels.hangup

    async def stop(name):
        stops.append(name)
        return await real_stop(name)

    async def hangup(channel_id, *args, **kwargs):
        if "-a" in channel_id:   # the agent's leg: the PBX refuses to hang it up
            raise ari_errors.ServerError(500, "refused", "DELETE", f"/channels/{channel_id}")
        return await real_hangup(channel_id, *args, **kwargs)
    monkeypatch.setattr(env.calls.ari.recordings, "stop", stop)
    monkeypatch.setattr(env.calls.ari.channels, "hangup", hangup)
    sim_call = await env.place(number=MARIA, hangup_after=80)
    call_id = env.call_id_of(sim_call)
    await env.wait_call(call_id, "connected")
    comm = await env.completed(call_id)
    assert stops == [comm.recording] and env.store.path(comm.recording).is_file()
