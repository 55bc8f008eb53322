"""Core call flows of the simulator, driven over real HTTP and the events websocket."""

from __future__ import annotations

import wave

from callcontrol.pbxsim import PbxSimulator
from tests.pbxsim.conftest import Ari


async def test_inbound_call_answered_bridged_recorded(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456", hangup_after=50)   # 0.5 s real
    start = await events.wait_type("StasisStart", call.stasis_channel_id)
    assert start["args"] == ["inbound", "+35722000000"]
    assert start["channel"]["state"] == "Ring"
    assert start["channel"]["caller"]["number"] == "+35799123456"
    sid = call.stasis_channel_id
    await ari.ok("POST", f"/channels/{sid}/answer")
    bridge = await ari.ok("POST", "/bridges", {"type": "mixing", "name": "call"})
    await ari.ok("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": sid})
    agent = await ari.ok("POST", "/channels", {"endpoint": "Local/1001@agents",
                                                "app": "callcontrol", "appArgs": "agent,x"})
    assert agent["name"].endswith(";1") and agent["state"] == "Down"
    started = await events.wait_type("StasisStart", agent["id"])
    assert started["args"] == ["agent", "x"] and started["channel"]["state"] == "Up"
    await ari.ok("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": agent["id"]})
    rec = await ari.ok("POST", f"/bridges/{bridge['id']}/record",
                       {"name": "call-1", "format": "wav", "ifExists": "overwrite"}, status=201)
    assert rec == {"name": "call-1", "format": "wav", "state": "queued",
                   "target_uri": f"bridge:{bridge['id']}"}
    # the caller hangs up by themselves; the inbound ;2 ends with StasisEnd, no ChannelDestroyed
    hang = await events.wait_type("ChannelHangupRequest", sid, timeout=3)
    assert hang["cause"] == 16
    await events.wait_type("StasisEnd", sid)
    await ari.ok("DELETE", f"/channels/{agent['id']}")
    destroyed = await events.wait_type("ChannelDestroyed", agent["id"])
    assert destroyed["cause"] == 16 and destroyed["cause_txt"] == "Normal Clearing"
    finished = await events.wait_type("RecordingFinished")
    assert finished["recording"]["state"] == "done"
    await ari.ok("DELETE", f"/bridges/{bridge['id']}")
    await events.wait_type("BridgeDestroyed")
    assert not [e for e in events.of("ChannelDestroyed") if e["channel"]["id"] == sid]
    assert await ari.ok("GET", "/recordings/stored/call-1") == {"name": "call-1", "format": "wav"}
    status, data = await ari.request("GET", "/recordings/stored/call-1/file")
    assert status == 200
    path = sim.stored_recordings["call-1"]
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
    assert data == path.read_bytes()
    await sim.wait_for(lambda: not sim.channels and not sim.bridges, 2)
