"""Mid-call controls through the API: hold, mute, recording pause, transfer, supervise."""

from __future__ import annotations

import asyncio

from callcontrol.agents.states import AgentState
from tests.calls.conftest import eventually, wav_seconds

MARIA = "+35799123456"


async def _connected(env, agent_ext="1001"):
    sim_call = await env.place(number=MARIA)
    call_id = env.call_id_of(sim_call)
    call = await env.wait_call(call_id, "connected")
    return sim_call, call_id, call


async def test_hold_and_mute_are_remembered_and_authorised(env, api):
    agent = await env.add_agent("anna", "1001")
    other = await env.add_agent("bob", "1002", ready=False)
    sim_call, call_id, call = await _connected(env)
    base = f"/api/v1/calls/{call_id}"

    status, data = await api.post(f"{base}/hold", other)
    assert status == 403 and data["error"] == "forbidden"
    status, data = await api.post(f"{base}/unhold", agent)
    assert status == 409
    status, data = await api.post(f"{base}/hold", agent)
    assert status == 200 and data["held"] is True
    sim_customer = env.sim.channels[call.customer.id]
    assert _flag(sim_customer, "moh") and _flag(sim_customer, "hold")
    status, _ = await api.post(f"{base}/hold", agent)
    assert status == 409
    status, data = await api.post(f"{base}/unhold", agent)
    assert status == 200 and data["held"] is False
    assert not _flag(sim_customer, "moh")

    status, data = await api.post(f"{base}/mute", agent)
    assert status == 200 and data["muted"] is True
    assert _flag(env.sim.channels[call.agent.id], "mute")
    status, _ = await api.post(f"{base}/mute", agent)
    assert status == 409
    status, data = await api.post(f"{base}/unmute", agent)
    assert status == 200 and data["muted"] is False

    status, data = await api.get(base, agent)
    assert status == 200 and data["state"] == "connected" and data["agent_id"] == agent
    status, _ = await api.get(base, other)
    assert status == 403
    status, _ = await api.post("/api/v1/calls/nope/hold", agent)
    assert status == 404
    status, _ = await api.post(f"{base}/hangup", other)
    assert status == 403
    status, data = await api.post(f"{base}/hangup", agent)
    assert status == 200
    comm = await env.completed(call_id)
    assert comm.hangup_cause == "agent_hangup"
    status, _ = await api.post(f"{base}/hold", agent)
    assert status == 409   # ended


async def test_recording_pause_and_resume_for_card_payments(env, api):
    agent = await env.add_agent("anna", "1001")
    sim_call, call_id, call = await _connected(env)
    base = f"/api/v1/calls/{call_id}/recording"
    status, _ = await api.post(f"{base}/resume", agent)
    assert status == 409
    await asyncio.sleep(0.3)
    status, data = await api.post(f"{base}/pause", agent)
    assert status == 200 and data["recording"] == "paused"
    status, _ = await api.post(f"{base}/pause", agent)
    assert status == 409
    await asyncio.sleep(0.6)
    status, data = await api.post(f"{base}/resume", agent)
    assert status == 200 and data["recording"] == "recording"
    await asyncio.sleep(0.3)
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    [pause] = comm.recording_pauses
    assert pause["start"] < pause["end"]
    talk = (comm.ended_at - comm.answered_at).total_seconds()
    recorded = wav_seconds(env.store.path(comm.recording))
    # the paused interval is left out of the file
    assert talk - 0.9 < recorded < talk - 0.35, (recorded, talk)


async def test_blind_transfer_to_another_agent(env, api):
    first = await env.add_agent("anna", "1001")
    second = await env.add_agent("bob", "1002", ready=False)
    sim_call, call_id, call = await _connected(env)
    base = f"/api/v1/calls/{call_id}"
    status, data = await api.post(f"{base}/transfer", first, {"extension": "1002"})
    assert status == 409 and "not ready" in data["message"]
    status, _ = await api.post(f"{base}/transfer", first, {"extension": "12; rm"})
    assert status == 400
    await env.agents.set_state(second, AgentState.READY)
    status, _ = await api.post(f"{base}/transfer", second, {"extension": "1002"})
    assert status == 403
    status, data = await api.post(f"{base}/transfer", first, {"extension": "1002"})
    assert status == 200, data
    await eventually(lambda: call.agent_id == second and call.phase.value == "connected",
                     what="second agent connected")
    await env.saw_state(first, AgentState.WRAP_UP)
    await env.wait_agent(second, AgentState.ON_CALL)
    # the first agent can no longer control the call; the second can
    status, _ = await api.post(f"{base}/hold", first)
    assert status == 403
    status, _ = await api.post(f"{base}/hold", second)
    assert status == 200
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.agent_id == first
    [transfer] = comm.transfers
    assert transfer["from_agent_id"] == first and transfer["to_agent_id"] == second
    assert transfer["to_extension"] == "1002" and transfer["outcome"] == "answered"
    # one recording for the whole call, the transfer included
    talk = (comm.ended_at - comm.answered_at).total_seconds()
    assert abs(wav_seconds(env.store.path(comm.recording)) - talk) < 0.35
    await env.saw_state(second, AgentState.WRAP_UP)


