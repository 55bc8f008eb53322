"""callcontrol.calls.setup wired into the real app with the desk: the API, healthz, metrics."""

from __future__ import annotations

import dataclasses

from callcontrol.agents.states import AgentState
from callcontrol.crm.models import User
from callcontrol.crm.users import create_api_token, create_user
from tests.calls.conftest import call_env, eventually, make_config


async def test_setup_runs_call_control_inside_the_app(tmp_path, aiohttp_client):
    from callcontrol import calls, desk
    from callcontrol.app import ARI_STATE, build_app
    from callcontrol.crm.migrate import upgrade_async
    from callcontrol.desk.keys import AGENTS
    from callcontrol.pbxsim import PbxSimulator

    sim = PbxSimulator(recordings_dir=tmp_path / "pbx", time_scale=0.01)
    await sim.start()
    try:
        db_url = f"sqlite+aiosqlite:///{tmp_path / 'app.db'}"
        await upgrade_async(db_url)
        config = make_config(tmp_path, sim.url, db_url)
        app = build_app(config, setups=[desk.setup, calls.setup])
        client = await aiohttp_client(app)
        control = app[calls.CALLS]
        assert app[ARI_STATE] is control
        await control.stream.wait_connected(5)
        resp = await client.get("/healthz")
        assert (await resp.json())["checks"]["ari"] == {"configured": True, "connected": True}

        from callcontrol.web.auth import SESSIONS
        async with app[SESSIONS]() as session, session.begin():
            user = await create_user(session, "anna", "secret-password-1", "agent",
                                     extension="1001", device="PJSIP/1001")
            token = await create_api_token(session, await session.get(User, user.id))
        await app[AGENTS].cti_login(user.id)
        headers = {"Authorization": f"Bearer {token}"}
        resp = await client.post("/api/v1/calls", json={"number": "+35799123456"},
                                 headers=headers)
        body = await resp.json()
        assert resp.status == 201, body
        call_id = body["call_id"]
        await eventually(lambda: control.calls.get(call_id) and
                         control.calls[call_id].phase.value == "connected", what="connected")
        resp = await client.get("/api/v1/calls", headers=headers)
        assert [c["call_id"] for c in (await resp.json())["calls"]] == [call_id]
        resp = await client.post(f"/api/v1/calls/{call_id}/hangup", headers=headers)
        assert resp.status == 200
        await eventually(lambda: call_id not in control.calls, what="call over")
        metrics = await (await client.get("/metrics")).text()
        assert 'callcontrol_calls_total{direction="outbound",outcome="answered"} 1' in metrics
        assert "callcontrol_calls_active 0" in metrics
        resp = await client.post("/api/v1/calls", json=["x"], headers=headers)
        assert resp.status == 400
        resp = await client.post(f"/api/v1/calls/{call_id}/hold", headers=headers)
        assert resp.status == 409
    finally:
        await sim.close()


async def test_two_instances_never_ring_one_agent_for_two_calls(tmp_path):
    from callcontrol.agents.service import AgentService

    async with call_env(tmp_path, queue_max_wait=10.0) as env:
        agent = await env.add_agent("anna", "1001")
        env.sim.set_device("PJSIP/1001", answer_after=0.5, hangup_after=30)
        # a second process: its own application name and agent service, same database
        other_config = dataclasses.replace(
            env.config, ari=dataclasses.replace(env.config.ari, app="callcontrol-b"))
        other_agents = AgentService(env.sessions, env.bus, None, wrapup_seconds=0.05)
        other = env.new_control(config=other_config)
        other.agents = other_agents
        await other.start()
        try:
            await other.stream.wait_connected(5)
            first = await env.place(number="+35799000001", hangup_after=1000)
            env.sim.engine.stasis_app = "callcontrol-b"   # the next caller goes to instance B
            second = await env.place(number="+35799000002", hangup_after=1000)
            env.sim.engine.stasis_app = "callcontrol"
            ids = (f"callcontrol:{first.stasis_channel_id}",
                   f"callcontrol-b:{second.stasis_channel_id}")
            ringing_both = []

            def check() -> bool:
                a = env.calls.calls.get(ids[0])
                b = other.calls.get(ids[1])
                busy = [c for c in (a, b) if c is not None and
                        c.phase.value in ("ringing", "connected")]
                if len(busy) > 1:
                    ringing_both.append(True)
                return a is None and b is None
            await eventually(check, timeout=10, what="both calls over")
            assert not ringing_both
            comms = [await env.completed(i) for i in ids]
            assert [c.agent_id for c in comms] == [agent, agent]
            spans = sorted((c.answered_at, c.ended_at) for c in comms)
            assert spans[1][0] >= spans[0][1]
            # the agent's own state change is written after the call's record: wait for it
            async def released() -> bool:
                return await env.agent_state(agent) in (AgentState.WRAP_UP, AgentState.READY)
            await eventually(released, timeout=5, what="agent released after both calls")
        finally:
            await other.close()
            await other_agents.close()
