import copy
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callcontrol.ari import events, models
from callcontrol.ari.events import EVENT_TYPES, UnknownEvent, parse_event

TRACES = Path(__file__).parent / "traces"

# The event types the ARI contract names; the traces must parse to these, never UnknownEvent.
CONTRACT_TYPES = {
    "StasisStart", "StasisEnd", "ChannelStateChange", "ChannelDestroyed",
    "ChannelHangupRequest", "ChannelDtmfReceived", "ChannelEnteredBridge", "ChannelLeftBridge",
    "Dial", "ChannelVarset", "ChannelCallerId", "ChannelDialplan", "RecordingStarted",
    "RecordingFinished", "RecordingFailed", "PlaybackStarted", "PlaybackFinished",
    "BridgeCreated", "BridgeDestroyed", "EndpointStateChange", "DeviceStateChanged",
    "ApplicationReplaced",
}


def _traced_events():
    for f in sorted(TRACES.glob("*.json")):
        if f.name == "INDEX.json":
            continue
        for entry in json.loads(f.read_text()):
            if entry.get("kind") == "event":
                yield f.name, entry["event"]


TRACED = list(_traced_events())


def test_the_contract_types_all_have_a_parser():
    assert CONTRACT_TYPES <= EVENT_TYPES


def test_every_traced_event_parses_to_its_typed_class():
    assert len(TRACED) > 500
    for name, raw in TRACED:
        event = parse_event(raw)
        assert not isinstance(event, UnknownEvent), (name, raw["type"])
        assert type(event).__name__ == raw["type"]
        assert event.type == raw["type"]
        assert event.application == "callcontrol"
        assert event.asterisk_id == "02:fc:00:00:00:01"
        assert event.timestamp is not None and event.timestamp.tzinfo is not None
        assert event.raw is raw


def test_every_traced_channel_and_bridge_keeps_its_fields():
    for _, raw in TRACED:
        event = parse_event(raw)
        for key in ("channel", "peer", "caller", "replace_channel"):
            if isinstance(raw.get(key), dict):
                channel = getattr(event, key)
                assert isinstance(channel, models.Channel)
                assert channel.id == raw[key]["id"]
                assert channel.state == raw[key]["state"]
                assert channel.caller.number == raw[key]["caller"]["number"]
                assert channel.dialplan.context == raw[key]["dialplan"]["context"]
        if isinstance(raw.get("bridge"), dict):
            assert event.bridge.channels == tuple(raw["bridge"]["channels"])


def _first(type_name, where=lambda raw: True):
    return next(raw for _, raw in TRACED if raw["type"] == type_name and where(raw))


def test_stasis_start_of_an_inbound_call():
    event = parse_event(_first("StasisStart", lambda r: r["args"][:1] == ["inbound"]))
    assert isinstance(event, events.StasisStart)
    assert event.args == ("inbound", "+35722000000")
    assert event.channel.name.endswith(";2")
    assert event.channel_id == event.channel.id
    assert event.replace_channel is None


def test_channel_destroyed_and_hangup_request_causes():
    destroyed = parse_event(_first("ChannelDestroyed"))
    assert isinstance(destroyed.cause, int) and destroyed.cause_txt
    soft = parse_event(_first("ChannelHangupRequest", lambda r: r.get("soft")))
    assert soft.soft is True and soft.cause == 32
    cancel = parse_event(_first("ChannelHangupRequest", lambda r: r.get("tech_cause")))
    assert (cancel.cause, cancel.tech_cause) == (127, 487)
    bye = parse_event(_first("ChannelHangupRequest", lambda r: "cause" not in r))
    assert bye.cause is None and bye.soft is False


def test_dial_dtmf_varset_and_recording_fields():
    dial = parse_event(_first("Dial", lambda r: r["dialstatus"] == "ANSWER"))
    assert dial.peer.id and dial.dialstatus == "ANSWER"
    assert dial.channel_id == dial.peer.id
    dtmf = parse_event(_first("ChannelDtmfReceived"))
    assert (dtmf.digit, dtmf.duration_ms) == ("1", 100)
    varset = parse_event(_first("ChannelVarset", lambda r: r["variable"] == "BRIDGEPEER"))
    assert varset.channel is not None and varset.value
    finished = parse_event(_first("RecordingFinished", lambda r: r["recording"]["duration"]))
    assert finished.recording.state == "done" and finished.recording.duration > 0
    device = parse_event(_first("DeviceStateChanged"))
    assert set(device.device_state) == {"name", "state"}


