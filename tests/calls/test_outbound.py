"""Click-to-call: POST /api/v1/calls rings the agent, then dials the customer."""

from __future__ import annotations

import asyncio

from callcontrol.agents.states import AgentState
from tests.calls.conftest import wav_seconds

CUSTOMER = "+35799123456"


async def test_click_to_call_success(env, api):
    agent = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Maria", "99123456", CUSTOMER)
    status, body = await api.post("/api/v1/calls", agent, {"contact_id": contact})
    assert status == 201, body
    call_id = body["call_id"]
    assert body["direction"] == "outbound" and body["communication_id"]
    call = await env.wait_call(call_id, "connected", timeout=5)
    assert call.customer.id in env.sim.channels
    await env.wait_agent(agent, AgentState.ON_CALL)
    # the customer leg was dialled with the configured caller id
    assert env.sim.channels[call.customer.id].caller_number == "+35722000000"
    await asyncio.sleep(0.5)
    await env.sim.hangup(call.agent.id)
    comm = await env.completed(call_id)
    assert comm.direction == "outgoing" and comm.category == "answered"
    assert comm.contact_id == contact and comm.agent_id == agent
    assert comm.called_number == CUSTOMER and comm.caller_number == "+35722000000"
    assert comm.hangup_cause == "agent_hangup"
    talk = (comm.ended_at - comm.answered_at).total_seconds()
    assert abs(wav_seconds(env.store.path(comm.recording)) - talk) < 0.35
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_click_to_call_by_number_customer_hangs_up(env, api):
    agent = await env.add_agent("anna", "1001")
    status, body = await api.post("/api/v1/calls", agent, {"number": "99 765432"})
    assert status == 201, body
    call = await env.wait_call(body["call_id"], "connected", timeout=5)
    await env.sim.hangup(call.customer.id)
    comm = await env.completed(body["call_id"])
    assert comm.called_number == "+35799765432" and comm.hangup_cause == "customer_hangup"
    assert comm.contact_id is None


async def test_click_to_call_by_number_links_the_one_contact_who_owns_it(env, api):
    agent = await env.add_agent("anna", "1001")
    contact = await env.add_contact("Nikos", "99 765433", "+35799765433")
    shared = [await env.add_contact(n, "99 765434", "+35799765434") for n in ("A", "B")]
    status, body = await api.post("/api/v1/calls", agent, {"number": "99765433"})
    assert status == 201, body
    call = await env.wait_call(body["call_id"], "connected", timeout=5)
    await env.sim.hangup(call.customer.id)
    comm = await env.completed(body["call_id"])
    assert comm.contact_id == contact and comm.direction == "outgoing"
    await env.wait_agent(agent, AgentState.READY)
    status, body = await api.post("/api/v1/calls", agent, {"number": "+35799765434"})
    assert status == 201, body
    call = await env.wait_call(body["call_id"], "connected", timeout=5)
    await env.sim.hangup(call.customer.id)
    comm = await env.completed(body["call_id"])
    assert comm.contact_id is None and len(shared) == 2   # two own it: nobody is guessed


async def test_bad_number_is_refused_before_anything_rings(env, api):
    agent = await env.add_agent("anna", "1001")
    for body in ({"number": "not a number"}, {"number": "123"}, {},
                 {"number": "+35799123456", "contact_id": 1}, {"contact_id": "x"}):
        status, data = await api.post("/api/v1/calls", agent, body)
        assert status == 400, (body, data)
        assert data["error"] == "bad-request" and data["message"]
    status, data = await api.post("/api/v1/calls", agent, {"contact_id": 999})
    assert status == 404
    assert not env.sim.channels
    assert await env.agent_state(agent) is AgentState.READY
    assert await env.comms() == []
    status, _ = await api.post("/api/v1/calls", None, {"number": CUSTOMER})
    assert status == 401
    engineer = await env.add_user("eve", None, None, role="engineer")
    status, data = await api.post("/api/v1/calls", engineer, {"number": CUSTOMER})
    assert status == 403 and data["error"] == "forbidden"
    status, data = await api.get("/api/v1/calls", engineer)
    assert status == 200 and data == {"calls": []}
    assert not env.sim.channels


