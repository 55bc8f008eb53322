"""The lab dialplan, PJSIP agent phones and the smaller ARI resources, over the wire."""

from __future__ import annotations

import asyncio

from callcontrol.pbxsim import PbxSimulator
from tests.pbxsim.conftest import Ari, Events


async def _originate(ari: Ari, endpoint: str, **extra: str) -> dict:
    return await ari.ok("POST", "/channels", {"endpoint": endpoint, "app": "callcontrol",
                                              **extra})


def _of(events: Events, cid: str) -> list[str]:
    return [e["type"] for e in events.items if (e.get("channel") or {}).get("id") == cid]


async def test_lab_agents_busy_congestion_and_unknown(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    busy = await _originate(ari, "Local/1098@agents")
    dial = await events.wait(lambda e: e["type"] == "Dial" and e["dialstatus"] == "BUSY")
    assert dial["peer"]["id"] == busy["id"]
    gone = await events.wait_type("ChannelDestroyed", busy["id"])
    assert gone["cause"] == 0                                 # README lesson 6
    cong = await _originate(ari, "Local/1097@agents")
    await events.wait(lambda e: e["type"] == "Dial" and e["dialstatus"] == "CONGESTION")
    assert (await events.wait_type("ChannelDestroyed", cong["id"]))["cause"] == 34
    nobody = await _originate(ari, "Local/4444@agents")
    await events.wait(lambda e: e["type"] == "Dial" and e["dialstatus"] == "CHANUNAVAIL")
    await events.wait_type("ChannelDestroyed", nobody["id"])
    assert "StasisStart" not in events.types()
    await sim.wait_for(lambda: not sim.channels, 1)


async def test_originate_timeout_and_ringing_agent(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    ring = await _originate(ari, "Local/1099@agents", timeout="2")      # 0.02 s real
    ringing = await events.wait_type("ChannelStateChange", ring["id"])
    assert ringing["channel"]["state"] == "Ringing"
    gone = await events.wait_type("ChannelDestroyed", ring["id"])
    assert (gone["cause"], gone["cause_txt"]) == (19, "User alerting, no answer")
    assert not [e for e in events.of("Dial") if e["dialstatus"] == "NOANSWER"]
    # timeout=-1: no timeout at all (the agent rings on)
    endless = await _originate(ari, "Local/1099@agents", timeout="-1")
    await asyncio.sleep(0.4)                       # 40 s simulated, past the 30 s default
    assert endless["id"] in sim.channels
    await ari.ok("DELETE", f"/channels/{endless['id']}")
    # 1006 rings 3 s (scaled) and then answers into Stasis
    late = await _originate(ari, "Local/1006@agents", appArgs="agent,b1")
    start = await events.wait_type("StasisStart", late["id"])
    assert start["args"] == ["agent", "b1"]
    statuses = [e["dialstatus"] for e in events.of("Dial") if e["peer"]["id"] == late["id"]]
    assert statuses == ["", "RINGING", "ANSWER"]
    # hanging up an agent that still rings gives Dial NOANSWER then cause 16
    ring2 = await _originate(ari, "Local/1099@agents")
    await events.wait_type("ChannelStateChange", ring2["id"])
    await ari.ok("DELETE", f"/channels/{ring2['id']}")
    assert (await events.wait_type("ChannelDestroyed", ring2["id"]))["cause"] == 16
    assert [e["dialstatus"] for e in events.of("Dial") if e["peer"]["id"] == ring2["id"]][-1] \
        == "NOANSWER"


async def test_agent_1007_and_caller_dtmf(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    agent = await _originate(ari, "Local/1007@agents")
    await events.wait_type("StasisStart", agent["id"])
    await events.wait_type("ChannelDtmfReceived", agent["id"], digit="#")
    digits = [e["digit"] for e in events.of("ChannelDtmfReceived")]
    assert "".join(digits) == "1234#"
    call = await sim.place_call(number="+35799123456", extension="caller-dtmf")
    await events.wait_type("StasisStart", call.stasis_channel_id)
    await ari.ok("POST", f"/channels/{call.stasis_channel_id}/answer")
    await events.wait_type("ChannelDtmfReceived", call.stasis_channel_id, digit="#", timeout=3)
    got = [e["digit"] for e in events.of("ChannelDtmfReceived")
           if e["channel"]["id"] == call.stasis_channel_id]
    assert got == list("1234#")


async def test_pjsip_devices(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    sim.set_device("PJSIP/1001", answer_after=1, hangup_after=5, dtmf="9")
    ch = await _originate(ari, "PJSIP/1001", appArgs="agent")
    assert ch["name"].startswith("PJSIP/1001-") and ch["state"] == "Down"
    await events.wait_type("StasisStart", ch["id"])
    await events.wait_type("ChannelDtmfReceived", ch["id"], digit="9")
    hang = await events.wait_type("ChannelHangupRequest", ch["id"])
    assert "cause" not in hang                                 # a BYE carries no cause
    assert (await events.wait_type("ChannelDestroyed", ch["id"]))["cause"] == 16
    kinds = [k for k in _of(events, ch["id"]) if k != "ChannelVarset"]
    assert kinds[:3] == ["ChannelStateChange", "ChannelStateChange", "StasisStart"]
    for behaviour, status, cause in (("busy", "BUSY", 17), ("congestion", "CONGESTION", 34),
                                     ("reject", "BUSY", 21)):
        sim.set_device("PJSIP/1002", behaviour=behaviour)
        other = await _originate(ari, "PJSIP/1002")
        gone = await events.wait_type("ChannelDestroyed", other["id"])
        assert gone["cause"] == cause
        assert [e["dialstatus"] for e in events.of("Dial")
                if e["peer"]["id"] == other["id"]][-1] == status
    sim.set_device("PJSIP/1003", behaviour="no_answer")
    silent = await _originate(ari, "PJSIP/1003", timeout="3")
    assert (await events.wait_type("ChannelDestroyed", silent["id"]))["cause"] == 19
    assert (await ari.request("POST", "/channels", {"endpoint": "PJSIP/no-such-endpoint",
                                                    "app": "callcontrol"}))[0] == 500
    endpoint = await ari.ok("GET", "/endpoints/PJSIP/1001")
    assert endpoint == {"technology": "PJSIP", "resource": "1001", "state": "online",
                        "channel_ids": []}
    assert (await ari.request("GET", "/endpoints/PJSIP/nope"))[0] == 404
    assert len(await ari.ok("GET", "/endpoints")) >= 3


async def test_sip_phone_calling_in_and_cancelling(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="sipp", name="sipp", technology="PJSIP",
                                dialled="35722000000", give_up_after=4)
    assert call.caller_channel_id == call.stasis_channel_id
    start = await events.wait_type("StasisStart", call.stasis_channel_id)
    assert start["channel"]["name"].startswith("PJSIP/sipp-")
    assert start["args"] == ["inbound", "35722000000"]
    assert start["channel"]["dialplan"]["priority"] == 2
    await ari.ok("POST", f"/channels/{call.stasis_channel_id}/ring")
    hang = await events.wait_type("ChannelHangupRequest", call.stasis_channel_id)
    assert (hang["cause"], hang["tech_cause"]) == (127, 487)    # CANCEL
    await events.wait_type("StasisEnd", call.stasis_channel_id)
    assert sim.counters["calls_abandoned"] == 1
    # a Local caller nobody answers gives up at the originate timeout (cause 19)
    local = await sim.place_call(number="+35799000003", give_up_after=2)
    hang = await events.wait_type("ChannelHangupRequest", local.stasis_channel_id)
    assert hang["cause"] == 19
    assert sim.counters["calls_abandoned"] == 2


async def test_create_dial_snoop_continue(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    made = await ari.ok("POST", "/channels/create", {"endpoint": "Local/1099@agents",
                                                     "app": "callcontrol"})
    await events.wait_type("StasisStart", made["id"])
    await ari.ok("POST", f"/channels/{made['id']}/dial", {"timeout": "2"})
    hang = await events.wait_type("ChannelHangupRequest", made["id"])
    assert hang["cause"] == 19
    await events.wait_type("StasisEnd", made["id"])
    # snoop
    call = await sim.place_call(number="+35799123456")
    sid = call.stasis_channel_id
    await events.wait_type("StasisStart", sid)
    await ari.ok("POST", f"/channels/{sid}/answer")
    snoop = await ari.ok("POST", f"/channels/{sid}/snoop",
                         {"spy": "both", "app": "callcontrol", "appArgs": "snoop"})
    assert snoop["name"].startswith(f"Snoop/{sid}-") and snoop["state"] == "Up"
    assert (await events.wait_type("StasisStart", snoop["id"]))["args"] == ["snoop"]
    assert (await ari.request("POST", f"/channels/{sid}/snoop",
                              {"spy": "sideways", "app": "callcontrol"}))[0] == 400
    await ari.ok("DELETE", f"/channels/{snoop['id']}")
    await events.wait_type("StasisEnd", snoop["id"])
    # continue: the channel leaves Stasis and the dialplan hangs it up
    await ari.ok("POST", f"/channels/{sid}/continue", {"context": "nowhere",
                                                        "extension": "s"})
    await events.wait_type("StasisEnd", sid)
    await sim.wait_for(lambda: sid not in sim.channels, 1)
    assert (await ari.request("POST", f"/channels/{made['id']}/dial"))[0] == 404


async def test_playbacks(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456")
    sid = call.stasis_channel_id
    await events.wait_type("StasisStart", sid)
    pb = await ari.ok("POST", f"/channels/{sid}/play", {"media": "sound:hello-world"},
                      status=201)
    assert pb["state"] == "queued" and pb["target_uri"] == f"channel:{sid}"
    done = await events.wait(lambda e: e["type"] == "PlaybackFinished"
                             and e["playback"]["id"] == pb["id"])
    assert done["playback"]["state"] == "done"
    missing = await ari.ok("POST", f"/channels/{sid}/play", {"media": "sound:nope"},
                           status=201)
    failed = await events.wait(lambda e: e["type"] == "PlaybackFinished"
                               and e["playback"]["id"] == missing["id"])
    assert failed["playback"]["state"] == "failed"
    listed = await ari.ok("POST", f"/channels/{sid}/play/pl-1",
                          {"media": "digits:42,sound:beep"}, status=201)
    assert listed["next_media_uri"] == "sound:beep"
    await events.wait(lambda e: e["type"] == "PlaybackFinished"
                      and e["playback"]["id"] == "pl-1")
    kinds = [e["type"] for e in events.items if (e.get("playback") or {}).get("id") == "pl-1"]
    assert kinds == ["PlaybackStarted", "PlaybackContinuing", "PlaybackStarted",
                     "PlaybackFinished"]
    tone = await ari.ok("POST", f"/channels/{sid}/play", {"media": "tone:ring"}, status=201)
    await events.wait(lambda e: e["type"] == "PlaybackStarted"
                      and e["playback"]["id"] == tone["id"])
    await ari.ok("POST", f"/playbacks/{tone['id']}/control", {"operation": "pause"})
    assert (await ari.ok("GET", f"/playbacks/{tone['id']}"))["state"] == "paused"
    assert (await ari.request("POST", f"/playbacks/{tone['id']}/control",
                              {"operation": "dance"}))[0] == 400
    await ari.ok("POST", f"/playbacks/{tone['id']}/control", {"operation": "unpause"})
    await ari.ok("DELETE", f"/playbacks/{tone['id']}")
    assert (await ari.request("GET", f"/playbacks/{tone['id']}"))[0] == 404
    assert (await ari.request("POST", f"/channels/{sid}/play"))[0] == 500
    # one playback at a time per channel: the second waits for the first
    first = await ari.ok("POST", f"/channels/{sid}/play", {"media": "sound:beep"}, status=201)
    second = await ari.ok("POST", f"/channels/{sid}/play", {"media": "sound:beep"},
                          status=201)
    await events.wait(lambda e: e["type"] == "PlaybackFinished"
                      and e["playback"]["id"] == second["id"])
    order = [(e["type"], e["playback"]["id"]) for e in events.items
             if (e.get("playback") or {}).get("id") in (first["id"], second["id"])]
    assert order == [("PlaybackStarted", first["id"]), ("PlaybackFinished", first["id"]),
                     ("PlaybackStarted", second["id"]), ("PlaybackFinished", second["id"])]
    assert await ari.ok("GET", "/sounds/beep") == {
        "id": "beep", "formats": [{"language": "en", "format": "gsm"}]}


async def test_variables_hold_mute_moh_are_state_not_events(sim: PbxSimulator,
                                                            ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456", name="Maria")
    sid = call.stasis_channel_id
    await events.wait_type("StasisStart", sid)
    await ari.ok("POST", f"/channels/{sid}/variable", {"variable": "X", "value": "1"})
    assert (await events.wait_type("ChannelVarset", sid, variable="X"))["value"] == "1"
    assert await ari.ok("GET", f"/channels/{sid}/variable", {"variable": "X"}) == {"value": "1"}
    assert await ari.ok("GET", f"/channels/{sid}/variable",
                        {"variable": "CALLERID(num)"}) == {"value": "+35799123456"}
    assert (await ari.request("GET", f"/channels/{sid}/variable", {"variable": "NOPE"}))[0] \
        == 404
    await ari.ok("POST", f"/channels/{sid}/dtmf", {"dtmf": "9*", "between": "100"})
    assert sim.channels[sid].dtmf_sent == ["9*"]
    before = len(events.items)
    await ari.ok("POST", f"/channels/{sid}/hold")
    await ari.ok("POST", f"/channels/{sid}/mute", {"direction": "in"})
    await ari.ok("POST", f"/channels/{sid}/moh", {"mohClass": "default"})
    ch = sim.channels[sid]
    assert ch.held and ch.muted == {"in"} and ch.moh_class == "default"
    await ari.ok("DELETE", f"/channels/{sid}/hold")
    await ari.ok("DELETE", f"/channels/{sid}/mute", {"direction": "both"})
    await ari.ok("DELETE", f"/channels/{sid}/moh")
    assert not ch.held and not ch.muted and ch.moh_class is None
    assert (await ari.request("POST", f"/channels/{sid}/mute", {"direction": "up"}))[0] == 400
    assert len(events.items) == before                         # README lesson 10


async def test_applications_device_states_asterisk(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    app = await ari.ok("GET", "/applications/callcontrol")
    assert app["name"] == "callcontrol" and app["channel_ids"] == []
    assert (await ari.request("GET", "/applications/nope"))[0] == 404
    await ari.ok("POST", "/applications/callcontrol/subscription",
                 {"eventSource": "deviceState:Stasis:agent-7"})
    await ari.ok("PUT", "/deviceStates/Stasis:agent-7", {"deviceState": "INUSE"})
    changed = await events.wait_type("DeviceStateChanged")
    assert changed["device_state"] == {"name": "Stasis:agent-7", "state": "INUSE"}
    assert await ari.ok("GET", "/deviceStates/Stasis:agent-7") == {
        "name": "Stasis:agent-7", "state": "INUSE"}
    assert (await ari.request("PUT", "/deviceStates/PJSIP/1001",
                              {"deviceState": "INUSE"}))[0] in (404, 409)
    assert (await ari.request("PUT", "/deviceStates/Stasis:x", {"deviceState": "HAPPY"}))[0] \
        == 400
    await ari.ok("DELETE", "/deviceStates/Stasis:agent-7")
    assert (await ari.request("POST", "/applications/callcontrol/subscription",
                              {"eventSource": "channel:nope"}))[0] == 422
    assert (await ari.request("POST", "/applications/callcontrol/subscription",
                              {"eventSource": "weird:1"}))[0] == 400
    info = await ari.ok("GET", "/asterisk/info")
    assert info["system"]["entity_id"] == sim.engine.asterisk_id
    assert (await ari.ok("GET", "/asterisk/ping"))["ping"] == "pong"
    assert await ari.ok("GET", "/asterisk/info", {"only": "build"}) == {"build": info["build"]}
    await ari.ok("PUT", "/asterisk/modules/res_pjsip.so")
    assert (await ari.request("PUT", "/asterisk/modules/nope.so"))[0] == 404
    await ari.ok("POST", "/asterisk/variable", {"variable": "G", "value": "v"})
    assert await ari.ok("GET", "/asterisk/variable", {"variable": "G"}) == {"value": "v"}


async def test_endpoint_and_device_state_events_for_subscribers(sim: PbxSimulator,
                                                                ari: Ari) -> None:
    events = await ari.events()
    await ari.ok("POST", "/applications/callcontrol/subscription",
                 {"eventSource": "endpoint:PJSIP/1002,deviceState:PJSIP/1002"})
    ch = await _originate(ari, "PJSIP/1002")
    busy = await events.wait_type("EndpointStateChange")
    assert busy["endpoint"]["resource"] == "1002" and busy["endpoint"]["channel_ids"] == [ch["id"]]
    assert (await events.wait_type("DeviceStateChanged"))["device_state"] == {
        "name": "PJSIP/1002", "state": "INUSE"}
    assert (await ari.ok("GET", "/deviceStates/PJSIP%2F1002"))["state"] == "INUSE"
    await events.wait_type("StasisStart", ch["id"])
    await ari.ok("DELETE", f"/channels/{ch['id']}")
    await events.wait(lambda e: e["type"] == "EndpointStateChange"
                      and e["endpoint"]["channel_ids"] == [])
    await events.wait(lambda e: e["type"] == "DeviceStateChanged"
                      and e["device_state"]["state"] == "NOT_INUSE")
    # an app not subscribed to the endpoint hears nothing about it
    other = await ari.events("other")
    await _originate(ari, "PJSIP/1003")
    await sim.wait_for(lambda: len(sim.channels) == 1, 1)
    assert "EndpointStateChange" not in other.types()


async def test_ids_reasons_redirect_continue_and_listings(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    # originate and bridge creation with caller-chosen ids
    mine = await ari.ok("POST", "/channels/agent-leg-1", {"endpoint": "Local/1001@agents",
                                                         "app": "callcontrol"})
    assert mine["id"] == "agent-leg-1"
    assert (await ari.request("POST", "/channels/agent-leg-1",
                              {"endpoint": "Local/1001@agents", "app": "callcontrol"}))[0] == 409
    bridge = await ari.ok("POST", "/bridges/br-1", {"type": "mixing,dtmf_events", "name": "b"})
    assert bridge["id"] == "br-1" and bridge["bridge_type"] == "mixing"
    assert [b["id"] for b in await ari.ok("GET", "/bridges")] == ["br-1"]
    await events.wait_type("StasisStart", "agent-leg-1")
    # hang-up reasons become the destroy cause (the request itself is cause 32, soft)
    await ari.ok("DELETE", "/channels/agent-leg-1", {"reason": "busy"})
    hang = await events.wait_type("ChannelHangupRequest", "agent-leg-1")
    assert (hang["cause"], hang["soft"]) == (32, True)
    assert (await events.wait_type("ChannelDestroyed", "agent-leg-1"))["cause"] == 17
    other = await _originate(ari, "Local/1002@agents")
    await events.wait_type("StasisStart", other["id"])
    await ari.ok("DELETE", f"/channels/{other['id']}", {"reason_code": "21"})
    assert (await events.wait_type("ChannelDestroyed", other["id"]))["cause"] == 21
    # a PJSIP phone can be redirected (it leaves), a Local channel cannot
    phone = await _originate(ari, "PJSIP/1001")
    await events.wait_type("StasisStart", phone["id"])
    await ari.ok("POST", f"/channels/{phone['id']}/redirect", {"endpoint": "PJSIP/1002"})
    await events.wait_type("StasisEnd", phone["id"])
    caller = await sim.place_call(number="+35799123456")
    sid = caller.stasis_channel_id
    await events.wait_type("StasisStart", sid)
    assert (await ari.request("POST", f"/channels/{sid}/redirect",
                              {"endpoint": "PJSIP/1002"}))[0] == 422
    # continue back into from-pstn re-enters the Stasis application
    await ari.ok("POST", f"/channels/{sid}/continue",
                 {"context": "from-pstn", "extension": "+35722000000", "priority": "1"})
    await events.wait_type("StasisEnd", sid)
    await events.wait(lambda e: e["type"] == "StasisStart" and e["channel"]["id"] == sid
                      and len([x for x in events.of("StasisStart")
                               if x["channel"]["id"] == sid]) == 2)
    # listings
    apps = await ari.ok("GET", "/applications")
    assert [a["name"] for a in apps] == ["callcontrol"] and sid in apps[0]["channel_ids"]
    assert len(await ari.ok("GET", "/endpoints/PJSIP")) >= 3
    assert (await ari.request("GET", "/endpoints/IAX2"))[0] == 404
    modules = await ari.ok("GET", "/asterisk/modules")
    assert {"res_ari.so", "res_stasis.so"} <= {m["name"] for m in modules}
    assert (await ari.ok("GET", "/asterisk/modules/res_ari.so"))["status"] == "Running"
    assert (await ari.request("DELETE", f"/channels/{sid}", {"reason": "nonsense"}))[0] == 400