def test_timestamp_format_of_asterisk_is_parsed_exactly():
    event = parse_event(_first("StasisStart"))
    assert event.timestamp == datetime.fromisoformat(_first("StasisStart")["timestamp"])
    assert models.parse_time("2026-11-22T11:34:51.373+0000") == datetime(
        2026, 11, 22, 11, 34, 51, 373000, tzinfo=UTC)


def test_global_varset_without_channel_is_typed():
    event = parse_event({"type": "ChannelVarset", "variable": "G", "value": "1",
                         "application": "callcontrol"})
    assert isinstance(event, events.ChannelVarset) and event.channel is None


def test_events_not_in_the_traces_parse_too():
    endpoint = parse_event({"type": "EndpointStateChange", "application": "callcontrol",
                            "endpoint": {"technology": "PJSIP", "resource": "1001",
                                         "state": "offline", "channel_ids": []}})
    assert endpoint.endpoint == models.Endpoint("PJSIP", "1001", "offline", ())
    failed = parse_event({"type": "RecordingFailed", "recording": {
        "name": "r", "format": "wav", "state": "failed", "cause": "disk full"}})
    assert failed.recording.cause == "disk full"
    replaced = parse_event({"type": "ApplicationReplaced", "application": "callcontrol"})
    assert isinstance(replaced, events.ApplicationReplaced)


def _without(raw, *path):
    raw = copy.deepcopy(raw)
    target = raw
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]
    return raw


MALFORMED = [
    ("no_type", {"application": "x"}),
    ("type_not_str", {"type": 5}),
    ("unknown_type", {"type": "ChannelTalkingStarted", "channel": {}}),
    ("not_an_object", ["StasisStart"]),
    ("string", "StasisStart"),
    ("stasis_start_without_channel", {"type": "StasisStart", "args": []}),
    ("channel_not_object", {"type": "StasisEnd", "channel": "c1"}),
    ("channel_without_id", {"type": "StasisEnd", "channel": {"name": "x", "state": "Up"}}),
    ("destroyed_bad_cause", {"type": "ChannelDestroyed", "cause": "abc",
                             "channel": {"id": "c", "name": "n", "state": "Up"}}),
    ("args_not_list", {"type": "StasisStart", "args": "inbound",
                       "channel": {"id": "c", "name": "n", "state": "Up"}}),
    ("dial_without_peer", {"type": "Dial", "dialstatus": "ANSWER"}),
    ("bridge_channels_not_list", {"type": "BridgeDestroyed", "bridge": {"id": "b",
                                                                       "channels": 3}}),
    ("recording_without_name", {"type": "RecordingStarted", "recording": {"format": "wav"}}),
    ("device_state_not_object", {"type": "DeviceStateChanged", "device_state": "INUSE"}),
]


@pytest.mark.parametrize("raw", [pytest.param(r, id=i) for i, r in MALFORMED])
def test_malformed_or_unknown_events_become_unknown_event(raw):
    event = parse_event(raw)
    assert isinstance(event, UnknownEvent)


def test_every_traced_event_without_its_main_object_becomes_unknown():
    for type_name in sorted({raw["type"] for _, raw in TRACED}):
        raw = _first(type_name)
        key = next(k for k in ("peer", "bridge", "recording", "playback", "device_state",
                               "channel") if k in raw)
        event = parse_event(_without(raw, key))
        if type_name == "ChannelVarset":  # a global variable has no channel
            assert isinstance(event, events.ChannelVarset)
        else:
            assert isinstance(event, UnknownEvent), type_name
            assert event.type == type_name


def test_bad_timestamp_is_none_not_an_error():
    raw = dict(_first("StasisEnd"), timestamp="yesterday")
    event = parse_event(raw)
    assert isinstance(event, events.StasisEnd) and event.timestamp is None


def test_events_are_frozen():
    event = parse_event(_first("StasisEnd"))
    with pytest.raises(AttributeError):
        event.channel = None
