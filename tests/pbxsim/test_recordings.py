"""Recordings: real WAV files whose length is the recorded (wall-clock) time, pause left out,
mute kept as silence; stored recordings API; the bridge record without format crash."""

from __future__ import annotations

import asyncio
import io
import logging
import struct
import time
import wave

import aiohttp
import pytest

from callcontrol.pbxsim import PbxSimulator
from tests.pbxsim.conftest import AUTH, Ari


async def _bridged_call(sim: PbxSimulator, ari: Ari) -> tuple[str, str, str]:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456")
    await events.wait_type("StasisStart", call.stasis_channel_id)
    sid = call.stasis_channel_id
    await ari.ok("POST", f"/channels/{sid}/answer")
    bridge = await ari.ok("POST", "/bridges", {"type": "mixing"})
    agent = await ari.ok("POST", "/channels", {"endpoint": "Local/1001@agents",
                                                "app": "callcontrol"})
    await events.wait_type("StasisStart", agent["id"])
    await ari.ok("POST", f"/bridges/{bridge['id']}/addChannel",
                 {"channel": f"{sid},{agent['id']}"})
    return bridge["id"], sid, agent["id"]


def _frames(data: bytes) -> tuple[int, list[int]]:
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        n = w.getnframes()
        raw = w.readframes(n)
    return n, list(struct.unpack(f"<{n}h", raw))


async def test_pause_is_left_out_and_mute_is_silence(sim: PbxSimulator, ari: Ari) -> None:
    bridge, _, _ = await _bridged_call(sim, ari)
    await ari.ok("POST", f"/bridges/{bridge}/record",
                 {"name": "pm", "format": "wav", "ifExists": "overwrite"}, status=201)
    await sim.wait_for(lambda: sim.live_recordings["pm"].state == "recording", 1)
    t0 = time.monotonic()
    await asyncio.sleep(0.3)                                    # talk
    await ari.ok("POST", "/recordings/live/pm/pause")
    t_pause = time.monotonic()
    assert (await ari.ok("GET", "/recordings/live/pm"))["state"] == "paused"
    await asyncio.sleep(0.4)                                    # paused: not in the file
    await ari.ok("DELETE", "/recordings/live/pm/pause")
    t_unpause = time.monotonic()
    assert (await ari.ok("GET", "/recordings/live/pm"))["state"] == "recording"
    await asyncio.sleep(0.2)                                    # talk
    await ari.ok("POST", "/recordings/live/pm/mute")
    t_mute = time.monotonic()
    assert (await ari.ok("GET", "/recordings/live/pm"))["state"] == "recording"
    await asyncio.sleep(0.3)                                    # silence
    await ari.ok("DELETE", "/recordings/live/pm/mute")
    t_unmute = time.monotonic()
    await asyncio.sleep(0.2)                                    # talk
    await ari.ok("POST", "/recordings/live/pm/stop")
    t_end = time.monotonic()
    assert "pm" not in sim.live_recordings
    status, data = await ari.request("GET", "/recordings/stored/pm/file")
    assert status == 200
    frames, samples = _frames(data)
    expected = (t_end - t0) - (t_unpause - t_pause)
    assert abs(frames / 8000 - expected) < 0.08, (frames / 8000, expected)
    # talk is an audible tone, the muted stretch digital silence
    before_pause = samples[: int((t_pause - t0 - 0.05) * 8000)]
    assert max(abs(s) for s in before_pause) > 500
    mute_from = (t_pause - t0) + (t_mute - t_unpause)
    mute_to = mute_from + (t_unmute - t_mute)
    muted = samples[int((mute_from + 0.04) * 8000): int((mute_to - 0.04) * 8000)]
    assert muted and max(abs(s) for s in muted) == 0
    assert max(abs(s) for s in samples[-int(0.1 * 8000):]) > 500


async def test_bridge_recording_stops_when_last_party_leaves(sim: PbxSimulator,
                                                             ari: Ari) -> None:
    bridge, sid, agent = await _bridged_call(sim, ari)
    events = await ari.events()
    await ari.ok("POST", f"/bridges/{bridge}/record", {"name": "auto", "format": "wav"},
                 status=201)
    await events.wait_type("RecordingStarted")
    await asyncio.sleep(0.25)
    await ari.ok("DELETE", f"/channels/{sid}")
    assert "auto" in sim.live_recordings                      # one party still there
    await ari.ok("DELETE", f"/channels/{agent}")
    finished = await events.wait_type("RecordingFinished")
    assert finished["recording"]["state"] == "done"
    assert finished["recording"]["duration"] == 0             # whole seconds, 0.25 s ran
    frames, _ = _frames(sim.stored_recordings["auto"].read_bytes())
    assert 0.2 <= frames / 8000 <= 0.5