async def test_agent_does_not_answer_their_phone(env, api):
    agent = await env.add_agent("anna", "1001")
    env.sim.set_device("PJSIP/1001", behaviour="no_answer")
    status, body = await api.post("/api/v1/calls", agent, {"number": CUSTOMER})
    assert status == 201
    comm = await env.completed(body["call_id"], timeout=5)
    assert comm.category == "failed" and comm.hangup_cause == "agent_no_answer"
    assert comm.answered_at is None
    await env.wait_agent(agent, AgentState.READY)


async def test_customer_never_answers(env, api):
    agent = await env.add_agent("anna", "1001")
    status, body = await api.post("/api/v1/calls", agent, {"number": "+35799000099"})
    assert status == 201
    comm = await env.completed(body["call_id"], timeout=8)
    assert comm.category == "failed" and comm.hangup_cause == "customer_no_answer"
    assert comm.recording is None
    assert not [c for c in env.sim.channels if c.startswith(body["call_id"])]
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_customer_busy_or_unreachable(tmp_path):
    from tests.calls.conftest import call_env

    # the customer's line through the trunk dial string of the configuration
    async with call_env(tmp_path, customer_endpoint="PJSIP/{number}") as env:
        agent = await env.add_agent("anna", "1001")
        env.sim.set_device("PJSIP/+35799555555", behaviour="busy")
        env.sim.set_device("PJSIP/+35799666666", behaviour="congestion")
        call = await env.calls.originate(agent, number="+35799555555")
        comm = await env.completed(call["call_id"], timeout=5)
        assert comm.category == "failed" and comm.hangup_cause == "customer_busy"
        await env.wait_agent(agent, AgentState.READY, timeout=3)
        call = await env.calls.originate(agent, number="+35799666666")
        comm = await env.completed(call["call_id"], timeout=5)
        assert comm.hangup_cause == "customer_unreachable"


async def test_click_to_call_refused_while_on_a_call(env, api):
    agent = await env.add_agent("anna", "1001")
    status, body = await api.post("/api/v1/calls", agent, {"number": CUSTOMER})
    assert status == 201
    await env.wait_call(body["call_id"], "connected")
    status, data = await api.post("/api/v1/calls", agent, {"number": "+35799765432"})
    assert status == 409 and "already on a call" in data["message"]


async def test_agent_cancels_while_the_customer_rings(env, api):
    agent = await env.add_agent("anna", "1001")
    status, body = await api.post("/api/v1/calls", agent, {"number": "+35799000099"})
    assert status == 201
    call_id = body["call_id"]
    await env.wait_call(call_id, "dialing")
    status, data = await api.post(f"/api/v1/calls/{call_id}/hold", agent)
    assert status == 409                      # nothing to hold yet
    status, data = await api.post(f"/api/v1/calls/{call_id}/hangup", agent)
    assert status == 200
    comm = await env.completed(call_id)
    assert comm.category == "failed" and comm.hangup_cause == "agent_cancelled"
    assert not [c for c in env.sim.channels if c.startswith(call_id)]
    await env.saw_state(agent, AgentState.WRAP_UP)


async def test_agent_device_unreachable(env, api):
    agent = await env.add_agent("anna", "1001", device="PJSIP/no-such-phone")
    status, body = await api.post("/api/v1/calls", agent, {"number": CUSTOMER})
    assert status == 201
    assert body["state"] == "ended" and body["outcome"] == "failed"
    assert body["hangup_cause"] == "agent_unreachable"
    comm = await env.completed(body["call_id"])
    assert comm.category == "failed" and comm.hangup_cause == "agent_unreachable"
    await env.wait_agent(agent, AgentState.READY)
