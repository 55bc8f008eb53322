"""Every client method: the exact request it sends (method, path, query, body) and what it
returns, against a recording HTTP server. One table per resource family."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from callcontrol.ari import models
from tests.ari.conftest import (
    APPLICATION,
    BRIDGE,
    CHANNEL,
    DEVICE,
    ENDPOINT,
    LIVE,
    PLAYBACK,
    STORED,
)

CH = "1795347291.1"
BR = BRIDGE["id"]
REC = "call-1795347291"

# (id, call, reply body (None -> 204), method, path, query, body, check on the result)
CHANNELS = [
    ("list", lambda c: c.channels.list(), [CHANNEL], "GET", "/ari/channels", {}, None,
     lambda r: [ch.id for ch in r] == [CH] and isinstance(r[0], models.Channel)),
    ("get", lambda c: c.channels.get(CH), CHANNEL, "GET", f"/ari/channels/{CH}", {}, None,
     lambda r: r.state == "Ring" and r.caller.number == "+35799123456"),
    ("originate_app", lambda c: c.channels.originate(
        "Local/1001@agents", app="callcontrol", app_args="agent,b1", caller_id="+35799123456",
        variables={"CALL_ID": "k1"}),
     CHANNEL, "POST", "/ari/channels",
     {"endpoint": "Local/1001@agents", "app": "callcontrol", "appArgs": "agent,b1",
      "callerId": "+35799123456", "timeout": "30"},
     {"variables": {"CALL_ID": "k1"}}, lambda r: r.id == CH),
    ("originate_dialplan", lambda c: c.channels.originate(
        "Local/+35722000000@from-pstn", context="inbound", extension="caller", priority=1,
        caller_id="+35799123456", timeout=8, channel_id="my-id", other_channel_id="my-id2",
        originator="c0", formats=["ulaw", "alaw"]),
     CHANNEL, "POST", "/ari/channels",
     {"endpoint": "Local/+35722000000@from-pstn", "context": "inbound", "extension": "caller",
      "priority": "1", "callerId": "+35799123456", "timeout": "8", "channelId": "my-id",
      "otherChannelId": "my-id2", "originator": "c0", "formats": "ulaw,alaw"},
     None, lambda r: r.id == CH),
    ("create", lambda c: c.channels.create("PJSIP/1001", app="callcontrol", app_args="x",
                                           channel_id="n1", variables={"A": "1"}),
     CHANNEL, "POST", "/ari/channels/create",
     {"endpoint": "PJSIP/1001", "app": "callcontrol", "appArgs": "x", "channelId": "n1"},
     {"variables": {"A": "1"}}, lambda r: r.id == CH),
    ("dial", lambda c: c.channels.dial(CH, caller="c0", timeout=15), None, "POST",
     f"/ari/channels/{CH}/dial", {"caller": "c0", "timeout": "15"}, None, lambda r: r is None),
    ("answer", lambda c: c.channels.answer(CH), None, "POST", f"/ari/channels/{CH}/answer",
     {}, None, lambda r: r is None),
    ("ring", lambda c: c.channels.ring(CH), None, "POST", f"/ari/channels/{CH}/ring", {}, None,
     lambda r: r is None),
    ("ring_stop", lambda c: c.channels.ring_stop(CH), None, "DELETE",
     f"/ari/channels/{CH}/ring", {}, None, lambda r: r is None),
    ("hangup", lambda c: c.channels.hangup(CH), None, "DELETE", f"/ari/channels/{CH}",
     {"reason": "normal"}, None, lambda r: r is None),
    ("hangup_busy", lambda c: c.channels.hangup(CH, reason="busy"), None, "DELETE",
     f"/ari/channels/{CH}", {"reason": "busy"}, None, lambda r: r is None),
    ("hold", lambda c: c.channels.hold(CH), None, "POST", f"/ari/channels/{CH}/hold", {},
     None, lambda r: r is None),
    ("unhold", lambda c: c.channels.unhold(CH), None, "DELETE", f"/ari/channels/{CH}/hold",
     {}, None, lambda r: r is None),
    ("mute", lambda c: c.channels.mute(CH, direction="in"), None, "POST",
     f"/ari/channels/{CH}/mute", {"direction": "in"}, None, lambda r: r is None),
    ("unmute", lambda c: c.channels.unmute(CH), None, "DELETE", f"/ari/channels/{CH}/mute",
     {"direction": "both"}, None, lambda r: r is None),
    ("start_moh", lambda c: c.channels.start_moh(CH, moh_class="default"), None, "POST",
     f"/ari/channels/{CH}/moh", {"mohClass": "default"}, None, lambda r: r is None),
    ("start_moh_default", lambda c: c.channels.start_moh(CH), None, "POST",
     f"/ari/channels/{CH}/moh", {}, None, lambda r: r is None),
    ("stop_moh", lambda c: c.channels.stop_moh(CH), None, "DELETE", f"/ari/channels/{CH}/moh",
     {}, None, lambda r: r is None),
    ("play", lambda c: c.channels.play(CH, "sound:hello-world", lang="en"), PLAYBACK, "POST",
     f"/ari/channels/{CH}/play", {"media": "sound:hello-world", "lang": "en"}, None,
     lambda r: isinstance(r, models.Playback) and r.state == "queued"),
    ("play_list_with_id", lambda c: c.channels.play(
        CH, ["digits:42", "number:17", "sound:beep"], playback_id="pb-list-1"),
     PLAYBACK, "POST", f"/ari/channels/{CH}/play/pb-list-1",
     {"media": "digits:42,number:17,sound:beep"}, None, lambda r: r.id == "pb-1"),
    ("record", lambda c: c.channels.record(CH, "rec-1"), LIVE, "POST",
     f"/ari/channels/{CH}/record",
     {"name": "rec-1", "format": "wav", "maxDurationSeconds": "0", "maxSilenceSeconds": "0",
      "ifExists": "fail", "beep": "false", "terminateOn": "none"}, None,
     lambda r: isinstance(r, models.LiveRecording) and r.state == "queued"),
    ("snoop", lambda c: c.channels.snoop(CH, app="callcontrol", spy="both",
                                         app_args="snoop,1"),
     CHANNEL, "POST", f"/ari/channels/{CH}/snoop",
     {"spy": "both", "whisper": "none", "app": "callcontrol", "appArgs": "snoop,1"}, None,
     lambda r: r.id == CH),
    ("get_variable", lambda c: c.channels.get_variable(CH, "CALL_ID"), {"value": "k1"}, "GET",
     f"/ari/channels/{CH}/variable", {"variable": "CALL_ID"}, None, lambda r: r == "k1"),
    ("set_variable", lambda c: c.channels.set_variable(CH, "CALL_ID", "k1"), None, "POST",
     f"/ari/channels/{CH}/variable", {"variable": "CALL_ID", "value": "k1"}, None,
     lambda r: r is None),
    ("continue", lambda c: c.channels.continue_in_dialplan(CH, context="agents",
                                                           extension="1001", priority=1),
     None, "POST", f"/ari/channels/{CH}/continue",
     {"context": "agents", "extension": "1001", "priority": "1"}, None, lambda r: r is None),
    ("continue_bare", lambda c: c.channels.continue_in_dialplan(CH), None, "POST",
     f"/ari/channels/{CH}/continue", {}, None, lambda r: r is None),
    ("redirect", lambda c: c.channels.redirect(CH, "PJSIP/1002"), None, "POST",
     f"/ari/channels/{CH}/redirect", {"endpoint": "PJSIP/1002"}, None, lambda r: r is None),
    ("send_dtmf", lambda c: c.channels.send_dtmf(CH, "9*", between=100, duration=100), None,
     "POST", f"/ari/channels/{CH}/dtmf", {"dtmf": "9*", "between": "100", "duration": "100"},
     None, lambda r: r is None),
]

BRIDGES = [
    ("create", lambda c: c.bridges.create(name="call-1"), BRIDGE, "POST", "/ari/bridges",
     {"type": "mixing", "name": "call-1"}, None,
     lambda r: isinstance(r, models.Bridge) and r.channels == (CH, "1795347291.2")),
    ("create_holding_with_id", lambda c: c.bridges.create(type="holding", bridge_id="q1"),
     BRIDGE, "POST", "/ari/bridges", {"type": "holding", "bridgeId": "q1"}, None,
     lambda r: r.id == BR),
    ("list", lambda c: c.bridges.list(), [BRIDGE], "GET", "/ari/bridges", {}, None,
     lambda r: [b.id for b in r] == [BR]),
    ("get", lambda c: c.bridges.get(BR), BRIDGE, "GET", f"/ari/bridges/{BR}", {}, None,
     lambda r: r.technology == "softmix"
     and r.creationtime == datetime(2026, 11, 22, 11, 34, 51, 375000, tzinfo=UTC)),
    ("destroy", lambda c: c.bridges.destroy(BR), None, "DELETE", f"/ari/bridges/{BR}", {},
     None, lambda r: r is None),
    ("add_channel", lambda c: c.bridges.add_channel(BR, CH), None, "POST",
     f"/ari/bridges/{BR}/addChannel", {"channel": CH}, None, lambda r: r is None),
    ("add_channels_with_role", lambda c: c.bridges.add_channel(BR, [CH, "c2"], role="agent"),
     None, "POST", f"/ari/bridges/{BR}/addChannel", {"channel": f"{CH},c2", "role": "agent"},
     None, lambda r: r is None),
    ("remove_channel", lambda c: c.bridges.remove_channel(BR, CH), None, "POST",
     f"/ari/bridges/{BR}/removeChannel", {"channel": CH}, None, lambda r: r is None),
    ("record", lambda c: c.bridges.record(BR, REC, if_exists="overwrite"), LIVE, "POST",
     f"/ari/bridges/{BR}/record",
     {"name": REC, "format": "wav", "maxDurationSeconds": "0", "maxSilenceSeconds": "0",
      "ifExists": "overwrite", "beep": "false", "terminateOn": "none"}, None,
     lambda r: r.name == REC and r.target_uri == f"bridge:{BR}"),
    ("play", lambda c: c.bridges.play(BR, "sound:beep"), PLAYBACK, "POST",
     f"/ari/bridges/{BR}/play", {"media": "sound:beep"}, None, lambda r: r.id == "pb-1"),
    ("play_with_id", lambda c: c.bridges.play(BR, "sound:beep", playback_id="p9"), PLAYBACK,
     "POST", f"/ari/bridges/{BR}/play/p9", {"media": "sound:beep"}, None,
     lambda r: r.id == "pb-1"),
    ("start_moh", lambda c: c.bridges.start_moh(BR, moh_class="default"), None, "POST",
     f"/ari/bridges/{BR}/moh", {"mohClass": "default"}, None, lambda r: r is None),
    ("stop_moh", lambda c: c.bridges.stop_moh(BR), None, "DELETE", f"/ari/bridges/{BR}/moh",
     {}, None, lambda r: r is None),
]

RECORDINGS = [
    ("get_live", lambda c: c.recordings.get_live(REC), {**LIVE, "state": "recording"}, "GET",
     f"/ari/recordings/live/{REC}", {}, None, lambda r: r.state == "recording"),
    ("stop", lambda c: c.recordings.stop(REC), None, "POST",
     f"/ari/recordings/live/{REC}/stop", {}, None, lambda r: r is None),
    ("pause", lambda c: c.recordings.pause(REC), None, "POST",
     f"/ari/recordings/live/{REC}/pause", {}, None, lambda r: r is None),
    ("unpause", lambda c: c.recordings.unpause(REC), None, "DELETE",
     f"/ari/recordings/live/{REC}/pause", {}, None, lambda r: r is None),
    ("mute", lambda c: c.recordings.mute(REC), None, "POST",
     f"/ari/recordings/live/{REC}/mute", {}, None, lambda r: r is None),
    ("unmute", lambda c: c.recordings.unmute(REC), None, "DELETE",
     f"/ari/recordings/live/{REC}/mute", {}, None, lambda r: r is None),
    ("cancel", lambda c: c.recordings.cancel(REC), None, "DELETE",
     f"/ari/recordings/live/{REC}", {}, None, lambda r: r is None),
    ("list_stored", lambda c: c.recordings.list_stored(), [STORED], "GET",
     "/ari/recordings/stored", {}, None,
     lambda r: r == [models.StoredRecording(name=REC, format="wav")]),
    ("get_stored", lambda c: c.recordings.get_stored(REC), STORED, "GET",
     f"/ari/recordings/stored/{REC}", {}, None, lambda r: r.format == "wav"),
    ("download", lambda c: c.recordings.download(REC), b"RIFF\x00\x01WAVEdata", "GET",
     f"/ari/recordings/stored/{REC}/file", {}, None, lambda r: r == b"RIFF\x00\x01WAVEdata"),
    ("delete_stored", lambda c: c.recordings.delete_stored(REC), None, "DELETE",
     f"/ari/recordings/stored/{REC}", {}, None, lambda r: r is None),
]

OTHERS = [
    ("playback_get", lambda c: c.playbacks.get("pb-1"), PLAYBACK, "GET", "/ari/playbacks/pb-1",
     {}, None, lambda r: r.media_uri == "sound:hello-world"),
    ("playback_stop", lambda c: c.playbacks.stop("pb-1"), None, "DELETE",
     "/ari/playbacks/pb-1", {}, None, lambda r: r is None),
    ("playback_control", lambda c: c.playbacks.control("pb-1", "pause"), None, "POST",
     "/ari/playbacks/pb-1/control", {"operation": "pause"}, None, lambda r: r is None),
    ("endpoints_list", lambda c: c.endpoints.list(), [ENDPOINT], "GET", "/ari/endpoints", {},
     None, lambda r: r == [models.Endpoint("PJSIP", "sipp", "online", ())]),
    ("endpoint_get", lambda c: c.endpoints.get("PJSIP", "sipp"), ENDPOINT, "GET",
     "/ari/endpoints/PJSIP/sipp", {}, None, lambda r: r.state == "online"),
    ("application_get", lambda c: c.applications.get("callcontrol"), APPLICATION, "GET",
     "/ari/applications/callcontrol", {}, None, lambda r: r.channel_ids == ("c1",)),
    ("subscribe", lambda c: c.applications.subscribe("callcontrol", "endpoint:PJSIP/1001"),
     APPLICATION, "POST", "/ari/applications/callcontrol/subscription",
     {"eventSource": "endpoint:PJSIP/1001"}, None, lambda r: r.name == "callcontrol"),
    ("filter_events", lambda c: c.applications.filter_events(
        "callcontrol", allowed=["StasisStart", "StasisEnd"]),
     APPLICATION, "PUT", "/ari/applications/callcontrol/eventFilter", {},
     {"allowed": [{"type": "StasisStart"}, {"type": "StasisEnd"}]},
     lambda r: r.name == "callcontrol"),
    ("unsubscribe", lambda c: c.applications.unsubscribe(
        "callcontrol", ["channel:c1", "bridge:b1"]),
     APPLICATION, "DELETE", "/ari/applications/callcontrol/subscription",
     {"eventSource": "channel:c1,bridge:b1"}, None, lambda r: r.name == "callcontrol"),
    ("info", lambda c: c.asterisk.info(), {"system": {"version": "22.10.1"}}, "GET",
     "/ari/asterisk/info", {}, None, lambda r: r["system"]["version"] == "22.10.1"),
    ("ping", lambda c: c.asterisk.ping(), {"asterisk_id": "x", "ping": "pong",
                                           "timestamp": "t"},
     "GET", "/ari/asterisk/ping", {}, None, lambda r: r["ping"] == "pong"),
    ("reload_module", lambda c: c.asterisk.reload_module("res_pjsip.so"), None, "PUT",
     "/ari/asterisk/modules/res_pjsip.so", {}, None, lambda r: r is None),
    ("device_get", lambda c: c.device_states.get("Stasis:agent-1001"), DEVICE, "GET",
     "/ari/deviceStates/Stasis:agent-1001", {}, None, lambda r: r.state == "INUSE"),
    ("device_update", lambda c: c.device_states.update("Stasis:agent-1001", "BUSY"), None,
     "PUT", "/ari/deviceStates/Stasis:agent-1001", {"deviceState": "BUSY"}, None,
     lambda r: r is None),
]


def _cases(table):
    return [pytest.param(*row[1:], id=row[0]) for row in table]


@pytest.mark.parametrize(("call", "reply", "method", "path", "query", "body", "check"),
                         _cases(CHANNELS + BRIDGES + RECORDINGS + OTHERS))
async def test_method_sends_exact_request_and_returns_typed_result(
        fake_ari, call, reply, method, path, query, body, check):
    fake, client = fake_ari
    fake.reply = (204, None) if reply is None else (200, reply)
    result = await call(client)
    assert len(fake.requests) == 1
    seen = fake.requests[0]
    assert (seen.method, seen.path, seen.query, seen.body) == (method, path, query, body)
    assert seen.auth.startswith("Basic ")
    assert check(result), result


class _NameRecorder:
    """Stands in for the client: `c.channels.list()` records "channels.list"."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def __getattr__(self, namespace: str):
        seen = self.seen

        class _Namespace:
            def __getattr__(self, method: str):
                seen.add(f"{namespace}.{method}")
                return lambda *args, **kwargs: None

        return _Namespace()


def test_every_public_client_method_is_in_a_table():
    from callcontrol.ari import AriClient
    from callcontrol.config import AriConfig

    client = AriClient(AriConfig())
    public = {f"{ns}.{m}" for ns in ("channels", "bridges", "recordings", "playbacks",
                                     "endpoints", "applications", "asterisk", "device_states")
              for m in dir(getattr(client, ns)) if not m.startswith("_")}
    recorder = _NameRecorder()
    for row in CHANNELS + BRIDGES + RECORDINGS + OTHERS:
        row[1](recorder)
    assert public - recorder.seen == set()