async def test_recording_conflicts_and_errors(sim: PbxSimulator, ari: Ari) -> None:
    bridge, sid, _ = await _bridged_call(sim, ari)
    path = f"/bridges/{bridge}/record"
    assert await ari.request("POST", path, {"name": "x", "format": "mp3"}) == (
        422, {"message": "specified format is unknown on this system"})
    assert await ari.request("POST", path, {"format": "wav"}) == (
        500, {"message": "Error parsing request"})
    assert await ari.request("POST", path, {"name": "../up", "format": "wav"}) == (
        500, {"message": "Error parsing request"})
    assert (await ari.request("POST", path, {"name": "x", "format": "wav",
                                             "ifExists": "bogus"}))[0] == 400
    await ari.ok("POST", path, {"name": "dup", "format": "wav", "ifExists": "overwrite"},
                 status=201)
    status, body = await ari.request("POST", path, {"name": "dup", "format": "wav",
                                                    "ifExists": "overwrite"})
    assert status == 409 and "already exists" in body["message"]
    await ari.ok("POST", "/recordings/live/dup/stop")
    assert (await ari.request("POST", path, {"name": "dup", "format": "wav"}))[0] == 409
    await ari.ok("POST", path, {"name": "dup", "format": "wav", "ifExists": "overwrite"},
                 status=201)
    await ari.ok("DELETE", "/recordings/live/dup")            # cancel: nothing kept
    assert "dup" in sim.stored_recordings                    # the earlier file remains
    # channel recordings: format missing is a clean 422 (only bridges crashed Asterisk)
    assert (await ari.request("POST", f"/channels/{sid}/record", {"name": "c"}))[0] == 422
    await ari.ok("POST", f"/channels/{sid}/record", {"name": "c", "format": "wav",
                                                      "maxDurationSeconds": 1}, status=201)
    await sim.wait_for(lambda: "c" in sim.stored_recordings, 3)
    stored = await ari.ok("GET", "/recordings/stored")
    assert {"name": "c", "format": "wav"} in stored
    assert await ari.ok("POST", "/recordings/stored/c/copy",
                        {"destinationRecordingName": "c2"}) == {"name": "c2", "format": "wav"}
    assert (await ari.request("POST", "/recordings/stored/c/copy",
                              {"destinationRecordingName": "c2"}))[0] == 409
    await ari.ok("DELETE", "/recordings/stored/c2")
    assert (await ari.request("DELETE", "/recordings/stored/c2"))[0] == 404
    assert (await ari.request("GET", "/recordings/stored/c2/file"))[0] == 404


async def test_bridge_record_without_format_crashes_like_asterisk(
        sim: PbxSimulator, ari: Ari, caplog: pytest.LogCaptureFixture) -> None:
    bridge, sid, _ = await _bridged_call(sim, ari)
    events_ws = ari.sockets[-1]
    with (caplog.at_level(logging.CRITICAL, logger="callcontrol.pbxsim"),
          pytest.raises(aiohttp.ServerDisconnectedError)):
        await ari.request("POST", f"/bridges/{bridge}/record", {"name": "boom"})
    assert sim.crashed
    assert any("CRASH" in r.getMessage() for r in caplog.records)
    await asyncio.wait_for(events_ws.receive(), 2)            # the websocket is closed
    assert events_ws.closed
    assert await ari.request("GET", "/asterisk/info") == (503, {
        "message": "Asterisk is not running (the simulator crashed; restart it with "
                   "POST /sim/restart)"})
    status, _ = await ari.request("GET", f"/channels/{sid}")
    assert status == 503
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await ari.session.ws_connect(sim.url + "/events?app=callcontrol", headers=AUTH)
    await sim.restart()
    assert not sim.crashed and not sim.channels and not sim.bridges
    assert (await ari.request("GET", "/asterisk/ping"))[0] == 200
    # after the restart calls work again
    events = await ari.events()
    call = await sim.place_call(number="+35799000001")
    await events.wait_type("StasisStart", call.stasis_channel_id)


async def test_terminate_on_dtmf_and_append(sim: PbxSimulator, ari: Ari) -> None:
    events = await ari.events()
    call = await sim.place_call(number="+35799123456")
    sid = call.stasis_channel_id
    await events.wait_type("StasisStart", sid)
    await ari.ok("POST", f"/channels/{sid}/answer")
    await ari.ok("POST", f"/channels/{sid}/record",
                 {"name": "vm", "format": "wav", "terminateOn": "#"}, status=201)
    await events.wait_type("RecordingStarted")
    await asyncio.sleep(0.2)
    await sim.send_dtmf(sid, "1#")                  # '1' is recorded over, '#' ends it
    finished = await events.wait_type("RecordingFinished")
    assert finished["recording"]["name"] == "vm"
    first, _ = _frames(sim.stored_recordings["vm"].read_bytes())
    await ari.ok("POST", f"/channels/{sid}/record",
                 {"name": "vm", "format": "wav", "ifExists": "append",
                  "maxDurationSeconds": 1}, status=201)
    await sim.wait_for(lambda: "vm" not in sim.live_recordings, 3)
    both, _ = _frames(sim.stored_recordings["vm"].read_bytes())
    assert both >= first + 7000                     # about one more second appended