async def test_supervisor_listens_then_whispers(env, api):
    agent = await env.add_agent("anna", "1001")
    boss = await env.add_user("boss", "1009", "PJSIP/1009", role="supervisor")
    sim_call, call_id, call = await _connected(env)
    base = f"/api/v1/calls/{call_id}"
    status, _ = await api.post(f"{base}/supervise", agent, {"mode": "listen"})
    assert status == 403
    status, data = await api.post(f"{base}/supervise", boss, {"mode": "listen"})
    assert status == 200, data
    await eventually(lambda: call.supervisor and call.supervisor["state"] == "connected",
                     what="supervisor connected")
    sv_bridge = env.sim.bridges[call.supervisor["bridge_id"]]
    assert {c.id for c in sv_bridge.channels} == {call.supervisor["snoop"],
                                                 call.supervisor["leg"]}
    status, _ = await api.post(f"{base}/supervise", boss, {"mode": "whisper"})
    assert status == 409
    status, _ = await api.get(base, boss)
    assert status == 200
    status, _ = await api.post(f"{base}/unsupervise", boss)
    assert status == 200
    await eventually(lambda: not [c for c in env.sim.channels if "-v" in c or "-s" in c],
                     what="supervision legs gone")
    status, data = await api.post(f"{base}/supervise", boss, {"mode": "whisper"})
    assert status == 200 and data["supervisor"]["mode"] == "whisper"
    await env.sim.hangup(sim_call.stasis_channel_id)
    await env.completed(call_id)
    await eventually(lambda: not [c for c in env.sim.channels if c.startswith(call_id)],
                     what="everything hung up")


def _flag(channel, name):
    """What the simulator remembers of hold / moh / mute on a channel (no events report it)."""
    return {"hold": channel.held, "moh": channel.moh_class is not None,
            "mute": bool(channel.muted)}[name]


async def test_transfer_target_does_not_answer_and_the_call_returns_to_the_queue(env, api):
    first = await env.add_agent("anna", "1001")
    target = await env.add_agent("bob", "1002")
    env.sim.set_device("PJSIP/1002", behaviour="no_answer")
    sim_call, call_id, call = await _connected(env)
    status, data = await api.post(f"/api/v1/calls/{call_id}/transfer", first,
                                  {"extension": "1002"})
    assert status == 200 and data["state"] == "ringing"
    # bob lets it ring out; anna, back from wrap-up, gets the caller again
    await eventually(lambda: call.transfers[-1]["outcome"] == "no_answer", what="RONA")
    await eventually(lambda: call.phase.value == "connected" and call.agent_id == first,
                     timeout=5, what="back with anna")
    await env.wait_agent(target, AgentState.NOT_READY)
    status = await env.agents.get(target)
    assert status.state is AgentState.NOT_READY and status.reason == "no answer"
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.transfers[0]["outcome"] == "no_answer" and comm.agent_id == first
    assert env.store.path(comm.recording).is_file()


async def test_control_requests_are_validated(env, api):
    agent = await env.add_agent("anna", "1001")
    boss = await env.add_user("boss", "1009", "PJSIP/1009", role="supervisor")
    sim_call, call_id, call = await _connected(env)
    base = f"/api/v1/calls/{call_id}"
    resp = await api.client.post(f"{base}/transfer", data=b"{not json",
                                 headers={"Authorization": f"Bearer {await api.token(agent)}",
                                          "Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["error"] == "bad-request"
    status, _ = await api.post(f"{base}/transfer", agent, ["1002"])
    assert status == 400
    status, _ = await api.post(f"{base}/transfer", agent, {"extension": 1002})
    assert status == 400
    status, _ = await api.post(f"{base}/supervise", boss, {"mode": "barge"})
    assert status == 400
    status, _ = await api.post(f"{base}/explode", agent)
    assert status == 404
    status, _ = await api.post(f"{base}/hold", None)
    assert status == 401
    assert call.phase.value == "connected" and not call.held
    await env.sim.hangup(sim_call.stasis_channel_id)
    await env.completed(call_id)


async def test_supervisor_device_unreachable(env, api):
    await env.add_agent("anna", "1001")
    boss = await env.add_user("boss", "1009", "PJSIP/no-such-phone", role="supervisor")
    sim_call, call_id, call = await _connected(env)
    status, data = await api.post(f"/api/v1/calls/{call_id}/supervise", boss, {"mode": "listen"})
    assert status == 409 and "could not reach your device" in data["message"]
    assert call.supervisor is None and call.phase.value == "connected"
    await eventually(lambda: not [c for c in env.sim.channels if "-s" in c[len(call_id):]],
                     what="snoop channel gone")
    await env.sim.hangup(sim_call.stasis_channel_id)
    comm = await env.completed(call_id)
    assert comm.hangup_cause == "caller_hangup"
