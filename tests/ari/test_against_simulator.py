"""The ARI client against the real PBX simulator: every method of the contract, every error
class, and the events websocket surviving drops and a PBX that is down."""

from __future__ import annotations

import asyncio
import io
import re
import socket
import time
import wave
from pathlib import Path

import pytest

from callcontrol.ari import AriClient, EventStream, errors, events, models
from callcontrol.config import AriConfig
from callcontrol.pbxsim import PbxSimulator

APP = "callcontrol"


class EventLog:
    """Every event the stream delivered, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[events.Event] = []
        self.resyncs = 0
        self.resync_marks: list[int] = []  # len(events) when each resync hook ran
        self.after_resync = None  # optional async () -> None, run inside the hook
        self._changed = asyncio.Condition()

    async def handler(self, event: events.Event) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def resync(self) -> None:
        self.resyncs += 1
        self.resync_marks.append(len(self.events))
        if self.after_resync is not None:
            await self.after_resync()

    async def wait(self, cls, predicate=lambda e: True, timeout: float = 3.0):
        """The first event of `cls` matching `predicate` (already received or still coming)."""
        async with asyncio.timeout(timeout), self._changed:
            while True:
                for event in self.events:
                    if isinstance(event, cls) and predicate(event):
                        return event
                await self._changed.wait()

    def of(self, cls, predicate=lambda e: True) -> list:
        return [e for e in self.events if isinstance(e, cls) and predicate(e)]


@pytest.fixture
async def sim(tmp_path):
    simulator = PbxSimulator(recordings_dir=tmp_path, time_scale=0.01)
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await simulator.close()


@pytest.fixture
def config(sim):
    return AriConfig(url=sim.url, app=APP, request_timeout=2.0)


@pytest.fixture
async def client(config):
    async with AriClient(config) as ari:
        yield ari


@pytest.fixture
async def log(config):
    recorded = EventLog()
    stream = EventStream(config, recorded.handler, on_resync=recorded.resync,
                         backoff_initial=0.02, backoff_max=0.2)
    await stream.start()
    await stream.wait_connected(2)
    recorded.stream = stream
    yield recorded
    await stream.close()
    # whatever the simulator sent must have parsed to our typed events
    untyped = [e.raw for e in recorded.events if isinstance(e, events.UnknownEvent)
               and e.type in events.EVENT_TYPES]
    assert untyped == []
    assert all(e.timestamp is not None and e.application == APP for e in recorded.events)


async def _inbound(sim, log, number="+35799123456"):
    """Place a PSTN call; return the id of the channel that entered our Stasis app."""
    await sim.place_call(number=number)
    start = await log.wait(events.StasisStart,
                           lambda e: e.args[:1] == ("inbound",) and e.channel_id not in
                           {s.channel_id for s in log.of(events.StasisEnd)})
    return start.channel.id


async def _agent(client, log, agent="1001"):
    channel = await client.channels.originate(f"Local/{agent}@agents", app=APP,
                                              app_args="agent,test", timeout=5)
    start = await log.wait(events.StasisStart, lambda e: e.args[:1] == ("agent",)
                           and e.channel_id == channel.id)
    return start.channel.id


async def test_answered_bridged_recorded_call_with_wav_download(sim, client, log):
    caller = await _inbound(sim, log)
    await client.channels.answer(caller)
    await log.wait(events.ChannelStateChange,
                   lambda e: e.channel_id == caller and e.channel.state == "Up")
    bridge = await client.bridges.create(type="mixing", name=f"call-{caller}")
    assert isinstance(bridge, models.Bridge) and bridge.bridge_type == "mixing"
    agent = await _agent(client, log)
    await client.bridges.add_channel(bridge.id, [caller, agent])
    await log.wait(events.ChannelEnteredBridge, lambda e: e.channel_id == agent)
    assert set((await client.bridges.get(bridge.id)).channels) == {caller, agent}

    recording = await client.bridges.record(bridge.id, f"call-{caller}", if_exists="overwrite")
    assert recording.format == "wav" and recording.target_uri == f"bridge:{bridge.id}"
    await log.wait(events.RecordingStarted, lambda e: e.recording.name == recording.name)
    assert (await client.recordings.get_live(recording.name)).state == "recording"
    await asyncio.sleep(0.3)
    await client.recordings.stop(recording.name)
    finished = await log.wait(events.RecordingFinished,
                              lambda e: e.recording.name == recording.name)
    assert finished.recording.state == "done"

    stored = await client.recordings.get_stored(recording.name)
    assert stored == models.StoredRecording(name=recording.name, format="wav")
    data = await client.recordings.download(recording.name)
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        assert wav.getnframes() > 0

    await client.channels.hangup(agent)
    await client.channels.hangup(caller)
    await log.wait(events.StasisEnd, lambda e: e.channel_id == caller)
    await client.bridges.destroy(bridge.id)
    assert recording.name in [r.name for r in await client.recordings.list_stored()]
    await client.recordings.delete_stored(recording.name)
    with pytest.raises(errors.NotFound):
        await client.recordings.get_stored(recording.name)


async def test_every_channel_method_on_a_live_stasis_channel(sim, client, log):
    caller = await _inbound(sim, log)
    assert caller in [c.id for c in await client.channels.list()]
    channel = await client.channels.get(caller)
    assert channel.state == "Ring" and channel.caller.number == "+35799123456"
    await client.channels.ring(caller)
    await client.channels.ring_stop(caller)
    await client.channels.answer(caller)
    await log.wait(events.ChannelStateChange, lambda e: e.channel_id == caller)
    for call in (client.channels.hold(caller), client.channels.unhold(caller),
                 client.channels.mute(caller, direction="in"), client.channels.unmute(caller),
                 client.channels.start_moh(caller), client.channels.stop_moh(caller)):
        assert await call is None

    await client.channels.set_variable(caller, "CALL_ID", "k1")
    assert await client.channels.get_variable(caller, "CALL_ID") == "k1"

    # a tone plays until stopped, so the playback is still there for get/control/stop
    playback = await client.channels.play(caller, "tone:ring;tonezone=us", lang="en")
    assert isinstance(playback, models.Playback) and playback.target_uri == f"channel:{caller}"
    await log.wait(events.PlaybackStarted, lambda e: e.playback.id == playback.id)
    assert (await client.playbacks.get(playback.id)).id == playback.id
    await client.playbacks.control(playback.id, "pause")
    await client.playbacks.stop(playback.id)
    await log.wait(events.PlaybackFinished, lambda e: e.playback.id == playback.id)

    await client.channels.send_dtmf(caller, "9*", between=100, duration=100)

    recording = await client.channels.record(caller, f"chan-{caller}", max_duration_seconds=30)
    assert recording.target_uri == f"channel:{caller}"
    await log.wait(events.RecordingStarted, lambda e: e.recording.name == recording.name)
    await client.recordings.cancel(recording.name)
    with pytest.raises(errors.NotFound):
        await client.recordings.get_live(recording.name)

    snoop = await client.channels.snoop(caller, app=APP, spy="both", app_args="snoop,t")
    assert snoop.name.startswith("Snoop/") and snoop.state == "Up"
    await log.wait(events.StasisStart, lambda e: e.channel_id == snoop.id)
    await client.channels.hangup(snoop.id)
    await log.wait(events.StasisEnd, lambda e: e.channel_id == snoop.id)

    await client.channels.continue_in_dialplan(caller)
    await log.wait(events.StasisEnd, lambda e: e.channel_id == caller)


async def test_create_then_dial_and_originate_into_the_dialplan(sim, client, log):
    created = await client.channels.create("Local/1001@agents", app=APP, app_args="agent,c")
    assert created.state == "Down"
    await client.channels.dial(created.id, timeout=5)
    await log.wait(events.Dial, lambda e: e.dialstatus == "ANSWER")
    await client.channels.hangup(created.id)

    dialplan = await client.channels.originate(
        "Local/1005@agents", context="customers", extension="+35799000001", priority=1,
        variables={"X_TEST": "1"})
    assert dialplan.id
    with pytest.raises(errors.Conflict):  # not in Stasis
        await client.channels.answer(dialplan.id)
    await client.channels.hangup(dialplan.id)


async def test_redirect_moves_a_sip_channel_and_refuses_a_technology_change(sim, client, log):
    phone = await client.channels.originate("PJSIP/1001", app=APP, app_args="agent,r")
    await log.wait(events.StasisStart, lambda e: e.channel_id == phone.id)
    await client.channels.redirect(phone.id, "PJSIP/1002")
    await log.wait(events.StasisEnd, lambda e: e.channel_id == phone.id)

    caller = await _inbound(sim, log)  # a Local channel
    await client.channels.answer(caller)
    with pytest.raises(errors.Unprocessable) as info:
        await client.channels.redirect(caller, "PJSIP/1001")
    assert info.value.status == 422


async def test_every_bridge_method(sim, client, log):
    caller = await _inbound(sim, log)
    await client.channels.answer(caller)
    holding = await client.bridges.create(type="holding", bridge_id="hold-1", name="queue")
    assert holding.id == "hold-1" and "hold-1" in [b.id for b in await client.bridges.list()]
    await client.bridges.add_channel(holding.id, caller, role="participant")
    await client.bridges.start_moh(holding.id, moh_class="default")
    await client.bridges.stop_moh(holding.id)
    playback = await client.bridges.play(holding.id, "sound:beep", playback_id="pb-b1")
    assert playback.id == "pb-b1" and playback.target_uri == "bridge:hold-1"
    await client.bridges.remove_channel(holding.id, caller)
    await log.wait(events.ChannelLeftBridge, lambda e: e.bridge.id == "hold-1")
    await client.bridges.destroy(holding.id)
    with pytest.raises(errors.NotFound):
        await client.bridges.get(holding.id)


async def test_live_recording_controls(sim, client, log):
    caller = await _inbound(sim, log)
    await client.channels.answer(caller)
    bridge = await client.bridges.create()
    agent = await _agent(client, log)
    await client.bridges.add_channel(bridge.id, [caller, agent])
    rec = await client.bridges.record(bridge.id, "pause-test")
    await log.wait(events.RecordingStarted, lambda e: e.recording.name == "pause-test")
    await client.recordings.pause("pause-test")
    assert (await client.recordings.get_live("pause-test")).state == "paused"
    await client.recordings.unpause("pause-test")
    await client.recordings.mute("pause-test")
    assert (await client.recordings.get_live("pause-test")).state == "recording"
    await client.recordings.unmute("pause-test")
    await client.recordings.stop(rec.name)
    await log.wait(events.RecordingFinished, lambda e: e.recording.name == "pause-test")


async def test_endpoints_applications_asterisk_and_device_states(sim, client, log):
    endpoints = await client.endpoints.list()
    assert all(isinstance(e, models.Endpoint) for e in endpoints)
    pjsip = next(e for e in endpoints if e.technology == "PJSIP")
    assert (await client.endpoints.get("PJSIP", pjsip.resource)).resource == pjsip.resource
    app = await client.applications.get(APP)
    assert app.name == APP
    subscribed = await client.applications.subscribe(APP, f"endpoint:PJSIP/{pjsip.resource}")
    assert f"PJSIP/{pjsip.resource}" in subscribed.endpoint_ids
    unsubscribed = await client.applications.unsubscribe(APP,
                                                         f"endpoint:PJSIP/{pjsip.resource}")
    assert f"PJSIP/{pjsip.resource}" not in unsubscribed.endpoint_ids
    await client.applications.filter_events(APP, allowed=["StasisStart"])
    assert sim.engine.application_json(APP)["events_allowed"] == [{"type": "StasisStart"}]
    await client.applications.filter_events(APP)                     # both None: cleared
    assert sim.engine.application_json(APP)["events_allowed"] == []
    assert "system" in await client.asterisk.info()
    assert (await client.asterisk.ping())["ping"] == "pong"
    await client.asterisk.reload_module("res_pjsip.so")
    await client.device_states.update("Stasis:agent-1001", "BUSY")
    state = await client.device_states.get("Stasis:agent-1001")
    assert state == models.DeviceState(name="Stasis:agent-1001", state="BUSY")


async def test_every_error_class_from_the_simulator(sim, client, config, log):
    caller = await _inbound(sim, log)
    await client.channels.answer(caller)
    bridge = await client.bridges.create(bridge_id="err-bridge")
    await client.bridges.add_channel(bridge.id, caller)

    with pytest.raises(errors.NotFound, match="Channel not found"):
        await client.channels.get("no-such-channel")
    with pytest.raises(errors.Conflict):
        await client.bridges.create(bridge_id="err-bridge")
    with pytest.raises(errors.Unprocessable):
        await client.bridges.record(bridge.id, "err-rec", format="no-such-format")
    with pytest.raises(errors.BadRequest):
        await client.bridges.remove_channel(bridge.id, "no-such-channel")
    with pytest.raises(errors.ServerError) as server_error:
        await client.channels.originate("PJSIP/no-such-endpoint", app=APP)
    assert server_error.value.status == 500
    async with AriClient(AriConfig(url=config.url, password="wrong")) as intruder:
        with pytest.raises(errors.Unauthorized):
            await intruder.channels.list()
    async with AriClient(AriConfig(url=config.url, request_timeout=1e-6)) as hurried:
        with pytest.raises(errors.AriUnavailable) as timed_out:
            await hurried.channels.list()
    assert timed_out.value.status is None
    port = _free_port()
    async with AriClient(AriConfig(url=f"http://127.0.0.1:{port}/ari")) as nowhere:
        with pytest.raises(errors.AriUnavailable):
            await nowhere.channels.list()


def _free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


async def test_stream_reconnects_after_drop_and_loses_no_event_after_resync(sim, client, log):
    caller = await _inbound(sim, log)
    answered_in_resync = []

    async def reconcile_then_act():
        # what call control does: reconcile with what ARI lists, then act; the events of
        # that action (sent while the hook still runs) must reach the handler afterwards
        if caller in [c.id for c in await client.channels.list()]:
            await client.channels.answer(caller)
            answered_in_resync.append(True)

    log.after_resync = reconcile_then_act
    await sim.drop_websockets()
    await log.wait(events.ChannelStateChange,
                   lambda e: e.channel_id == caller and e.channel.state == "Up")
    assert log.resyncs == 2 and log.stream.connected
    assert answered_in_resync and log.stream.state.reconnects == 1
    # the state change came after the resync hook ran, on the new connection
    state_change = log.of(events.ChannelStateChange, lambda e: e.channel_id == caller)[0]
    assert log.events.index(state_change) >= log.resync_marks[-1]

    await client.channels.hangup(caller)
    await log.wait(events.StasisEnd, lambda e: e.channel_id == caller)


@pytest.mark.slow
async def test_no_busy_loop_while_the_simulator_is_down_then_reconnects(tmp_path):
    sim = PbxSimulator(recordings_dir=tmp_path, time_scale=0.01)
    port = await sim.start("127.0.0.1", 0)
    config = AriConfig(url=sim.url, app=APP, request_timeout=1.0)
    recorded = EventLog()
    stream = EventStream(config, recorded.handler, on_resync=recorded.resync,
                         backoff_initial=0.05, backoff_max=0.4)
    await stream.start()
    try:
        await stream.wait_connected(2)
        await sim.close()
        await asyncio.sleep(0.1)
        assert not stream.connected
        before = stream.state.attempts
        started = time.monotonic()
        await asyncio.sleep(1.5)
        tries = stream.state.attempts - before
        # delays in [d/2, d] for d = 0.05, 0.1, 0.2, 0.4, 0.4...: 4 to 12 tries in 1.5 s
        assert 3 <= tries <= 12, tries
        assert time.monotonic() - started < 2

        sim = PbxSimulator(recordings_dir=tmp_path, time_scale=0.01)
        await sim.start("127.0.0.1", port)
        await stream.wait_connected(2)
        await sim.place_call(number="+35799000001")
        start = await recorded.wait(events.StasisStart)
        assert start.args[0] == "inbound" and recorded.resyncs == 2
    finally:
        await stream.close()
        await sim.close()


def test_this_module_calls_every_public_client_method():
    source = Path(__file__).read_text()
    client = AriClient(AriConfig())
    namespaces = ("channels", "bridges", "recordings", "playbacks", "endpoints",
                  "applications", "asterisk", "device_states")
    missing = [f"{ns}.{m}" for ns in namespaces for m in dir(getattr(client, ns))
               if not m.startswith("_")
               and not re.search(rf"\.{ns}\.{m}\(", source)]
    assert missing == []


async def test_subscribe_all_also_delivers_what_happens_after_stasis_end(sim, client, config):
    recorded = EventLog()
    stream = EventStream(config, recorded.handler, subscribe_all=True)
    await stream.start()
    try:
        await sim.place_call(number="+35799123456")
        start = await recorded.wait(events.StasisStart, lambda e: e.args[:1] == ("inbound",))
        await client.channels.hangup(start.channel.id)
        destroyed = await recorded.wait(events.ChannelDestroyed,
                                        lambda e: e.channel_id == start.channel.id)
        assert destroyed.cause == 16
        end = recorded.of(events.StasisEnd, lambda e: e.channel_id == start.channel.id)[0]
        assert recorded.events.index(end) < recorded.events.index(destroyed)
    finally:
        await stream.close()
