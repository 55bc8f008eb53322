"""Auth, the /sim control API, subscribeAll, websocket drops and restarts."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from callcontrol.pbxsim import PbxSimulator
from tests.pbxsim.conftest import AUTH, Ari


async def test_auth_basic_or_api_key_else_401(sim: PbxSimulator, ari: Ari) -> None:
    session = ari.session
    async with session.get(sim.url + "/asterisk/info") as resp:
        assert resp.status == 401
        assert await resp.json() == {"message": "Authentication required"}
    bad = {"Authorization": aiohttp.encode_basic_auth("callcontrol", "nope")}
    async with session.get(sim.url + "/channels", headers=bad) as resp:
        assert resp.status == 401
    async with session.get(sim.url + "/channels?api_key=callcontrol:nope") as resp:
        assert resp.status == 401
    async with session.get(sim.url + "/channels?api_key=callcontrol:callcontrol") as resp:
        assert resp.status == 200 and await resp.json() == []
    async with session.get(sim.url + "/asterisk/info", headers=AUTH) as resp:
        assert resp.status == 200
    # the control API is behind the same credentials
    async with session.get(sim.base_url + "/sim/state") as resp:
        assert resp.status == 401
    for url in (sim.url + "/events?app=callcontrol",
                sim.url + "/events?app=callcontrol&api_key=callcontrol:wrong"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await session.ws_connect(url)
        assert err.value.status == 401
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        await session.ws_connect(sim.url + "/events", headers=AUTH)
    assert err.value.status == 400
    ws = await session.ws_connect(sim.url + "/events?app=x&api_key=callcontrol:callcontrol")
    await ws.close()


async def test_unknown_paths_and_methods(sim: PbxSimulator, ari: Ari) -> None:
    assert await ari.request("GET", "/nonexistent") == (404, {"message": "Resource not found"})
    assert await ari.request("PUT", "/channels") == (405, {"message": "Invalid method"})
    assert await ari.request("GET", "/channels/nope") == (404, {"message": "Channel not found"})
    assert await ari.request("POST", "/channels", {"endpoint": "NoSuchTech/1",
                                                   "app": "a"}) == (
        500, {"error": "Allocation failed"})
    assert (await ari.request("POST", "/channels", {"endpoint": "Local/1001@agents"}))[0] == 400


async def test_control_api_scripts_people(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    base = sim.base_url + "/sim"

    async def post(path: str, body: dict | None = None, method: str = "POST") -> tuple:
        async with ari.session.request(method, base + path, json=body, headers=AUTH) as r:
            raw = await r.read()
            return r.status, (json.loads(raw) if raw else None)

    status, call = await post("/calls", {"number": "+35799111222", "name": "Maria",
                                          "extension": "caller", "app_args": "vip,en"})
    assert status == 201
    start = await events.wait_type("StasisStart", call["stasis_channel_id"])
    assert start["channel"]["caller"] == {"name": "Maria", "number": "+35799111222"}
    assert start["args"] == ["inbound", "+35722000000", "vip", "en"]
    sid = call["stasis_channel_id"]
    await ari.ok("POST", f"/channels/{sid}/answer")
    assert (await post(f"/channels/{sid}/dtmf", {"digits": "12#"}))[0] == 204
    digits = [(await events.wait(lambda e, d=d: e["type"] == "ChannelDtmfReceived"
                                 and e["digit"] == d))["digit"] for d in "12#"]
    assert digits == ["1", "2", "#"]
    assert (await post(f"/channels/{sid}/dtmf", {"digits": "x"}))[0] == 400
    assert (await post("/channels/nope/hangup", {}))[0] == 404
    # the caller hangs up (either half may be named)
    assert (await post(f"/channels/{call['caller_channel_id']}/hangup", {"cause": 16}))[0] == 204
    hang = await events.wait_type("ChannelHangupRequest", sid)
    assert hang["cause"] == 16
    await events.wait_type("StasisEnd", sid)
    # devices
    status, dev = await post("/devices/PJSIP/2001", {"behaviour": "busy"}, method="PUT")
    assert status == 200 and dev["behaviour"] == "busy"
    assert (await post("/devices/PJSIP/2001", {"behaviour": "dance"}, method="PUT"))[0] == 400
    assert (await post("/devices/SIP/2001", {}, method="PUT"))[0] == 400
    assert (await post("/calls", {"number": "not a number"}))[0] == 400
    assert (await post("/calls", {"number": "+3571", "bogus": 1}))[0] == 400
    assert (await post("/calls", {"number": "+3571", "hangup_after": "soon"}))[0] == 400
    status, state = await post("/state", method="GET")
    assert status == 200
    assert state["counters"]["calls_placed"] == 1
    assert state["counters"]["calls_answered"] == 1
    assert state["counters"]["calls_abandoned"] == 0
    assert state["devices"]["2001"]["behaviour"] == "busy"
    assert state["channels"] == [] and state["apps"] == ["callcontrol"]
    status, body = await post("/websockets/drop")
    assert status == 200 and body == {"dropped": 1}
    assert (await post("/restart"))[0] == 204
    assert sim.counters["restarts"] == 1


async def test_subscribe_all_sees_what_the_app_does_not(sim: PbxSimulator, ari: Ari) -> None:
    app_events = await ari.events("callcontrol")
    all_events = await ari.events("watcher", subscribe_all=True)
    call = await sim.place_call(number="+35799123456", hangup_after=10)
    sid = call.stasis_channel_id
    await app_events.wait_type("StasisStart", sid)
    await ari.ok("POST", f"/channels/{sid}/answer")
    bridge = await ari.ok("POST", "/bridges", {"type": "mixing"})
    await ari.ok("POST", f"/bridges/{bridge['id']}/addChannel", {"channel": sid})
    await app_events.wait_type("StasisEnd", sid, timeout=3)
    await all_events.wait_type("ChannelDestroyed", sid)
    await all_events.wait_type("ChannelDestroyed", call.caller_channel_id)
    assert {"ChannelCreated", "BridgeCreated"} <= set(all_events.types())
    assert "ChannelCreated" not in app_events.types()
    assert "BridgeCreated" not in app_events.types()
    # without subscribeAll the inbound channel's events stop at StasisEnd
    assert app_events.types()[-1] == "StasisEnd"
    assert not [e for e in app_events.items
                if (e.get("channel") or {}).get("id") == call.caller_channel_id]
    assert all(e["application"] == "watcher" for e in all_events.items)


async def test_drop_websockets_keeps_calls_and_events_resume(sim: PbxSimulator,
                                                            ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456")
    sid = call.stasis_channel_id
    await events.wait_type("StasisStart", sid)
    ws = ari.sockets[-1]
    assert await sim.drop_websockets() == 1
    msg = await asyncio.wait_for(ws.receive(), 2)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert sid in sim.channels and not sim.engine.app_registered("callcontrol")
    # a caller arriving while no app is connected fails Stasis and hangs up
    lost = await sim.place_call(number="+35799000002")
    await sim.wait_for(lambda: lost.stasis_channel_id not in sim.channels, 2)
    again = await ari.events()
    await ari.ok("POST", f"/channels/{sid}/answer")
    changed = await again.wait_type("ChannelStateChange", sid)
    assert changed["channel"]["state"] == "Up"
    listed = await ari.ok("GET", "/channels")
    assert [c["id"] for c in listed if c["id"] == sid] == [sid]


async def test_restart_clears_calls_but_not_stored_recordings(sim: PbxSimulator,
                                                             ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456")
    await events.wait_type("StasisStart", call.stasis_channel_id)
    await ari.ok("POST", f"/channels/{call.stasis_channel_id}/record",
                 {"name": "before", "format": "wav", "maxDurationSeconds": 1}, status=201)
    await sim.wait_for(lambda: "before" in sim.stored_recordings, 3)
    await ari.ok("POST", "/bridges", {"type": "holding"})
    await sim.restart()
    assert not sim.channels and not sim.bridges and not sim.live_recordings
    assert "before" in sim.stored_recordings
    assert await ari.ok("GET", "/channels") == []
    with pytest.raises(RuntimeError):
        sim.engine.crashed = True
        await sim.place_call(number="+35799123456")
    sim.engine.crashed = False


async def test_wait_for_times_out_with_a_clear_error(sim: PbxSimulator) -> None:
    with pytest.raises(TimeoutError, match="not met within 0.05 s"):
        await sim.wait_for(lambda: bool(sim.channels), 0.05)
    await sim.wait_for(lambda s: not s.channels, 0.05)      # predicate may take the simulator


async def test_place_call_validates(sim: PbxSimulator) -> None:
    with pytest.raises(ValueError, match="phone number"):
        await sim.place_call(number="")
    with pytest.raises(ValueError, match="extension"):
        await sim.place_call(number="+3579", extension="nope")
    with pytest.raises(ValueError, match="dtmf"):
        await sim.place_call(number="+3579", dtmf="hello")
    with pytest.raises(ValueError, match="give_up_after"):
        await sim.place_call(number="+3579", give_up_after=0)
    with pytest.raises(ValueError, match="behaviour"):
        sim.set_device("PJSIP/1001", behaviour="sing")
    with pytest.raises(ValueError, match="PJSIP"):
        sim.set_device("1001")


async def test_a_new_socket_replaces_the_old_one(sim: PbxSimulator, ari: Ari) -> None:
    old = await ari.events()
    new = await ari.events()
    replaced = await old.wait_type("ApplicationReplaced")
    assert replaced["application"] == "callcontrol"
    call = await sim.place_call(number="+35799123456")
    await new.wait_type("StasisStart", call.stasis_channel_id)
    await asyncio.sleep(0.05)
    assert old.types() == ["ApplicationReplaced"]
    assert await sim.drop_websockets() == 2                    # the idle one is closed too


async def test_event_filter_lets_only_the_asked_types_through(sim: PbxSimulator, ari: Ari) -> None:
    """PUT /applications/{app}/eventFilter as the api-docs describe it (Asterisk 16.3+)."""
    app_events = await ari.events("callcontrol")
    other = await ari.events("other", subscribe_all=True)
    path = "/applications/callcontrol/eventFilter"
    app = await ari.ok("PUT", path, json_body={"allowed": [{"type": "StasisStart"},
                                                           {"type": "StasisEnd"}]})
    assert app["events_allowed"] == [{"type": "StasisEnd"}, {"type": "StasisStart"}]
    assert app["events_disallowed"] == []
    call = await sim.place_call(number="+35799123456", hangup_after=10)
    sid = call.stasis_channel_id
    await app_events.wait_type("StasisStart", sid)
    await ari.ok("POST", f"/channels/{sid}/answer")
    await ari.ok("DELETE", f"/channels/{sid}")
    await app_events.wait_type("StasisEnd", sid)
    assert set(app_events.types()) == {"StasisStart", "StasisEnd"}
    assert "ChannelStateChange" in other.types()     # another application: unfiltered
    # a list left out keeps its value; disallowed wins over allowed
    app = await ari.ok("PUT", path, json_body={"disallowed": [{"type": "StasisEnd"}]})
    assert app["events_allowed"] == [{"type": "StasisEnd"}, {"type": "StasisStart"}]
    assert app["events_disallowed"] == [{"type": "StasisEnd"}]
    assert (await ari.ok("GET", "/applications/callcontrol"))["events_disallowed"] == [
        {"type": "StasisEnd"}]
    # an empty body clears both
    app = await ari.ok("PUT", path)
    assert app["events_allowed"] == [] and app["events_disallowed"] == []
    status, _ = await ari.request("PUT", path, json_body={"allowed": ["StasisStart"]})
    assert status == 400
    status, _ = await ari.request("PUT", "/applications/nosuchapp/eventFilter",
                                  json_body={"allowed": []})
    assert status == 404
