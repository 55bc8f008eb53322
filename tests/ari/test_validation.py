"""Bad arguments are refused on our side, before anything reaches Asterisk (whose own
validation is loose: see the errors trace)."""

from __future__ import annotations

import pytest

CH = "1795347291.1"

BAD_CALLS = [
    # what Asterisk accepted with 200 or answered 500 in the errors trace
    ("unknown_technology", lambda c: c.channels.originate("NoSuchTech/1001", app="callcontrol"),
     "unknown technology"),
    ("endpoint_without_slash", lambda c: c.channels.originate("garbage", app="callcontrol"),
     "Tech/resource"),
    ("endpoint_without_resource", lambda c: c.channels.originate("PJSIP/", app="callcontrol"),
     "Tech/resource"),
    ("neither_app_nor_extension", lambda c: c.channels.originate("Local/1001@agents"),
     "exactly one of app"),
    ("both_app_and_extension", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", extension="1001"), "exactly one of app"),
    ("app_args_without_app", lambda c: c.channels.originate(
        "Local/1001@agents", extension="1001", app_args="x"), "app_args"),
    ("context_with_app", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", context="agents"), "context"),
    ("timeout_not_int", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", timeout="abc"), "timeout"),
    ("timeout_zero", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", timeout=0), "timeout"),
    ("variables_not_mapping", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", variables="not-an-object"), "variables"),
    ("variable_value_not_text", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", variables={"A": None}), "variable"),
    ("create_empty_app", lambda c: c.channels.create("Local/1001@agents", app=""), "app"),
    ("channel_id_with_slash", lambda c: c.channels.answer("a/b"), "channel_id"),
    ("empty_channel_id", lambda c: c.channels.get(""), "channel_id"),
    ("channel_id_not_str", lambda c: c.channels.hangup(42), "channel_id"),
    ("hangup_reason", lambda c: c.channels.hangup(CH, reason="no-such-reason"), "reason"),
    ("mute_direction", lambda c: c.channels.mute(CH, direction="sideways"), "direction"),
    ("unmute_direction", lambda c: c.channels.unmute(CH, direction=""), "direction"),
    ("dial_negative_timeout", lambda c: c.channels.dial(CH, timeout=-5), "timeout"),
    ("dtmf_empty", lambda c: c.channels.send_dtmf(CH, ""), "dtmf"),
    ("dtmf_letters", lambda c: c.channels.send_dtmf(CH, "12x"), "dtmf"),
    ("dtmf_duration_zero", lambda c: c.channels.send_dtmf(CH, "1", duration=0), "duration"),
    ("play_without_media", lambda c: c.channels.play(CH, []), "media"),
    ("play_media_with_comma", lambda c: c.channels.play(CH, "sound:a,sound:b"), "media"),
    ("record_escaping_name", lambda c: c.channels.record(CH, "../escape"), "recording name"),
    ("record_if_exists", lambda c: c.channels.record(CH, "r1", if_exists="bogus"),
     "if_exists"),
    ("record_terminate_on", lambda c: c.channels.record(CH, "r1", terminate_on="x"),
     "terminate_on"),
    ("record_negative_duration", lambda c: c.channels.record(
        CH, "r1", max_duration_seconds=-1), "max_duration_seconds"),
    ("record_beep_not_bool", lambda c: c.channels.record(CH, "r1", beep="yes"), "beep"),
    ("snoop_nothing", lambda c: c.channels.snoop(CH, app="callcontrol"), "spy or whisper"),
    ("snoop_bad_spy", lambda c: c.channels.snoop(CH, app="callcontrol", spy="all"), "spy"),
    ("get_variable_empty", lambda c: c.channels.get_variable(CH, ""), "variable"),
    ("set_variable_empty", lambda c: c.channels.set_variable(CH, "", "x"), "variable"),
    ("continue_priority_and_label", lambda c: c.channels.continue_in_dialplan(
        CH, priority=1, label="start"), "priority or label"),
    ("redirect_bad_endpoint", lambda c: c.channels.redirect(CH, "Nope/1"), "technology"),
    ("bridge_type", lambda c: c.bridges.create(type="no-such-type"), "bridge type"),
    ("bridge_record_without_format", lambda c: c.bridges.record("b1", "r1", format=None),
     "format"),
    ("bridge_record_empty_format", lambda c: c.bridges.record("b1", "r1", format=""),
     "format"),
    ("bridge_record_without_name", lambda c: c.bridges.record("b1", ""), "recording name"),
    ("add_no_channel", lambda c: c.bridges.add_channel("b1", []), "channel"),
    ("add_bad_channel", lambda c: c.bridges.add_channel("b1", ["ok", "x/y"]), "channel"),
    ("remove_bad_bridge", lambda c: c.bridges.remove_channel("", "c1"), "bridge_id"),
    ("live_recording_name", lambda c: c.recordings.stop("../x"), "recording name"),
    ("stored_recording_name", lambda c: c.recordings.download(".hidden"), "recording name"),
    ("playback_operation", lambda c: c.playbacks.control("pb", "no-such-op"), "operation"),
    ("endpoint_tech", lambda c: c.endpoints.get("Nope", "1001"), "technology"),
    ("event_source_scheme", lambda c: c.applications.subscribe("callcontrol", "nope:1"),
     "event_source"),
    ("device_state", lambda c: c.device_states.update("Stasis:a", "bogus"), "device state"),
    ("module_name", lambda c: c.asterisk.reload_module(""), "module"),
]


@pytest.mark.parametrize(("call", "mentions"),
                         [pytest.param(row[1], row[2], id=row[0]) for row in BAD_CALLS])
async def test_bad_arguments_raise_before_sending(fake_ari, call, mentions):
    fake, client = fake_ari
    with pytest.raises(ValueError, match=mentions):
        await call(client)
    assert fake.requests == []
