"""The simulator's HTTP face: the ARI subset, the events websocket and the ``/sim`` control API.

Every ARI route is declared once in ``ARI_ROUTES`` with the parameter names it reads and its
Swagger response model, so a test can check the whole router against ``api-docs``. Parameters
come from the query string or a JSON object body (like Asterisk), ``variables`` from the body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from callcontrol.pbxsim import audio
from callcontrol.pbxsim.engine import SOUNDS, AriHttpError, AsteriskCrashed
from callcontrol.pbxsim.model import HANGUP_REASONS

if TYPE_CHECKING:
    from callcontrol.pbxsim.simulator import PbxSimulator

logger = logging.getLogger("callcontrol.pbxsim")

SIM_KEY: web.AppKey[PbxSimulator] = web.AppKey("pbxsim", object)  # type: ignore[arg-type]


class Params:
    """Request parameters: query string first, then fields of a JSON object body."""

    def __init__(self, query: dict[str, str], body: Any, allowed: frozenset[str]) -> None:
        self._query = query
        self._body = body if isinstance(body, dict) else {}
        self._allowed = allowed

    def get(self, name: str, default: str | None = None) -> str | None:
        if name not in self._allowed:  # the route table must tell the truth
            raise AssertionError(f"parameter {name!r} not declared for this route")
        if name in self._query:
            return self._query[name]
        value = self._body.get(name)
        if value is None or isinstance(value, (dict, list)):
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def int(self, name: str, default: int = 0) -> int:
        # Asterisk parses numbers leniently: "abc" is accepted (README lesson 2).
        raw = self.get(name)
        if raw is None:
            return default
        try:
            return int(float(raw))
        except ValueError:
            return default

    def bool(self, name: str, default: bool = False) -> bool:
        raw = self.get(name)
        if raw is None:
            return default
        return raw.strip().lower() in ("true", "yes", "1", "on")

    def list(self, name: str) -> list[str]:
        raw = self.get(name)
        return [v.strip() for v in raw.split(",")] if raw else []

    def body(self, name: str) -> dict[str, Any]:
        """The JSON object body itself, for an operation whose body parameter is ``name``."""
        if name not in self._allowed:
            raise AssertionError(f"parameter {name!r} not declared for this route")
        return self._body

    def variables(self) -> dict[str, Any] | None:
        if "variables" not in self._allowed:
            raise AssertionError("parameter 'variables' not declared for this route")
        value = self._body.get("variables")
        return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class Route:
    method: str
    path: str                      # Swagger path under /ari, e.g. /channels/{channelId}
    handler: Callable[..., Any]
    params: tuple[str, ...] = ()
    model: str = "void"


Result = tuple[int, Any]


def _ok(body: Any = None, status: int | None = None) -> Result:
    if body is None:
        return (status or 204, None)
    return (status or 200, body)


# ---------------------------------------------------------------------------- channels
ORIGINATE = ("endpoint", "extension", "context", "priority", "label", "app", "appArgs",
             "callerId", "timeout", "variables", "channelId", "otherChannelId", "originator",
             "formats")


def channels_list(sim: PbxSimulator, p: Params) -> Result:
    return _ok([c.json() for c in sim.channels.values()])


def _originate(sim: PbxSimulator, p: Params, channel_id: str | None) -> Result:
    ch = sim.engine.originate(
        p.get("endpoint"), app=p.get("app"), app_args=p.get("appArgs"),
        context=p.get("context"), extension=p.get("extension"),
        priority=p.int("priority", 1), label=p.get("label"), caller_id=p.get("callerId"),
        timeout=p.int("timeout", 30), variables=p.variables(),
        channel_id=channel_id if channel_id is not None else p.get("channelId"),
        other_channel_id=p.get("otherChannelId"), originator=p.get("originator"))
    return _ok(ch.json())


def channels_originate(sim: PbxSimulator, p: Params) -> Result:
    return _originate(sim, p, None)


def channels_originate_with_id(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    return _originate(sim, p, channelId)


def channels_create(sim: PbxSimulator, p: Params) -> Result:
    ch = sim.engine.create(p.get("endpoint"), app=p.get("app"), app_args=p.get("appArgs"),
                           channel_id=p.get("channelId"),
                           other_channel_id=p.get("otherChannelId"),
                           variables=p.variables())
    return _ok(ch.json())


def channels_get(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    return _ok(sim.engine.get_channel(channelId).json())


def channels_hangup(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.get_channel(channelId)
    reason, code = p.get("reason"), p.get("reason_code")
    if code is not None:
        try:
            cause = int(code)
        except ValueError:
            raise AriHttpError(400, "Invalid reason for hangup reason provided") from None
    elif reason is not None:
        if reason not in HANGUP_REASONS:
            raise AriHttpError(400, "Invalid reason for hangup reason provided")
        cause = HANGUP_REASONS[reason]
    else:
        cause = 16
    sim.engine.hangup_by_app(ch, cause)
    return _ok()


def channels_continue(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.stasis_channel(channelId)
    prio = p.get("priority")
    sim.engine.continue_in_dialplan(ch, p.get("context"), p.get("extension"),
                                    p.int("priority", 1) if prio is not None else None)
    return _ok()


def channels_redirect(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    endpoint = p.get("endpoint")
    if not endpoint:
        raise AriHttpError(400, "endpoint parameter is required")
    ch = sim.engine.stasis_channel(channelId)
    sim.engine.redirect(ch, endpoint)
    return _ok()


def channels_answer(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    sim.engine.answer(sim.engine.stasis_channel(channelId))
    return _ok()


def _flag(attr: str, value: Any) -> Callable[..., Result]:
    def handler(sim: PbxSimulator, p: Params, channelId: str) -> Result:
        setattr(sim.engine.stasis_channel(channelId), attr, value)
        return _ok()

    handler.__name__ = f"channels_{attr}_{value}"
    return handler


def channels_mute(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.stasis_channel(channelId)
    ch.muted |= _directions(p.get("direction", "both"))
    return _ok()


def channels_unmute(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.stasis_channel(channelId)
    ch.muted -= _directions(p.get("direction", "both"))
    return _ok()


def _directions(direction: str | None) -> set[str]:
    if direction == "both":
        return {"in", "out"}
    if direction in ("in", "out"):
        return {direction}
    raise AriHttpError(400, "Invalid direction specified")


def channels_moh_start(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.stasis_channel(channelId)
    ch.moh_class = p.get("mohClass") or "default"    # an unknown class is accepted (204)
    return _ok()


def channels_moh_stop(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    sim.engine.stasis_channel(channelId).moh_class = None
    return _ok()


def channels_dtmf(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.stasis_channel(channelId)
    digits = p.get("dtmf")
    if not digits:
        raise AriHttpError(400, "DTMF is required")
    for name in ("before", "between", "duration", "after"):
        p.int(name)
    ch.dtmf_sent.append(digits)        # towards the far end: no event (as recorded)
    return _ok()


def _play(sim: PbxSimulator, p: Params, target: Any, playback_id: str | None) -> Result:
    pb = sim.engine.play(target, p.list("media"), playback_id=playback_id,
                         lang=p.get("lang"))
    for name in ("offsetms", "skipms"):
        p.int(name)
    return _ok(pb.json(), 201)


def channels_play(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    return _play(sim, p, sim.engine.stasis_channel(channelId), p.get("playbackId"))


def channels_play_with_id(sim: PbxSimulator, p: Params, channelId: str,
                          playbackId: str) -> Result:
    return _play(sim, p, sim.engine.stasis_channel(channelId), playbackId)


def _record(sim: PbxSimulator, p: Params, target: Any) -> Result:
    rec = sim.engine.record(target, name=p.get("name"), fmt=p.get("format"),
                            max_duration=p.int("maxDurationSeconds"),
                            if_exists=p.get("ifExists") or "fail", beep=p.bool("beep"),
                            terminate_on=p.get("terminateOn") or "none")
    p.int("maxSilenceSeconds")
    return _ok(rec.json(), 201)


def channels_record(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    return _record(sim, p, sim.engine.stasis_channel(channelId))


def channels_get_variable(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.get_channel(channelId)
    name = p.get("variable")
    if not name:
        raise AriHttpError(400, "Variable name is required")
    return _ok({"value": sim.engine.get_variable(ch, name)})


def channels_set_variable(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.get_channel(channelId)
    name = p.get("variable")
    if not name:
        raise AriHttpError(400, "Variable name is required")
    sim.engine.set_variable(ch, name, p.get("value") or "")
    return _ok()


def channels_snoop(sim: PbxSimulator, p: Params, channelId: str,
                   snoopId: str | None = None) -> Result:
    target = sim.engine.get_channel(channelId)
    app = p.get("app")
    if not app:
        raise AriHttpError(400, "app parameter is required")
    spy, whisper = p.get("spy") or "none", p.get("whisper") or "none"
    for value in (spy, whisper):
        if value not in ("none", "both", "out", "in"):
            raise AriHttpError(400, "Invalid direction specified")
    snoop = sim.engine.snoop(target, app=app, spy=spy, whisper=whisper,
                             app_args=p.get("appArgs"),
                             snoop_id=snoopId if snoopId is not None else p.get("snoopId"))
    return _ok(snoop.created_json or snoop.json())


def channels_snoop_with_id(sim: PbxSimulator, p: Params, channelId: str,
                           snoopId: str) -> Result:
    return channels_snoop(sim, p, channelId, snoopId)


def channels_dial(sim: PbxSimulator, p: Params, channelId: str) -> Result:
    ch = sim.engine.stasis_channel(channelId)
    sim.engine.dial(ch, caller=p.get("caller"), timeout=p.int("timeout"))
    return _ok()


# ---------------------------------------------------------------------------- bridges
def bridges_list(sim: PbxSimulator, p: Params) -> Result:
    return _ok([b.json() for b in sim.bridges.values()])


def bridges_create(sim: PbxSimulator, p: Params, bridgeId: str | None = None) -> Result:
    p.variables()
    br = sim.engine.bridge_create(type_=p.get("type"),
                                  bridge_id=bridgeId if bridgeId else p.get("bridgeId"),
                                  name=p.get("name"))
    return _ok(br.json())


def bridges_create_with_id(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    return bridges_create(sim, p, bridgeId)


def bridges_get(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    return _ok(sim.engine.get_bridge(bridgeId).json())


def bridges_destroy(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    sim.engine.bridge_destroy(sim.engine.get_bridge(bridgeId))
    return _ok()


def bridges_add_channel(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    br = sim.engine.get_bridge(bridgeId)
    channels = p.list("channel")
    if not channels:
        raise AriHttpError(400, "Missing parameter channel")
    for name in ("role", "absorbDTMF", "mute", "inhibitConnectedLineUpdates"):
        p.get(name)
    sim.engine.bridge_add(br, channels)
    return _ok()


def bridges_remove_channel(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    br = sim.engine.get_bridge(bridgeId)
    channels = p.list("channel")
    if not channels:
        raise AriHttpError(400, "Missing parameter channel")
    sim.engine.bridge_remove(br, channels)
    return _ok()


def bridges_moh_start(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    sim.engine.bridge_moh(sim.engine.get_bridge(bridgeId), p.get("mohClass") or "default")
    return _ok()


def bridges_moh_stop(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    sim.engine.bridge_moh(sim.engine.get_bridge(bridgeId), None)
    return _ok()


def bridges_play(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    p.get("announcer_format")
    return _play(sim, p, sim.engine.get_bridge(bridgeId), p.get("playbackId"))


def bridges_play_with_id(sim: PbxSimulator, p: Params, bridgeId: str,
                         playbackId: str) -> Result:
    p.get("announcer_format")
    return _play(sim, p, sim.engine.get_bridge(bridgeId), playbackId)


def bridges_record(sim: PbxSimulator, p: Params, bridgeId: str) -> Result:
    p.get("recorder_format")
    return _record(sim, p, sim.engine.get_bridge(bridgeId))


# ---------------------------------------------------------------------------- recordings
def stored_list(sim: PbxSimulator, p: Params) -> Result:
    return _ok([{"name": name, "format": path.suffix[1:]}
                for name, path in sim.engine.stored_recordings().items()])


def stored_get(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
    path = sim.engine.stored(recordingName)
    return _ok({"name": recordingName, "format": path.suffix[1:]})


def stored_delete(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
    sim.engine.stored(recordingName).unlink(missing_ok=True)
    return _ok()


def stored_file(sim: PbxSimulator, p: Params, recordingName: str) -> web.Response:
    path = sim.engine.stored(recordingName)
    return web.Response(body=path.read_bytes(), content_type=audio.content_type(path.suffix[1:]))


def stored_copy(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
    path = sim.engine.stored(recordingName)
    dest = p.get("destinationRecordingName")
    if not dest:
        raise AriHttpError(400, "destinationRecordingName is required")
    if sim.engine.stored_recording(dest) is not None:
        raise AriHttpError(409, "A recording with the same name already exists on the system")
    if ".." in dest or dest.startswith("/"):
        raise AriHttpError(403, "Destination is not allowed")
    target = path.with_name(f"{dest}{path.suffix}")
    target.write_bytes(path.read_bytes())
    return _ok({"name": dest, "format": path.suffix[1:]})


def live_get(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
    return _ok(sim.engine.get_live(recordingName).json())


def live_cancel(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
    sim.engine.cancel_recording(sim.engine.get_live(recordingName))
    return _ok()


def live_stop(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
    sim.engine.stop_recording(sim.engine.get_live(recordingName))
    return _ok()


def _live_op(op: str) -> Callable[..., Result]:
    def handler(sim: PbxSimulator, p: Params, recordingName: str) -> Result:
        sim.engine.recording_control(sim.engine.get_live(recordingName), op)
        return _ok()

    handler.__name__ = f"live_{op}"
    return handler


# ---------------------------------------------------------------------------- playbacks
def playbacks_get(sim: PbxSimulator, p: Params, playbackId: str) -> Result:
    return _ok(sim.engine.get_playback(playbackId).json())


def playbacks_stop(sim: PbxSimulator, p: Params, playbackId: str) -> Result:
    sim.engine.stop_playback(sim.engine.get_playback(playbackId))
    return _ok()


def playbacks_control(sim: PbxSimulator, p: Params, playbackId: str) -> Result:
    pb = sim.engine.get_playback(playbackId)
    sim.engine.playback_control(pb, p.get("operation"))
    return _ok()


# ---------------------------------------------------------------------------- sounds
def _sound_json(sound_id: str) -> dict[str, Any]:
    return {"id": sound_id, "formats": [{"language": "en", "format": "gsm"}]}


def sounds_list(sim: PbxSimulator, p: Params) -> Result:
    lang, fmt = p.get("lang"), p.get("format")
    if (lang not in (None, "en")) or (fmt not in (None, "gsm")):
        return _ok([])
    return _ok([_sound_json(s) for s in sorted(SOUNDS)])


def sounds_get(sim: PbxSimulator, p: Params, soundId: str) -> Result:
    if soundId not in SOUNDS:
        raise AriHttpError(404, "Sound not found")
    return _ok(_sound_json(soundId))


# ---------------------------------------------------------------------------- endpoints
def _endpoint_json(sim: PbxSimulator, resource: str) -> dict[str, Any]:
    device = sim.engine.devices[resource]
    ids = [c.id for c in sim.channels.values()
           if c.device is device or c.name.startswith(f"PJSIP/{resource}-")]
    return device.json(ids)


def endpoints_list(sim: PbxSimulator, p: Params) -> Result:
    return _ok([_endpoint_json(sim, r) for r in sorted(sim.engine.devices)])


def endpoints_by_tech(sim: PbxSimulator, p: Params, tech: str) -> Result:
    if tech.upper() != "PJSIP":
        raise AriHttpError(404, "No Endpoints found - invalid tech " + tech)
    return endpoints_list(sim, p)


def endpoints_get(sim: PbxSimulator, p: Params, tech: str, resource: str) -> Result:
    if tech.upper() != "PJSIP" or resource not in sim.engine.devices:
        raise AriHttpError(404, "Endpoint not found")
    return _ok(_endpoint_json(sim, resource))


# ---------------------------------------------------------------------------- applications
def applications_list(sim: PbxSimulator, p: Params) -> Result:
    apps = sorted(sim.engine.known_apps | {a for a, c in sim.engine.conns.items() if c})
    return _ok([sim.engine.application_json(a) for a in apps])


def _known_app(sim: PbxSimulator, name: str) -> str:
    if name not in sim.engine.known_apps and not sim.engine.app_registered(name):
        raise AriHttpError(404, "Application not found")
    return name


def applications_get(sim: PbxSimulator, p: Params, applicationName: str) -> Result:
    return _ok(sim.engine.application_json(_known_app(sim, applicationName)))


def applications_subscribe(sim: PbxSimulator, p: Params, applicationName: str) -> Result:
    app = _known_app(sim, applicationName)
    sources = p.list("eventSource")
    if not sources:
        raise AriHttpError(400, "Missing parameter eventSource")
    sim.engine.subscribe(app, sources, add=True)
    return _ok(sim.engine.application_json(app))


def applications_filter(sim: PbxSimulator, p: Params, applicationName: str) -> Result:
    """Which event types the application gets (Asterisk 13.26/16.3+): ``allowed`` and
    ``disallowed`` lists of ``{"type": ...}``; a list left out keeps its value, an empty
    body clears both, an empty ``allowed`` allows everything, disallowed wins."""
    app = _known_app(sim, applicationName)
    body = p.body("filter")
    lists: dict[str, list[str] | None] = {}
    for key in ("allowed", "disallowed"):
        if key not in body:
            lists[key] = None if body else []
            continue
        items = body[key]
        if not isinstance(items, list) or not all(
                isinstance(i, dict) and isinstance(i.get("type"), str) for i in items):
            raise AriHttpError(400, f"Invalid format for {key} event filter")
        lists[key] = [i["type"] for i in items]
    sim.engine.set_event_filter(app, lists["allowed"], lists["disallowed"])
    return _ok(sim.engine.application_json(app))


def applications_unsubscribe(sim: PbxSimulator, p: Params, applicationName: str) -> Result:
    app = _known_app(sim, applicationName)
    sources = p.list("eventSource")
    if not sources:
        raise AriHttpError(400, "Missing parameter eventSource")
    subs = sim.engine.app_subscriptions.get(app, set())
    for source in sources:
        if source not in subs and not source.startswith(("channel:", "bridge:")):
            raise AriHttpError(409, "Application not subscribed to event source")
    sim.engine.subscribe(app, sources, add=False)
    return _ok(sim.engine.application_json(app))


# ---------------------------------------------------------------------------- asterisk
MODULES = {
    "res_ari.so": "Asterisk RESTful Interface", "res_stasis.so": "Stasis application support",
    "res_pjsip.so": "Basic SIP resource", "chan_pjsip.so": "PJSIP Channel Driver",
    "app_dial.so": "Dialing Application", "res_musiconhold.so": "Music On Hold Resource",
    "res_stasis_recording.so": "Stasis application recording support",
    "res_stasis_playback.so": "Stasis application playback support",
    "res_stasis_snoop.so": "Stasis application snoop support",
    "bridge_simple.so": "Simple two channel bridging module",
    "bridge_softmix.so": "Multi-party software based channel mixing",
    "bridge_holding.so": "Holding bridge module",
}


def asterisk_info(sim: PbxSimulator, p: Params) -> Result:
    info = {
        "build": {"os": "Linux", "kernel": "simulated", "machine": "x86_64",
                  "options": "callcontrol-pbxsim", "date": "2026-11-01 00:00:00 UTC",
                  "user": "pbxsim"},
        "system": {"version": "22.10.1 (callcontrol pbxsim)",
                   "entity_id": sim.engine.asterisk_id},
        "config": {"name": "pbxsim", "default_language": "en",
                   "setid": {"user": "asterisk", "group": "asterisk"}},
        "status": {"startup_time": sim.engine.started_at,
                   "last_reload_time": sim.engine.started_at},
    }
    only = p.list("only")
    if only:
        info = {k: v for k, v in info.items() if k in only}
    return _ok(info)


def asterisk_ping(sim: PbxSimulator, p: Params) -> Result:
    from callcontrol.pbxsim.model import ari_timestamp

    return _ok({"asterisk_id": sim.engine.asterisk_id, "ping": "pong",
                "timestamp": ari_timestamp()})


def _module_json(name: str) -> dict[str, Any]:
    return {"name": name, "description": MODULES[name], "use_count": 0,
            "status": "Running", "support_level": "core"}


def modules_list(sim: PbxSimulator, p: Params) -> Result:
    return _ok([_module_json(n) for n in sorted(MODULES)])


def modules_get(sim: PbxSimulator, p: Params, moduleName: str) -> Result:
    if moduleName not in MODULES:
        raise AriHttpError(404, "Module could not be found in running modules")
    return _ok(_module_json(moduleName))


def modules_reload(sim: PbxSimulator, p: Params, moduleName: str) -> Result:
    if moduleName not in MODULES:
        raise AriHttpError(404, "Module not found in running modules")
    return _ok()


def global_var_get(sim: PbxSimulator, p: Params) -> Result:
    name = p.get("variable")
    if not name:
        raise AriHttpError(400, "Variable name is required")
    return _ok({"value": sim.engine.global_vars.get(name, "")})


def global_var_set(sim: PbxSimulator, p: Params) -> Result:
    name = p.get("variable")
    if not name:
        raise AriHttpError(400, "Variable name is required")
    sim.engine.global_vars[name] = p.get("value") or ""
    return _ok()


# ---------------------------------------------------------------------------- device states
def device_states_list(sim: PbxSimulator, p: Params) -> Result:
    names = sorted(set(sim.engine.device_states) |
                   {f"PJSIP/{r}" for r in sim.engine.devices})
    return _ok([{"name": n, "state": sim.engine.device_state(n)} for n in names])


def device_states_get(sim: PbxSimulator, p: Params, deviceName: str) -> Result:
    return _ok({"name": deviceName, "state": sim.engine.device_state(deviceName)})


def device_states_update(sim: PbxSimulator, p: Params, deviceName: str) -> Result:
    sim.engine.set_device_state(deviceName, p.get("deviceState"))
    return _ok()


def device_states_delete(sim: PbxSimulator, p: Params, deviceName: str) -> Result:
    if not deviceName.startswith("Stasis:"):
        raise AriHttpError(409, "Uncontrolled device specified")
    if sim.engine.device_states.pop(deviceName, None) is None:
        raise AriHttpError(404, "Device not found")
    return _ok()


ARI_ROUTES: tuple[Route, ...] = (
    # channels
    Route("GET", "/channels", channels_list, (), "List[Channel]"),
    Route("POST", "/channels", channels_originate, ORIGINATE, "Channel"),
    Route("POST", "/channels/create", channels_create,
          ("endpoint", "app", "appArgs", "channelId", "otherChannelId", "originator",
           "formats", "variables"), "Channel"),
    Route("GET", "/channels/{channelId}", channels_get, (), "Channel"),
    Route("POST", "/channels/{channelId}", channels_originate_with_id,
          tuple(n for n in ORIGINATE if n != "channelId"), "Channel"),
    Route("DELETE", "/channels/{channelId}", channels_hangup, ("reason_code", "reason")),
    Route("POST", "/channels/{channelId}/continue", channels_continue,
          ("context", "extension", "priority", "label")),
    Route("POST", "/channels/{channelId}/redirect", channels_redirect, ("endpoint",)),
    Route("POST", "/channels/{channelId}/answer", channels_answer),
    Route("POST", "/channels/{channelId}/ring", _flag("ringing", True)),
    Route("DELETE", "/channels/{channelId}/ring", _flag("ringing", False)),
    Route("POST", "/channels/{channelId}/progress", _flag("ringing", False)),
    Route("POST", "/channels/{channelId}/dtmf", channels_dtmf,
          ("dtmf", "before", "between", "duration", "after")),
    Route("POST", "/channels/{channelId}/mute", channels_mute, ("direction",)),
    Route("DELETE", "/channels/{channelId}/mute", channels_unmute, ("direction",)),
    Route("POST", "/channels/{channelId}/hold", _flag("held", True)),
    Route("DELETE", "/channels/{channelId}/hold", _flag("held", False)),
    Route("POST", "/channels/{channelId}/moh", channels_moh_start, ("mohClass",)),
    Route("DELETE", "/channels/{channelId}/moh", channels_moh_stop),
    Route("POST", "/channels/{channelId}/silence", _flag("silenced", True)),
    Route("DELETE", "/channels/{channelId}/silence", _flag("silenced", False)),
    Route("POST", "/channels/{channelId}/play", channels_play,
          ("media", "lang", "offsetms", "skipms", "playbackId"), "Playback"),
    Route("POST", "/channels/{channelId}/play/{playbackId}", channels_play_with_id,
          ("media", "lang", "offsetms", "skipms"), "Playback"),
    Route("POST", "/channels/{channelId}/record", channels_record,
          ("name", "format", "maxDurationSeconds", "maxSilenceSeconds", "ifExists", "beep",
           "terminateOn"), "LiveRecording"),
    Route("GET", "/channels/{channelId}/variable", channels_get_variable, ("variable",),
          "Variable"),
    Route("POST", "/channels/{channelId}/variable", channels_set_variable,
          ("variable", "value")),
    Route("POST", "/channels/{channelId}/snoop", channels_snoop,
          ("spy", "whisper", "app", "appArgs", "snoopId"), "Channel"),
    Route("POST", "/channels/{channelId}/snoop/{snoopId}", channels_snoop_with_id,
          ("spy", "whisper", "app", "appArgs"), "Channel"),
    Route("POST", "/channels/{channelId}/dial", channels_dial, ("caller", "timeout")),
    # bridges
    Route("GET", "/bridges", bridges_list, (), "List[Bridge]"),
    Route("POST", "/bridges", bridges_create, ("type", "bridgeId", "name", "variables"),
          "Bridge"),
    Route("POST", "/bridges/{bridgeId}", bridges_create_with_id,
          ("type", "name", "variables"), "Bridge"),
    Route("GET", "/bridges/{bridgeId}", bridges_get, (), "Bridge"),
    Route("DELETE", "/bridges/{bridgeId}", bridges_destroy),
    Route("POST", "/bridges/{bridgeId}/addChannel", bridges_add_channel,
          ("channel", "role", "absorbDTMF", "mute", "inhibitConnectedLineUpdates")),
    Route("POST", "/bridges/{bridgeId}/removeChannel", bridges_remove_channel, ("channel",)),
    Route("POST", "/bridges/{bridgeId}/moh", bridges_moh_start, ("mohClass",)),
    Route("DELETE", "/bridges/{bridgeId}/moh", bridges_moh_stop),
    Route("POST", "/bridges/{bridgeId}/play", bridges_play,
          ("media", "announcer_format", "lang", "offsetms", "skipms", "playbackId"),
          "Playback"),
    Route("POST", "/bridges/{bridgeId}/play/{playbackId}", bridges_play_with_id,
          ("media", "announcer_format", "lang", "offsetms", "skipms"), "Playback"),
    Route("POST", "/bridges/{bridgeId}/record", bridges_record,
          ("name", "format", "recorder_format", "maxDurationSeconds", "maxSilenceSeconds",
           "ifExists", "beep", "terminateOn"), "LiveRecording"),
    # recordings
    Route("GET", "/recordings/stored", stored_list, (), "List[StoredRecording]"),
    Route("GET", "/recordings/stored/{recordingName}", stored_get, (), "StoredRecording"),
    Route("DELETE", "/recordings/stored/{recordingName}", stored_delete),
    Route("GET", "/recordings/stored/{recordingName}/file", stored_file, (), "binary"),
    Route("POST", "/recordings/stored/{recordingName}/copy", stored_copy,
          ("destinationRecordingName",), "StoredRecording"),
    Route("GET", "/recordings/live/{recordingName}", live_get, (), "LiveRecording"),
    Route("DELETE", "/recordings/live/{recordingName}", live_cancel),
    Route("POST", "/recordings/live/{recordingName}/stop", live_stop),
    Route("POST", "/recordings/live/{recordingName}/pause", _live_op("pause")),
    Route("DELETE", "/recordings/live/{recordingName}/pause", _live_op("unpause")),
    Route("POST", "/recordings/live/{recordingName}/mute", _live_op("mute")),
    Route("DELETE", "/recordings/live/{recordingName}/mute", _live_op("unmute")),
    # playbacks
    Route("GET", "/playbacks/{playbackId}", playbacks_get, (), "Playback"),
    Route("DELETE", "/playbacks/{playbackId}", playbacks_stop),
    Route("POST", "/playbacks/{playbackId}/control", playbacks_control, ("operation",)),
    # sounds
    Route("GET", "/sounds", sounds_list, ("lang", "format"), "List[Sound]"),
    Route("GET", "/sounds/{soundId}", sounds_get, (), "Sound"),
    # endpoints
    Route("GET", "/endpoints", endpoints_list, (), "List[Endpoint]"),
    Route("GET", "/endpoints/{tech}", endpoints_by_tech, (), "List[Endpoint]"),
    Route("GET", "/endpoints/{tech}/{resource}", endpoints_get, (), "Endpoint"),
    # applications
    Route("GET", "/applications", applications_list, (), "List[Application]"),
    Route("GET", "/applications/{applicationName}", applications_get, (), "Application"),
    Route("POST", "/applications/{applicationName}/subscription", applications_subscribe,
          ("eventSource",), "Application"),
    Route("PUT", "/applications/{applicationName}/eventFilter", applications_filter,
          ("filter",), "Application"),
    Route("DELETE", "/applications/{applicationName}/subscription",
          applications_unsubscribe, ("eventSource",), "Application"),
    # asterisk
    Route("GET", "/asterisk/info", asterisk_info, ("only",), "AsteriskInfo"),
    Route("GET", "/asterisk/ping", asterisk_ping, (), "AsteriskPing"),
    Route("GET", "/asterisk/modules", modules_list, (), "List[Module]"),
    Route("GET", "/asterisk/modules/{moduleName}", modules_get, (), "Module"),
    Route("PUT", "/asterisk/modules/{moduleName}", modules_reload),
    Route("GET", "/asterisk/variable", global_var_get, ("variable",), "Variable"),
    Route("POST", "/asterisk/variable", global_var_set, ("variable", "value")),
    # device states
    Route("GET", "/deviceStates", device_states_list, (), "List[DeviceState]"),
    Route("GET", "/deviceStates/{deviceName}", device_states_get, (), "DeviceState"),
    Route("PUT", "/deviceStates/{deviceName}", device_states_update, ("deviceState",)),
    Route("DELETE", "/deviceStates/{deviceName}", device_states_delete),
)
EVENTS_ROUTE = Route("GET", "/events", lambda *a: None, ("app", "subscribeAll"), "Message")


# ---------------------------------------------------------------------------- plumbing
def check_auth(request: web.Request, username: str, password: str) -> bool:
    """Basic auth or ``api_key=user:pass`` in the query string, like Asterisk."""
    expected = f"{username}:{password}"
    api_key = request.query.get("api_key")
    if api_key is not None:
        return hmac.compare_digest(api_key.encode(), expected.encode())
    header = request.headers.get("Authorization", "")
    if header[:6].lower() == "basic ":
        try:
            given = base64.b64decode(header[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected.encode())
    return False


def _json(status: int, body: Any) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _make_handler(route: Route) -> Callable[[web.Request], Any]:
    path_names = {seg[1:-1] for seg in route.path.split("/") if seg.startswith("{")}
    allowed = frozenset(route.params) | frozenset(path_names) | frozenset({"api_key"})

    async def handler(request: web.Request) -> web.StreamResponse:
        sim = request.app[SIM_KEY]
        body: Any = None
        if request.body_exists:
            raw = await request.read()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except ValueError:
                    return _json(400, {"message": "Invalid JSON in request body"})
        params = Params(dict(request.query), body, allowed)
        try:
            result = route.handler(sim, params, **request.match_info)
        except AriHttpError as exc:
            sim.observe(route, exc.status, {exc.key: exc.message})
            return _json(exc.status, {exc.key: exc.message})
        except AsteriskCrashed as exc:
            sim.crash(str(exc))
            if request.transport is not None:
                request.transport.close()      # the connection drops with no response
            return web.Response(status=503)
        if isinstance(result, web.StreamResponse):
            sim.observe(route, result.status, None)
            return result
        status, payload = result
        sim.observe(route, status, payload)
        if payload is None:
            return web.Response(status=status)
        return _json(status, payload)

    handler.__name__ = f"ari_{route.handler.__name__}"
    return handler


@web.middleware
async def ari_middleware(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
    sim = request.app[SIM_KEY]
    path = request.path
    is_ari = path == "/ari" or path.startswith("/ari/")
    is_sim = path == "/sim" or path.startswith("/sim/")
    if not (is_ari or is_sim):
        return await handler(request)
    sim.engine.counters["http_requests"] += 1
    if not check_auth(request, sim.username, sim.password):
        return _json(401, {"message": "Authentication required"})
    if is_ari and sim.crashed:
        return _json(503, {"message": "Asterisk is not running (the simulator crashed; "
                                      "restart it with POST /sim/restart)"})
    try:
        return await handler(request)
    except web.HTTPNotFound:
        return _json(404, {"message": "Resource not found"})
    except web.HTTPMethodNotAllowed:
        return _json(405, {"message": "Invalid method"})


class EventConn:
    """One events websocket: a queue drained by its own writer task, so emitting stays sync."""

    __slots__ = ("ws", "apps", "subscribe_all", "queue", "task", "closed")

    def __init__(self, ws: web.WebSocketResponse, apps: list[str], subscribe_all: bool) -> None:
        self.ws = ws
        self.apps = apps
        self.subscribe_all = subscribe_all
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.closed = False

    def push(self, text: str) -> None:
        if not self.closed:
            self.queue.put_nowait(text)

    async def writer(self) -> None:
        ws, queue = self.ws, self.queue
        try:
            while True:
                text = await queue.get()
                if text is None:
                    break
                await ws.send_str(text)
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            self.closed = True
            with contextlib.suppress(Exception):
                await ws.close()


async def events_handler(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIM_KEY]
    apps = [a for a in request.query.get("app", "").split(",") if a]
    if not apps:
        return _json(400, {"message": "Missing parameter app"})
    subscribe_all = request.query.get("subscribeAll", "").lower() in ("true", "yes", "1")
    ws = web.WebSocketResponse(autoping=True, max_msg_size=1 << 20)
    await ws.prepare(request)
    conn = EventConn(ws, apps, subscribe_all)
    conn.task = asyncio.create_task(conn.writer())
    sim.register_conn(conn)
    try:
        async for msg in ws:
            if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                break
    finally:
        sim.unregister_conn(conn)
        conn.closed = True
        conn.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.task, 1.0)
    return ws


# ---------------------------------------------------------------------------- /sim control
async def _json_body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text=json.dumps({"error": "bad_request",
                                                  "message": "body is not JSON"}),
                                 content_type="application/json") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text=json.dumps({"error": "bad_request",
                                                  "message": "body must be a JSON object"}),
                                 content_type="application/json")
    return body


def _bad(message: str, status: int = 400) -> web.Response:
    return _json(status, {"error": "bad_request" if status == 400 else "not_found",
                          "message": message})


def _opt_float(body: dict[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number")
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be a number") from None


async def sim_place_call(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = await _json_body(request)
    unknown = set(body) - {"number", "name", "extension", "hangup_after", "dtmf",
                           "dtmf_after", "give_up_after", "app_args", "dialled", "technology"}
    if unknown:
        return _bad(f"unknown fields: {', '.join(sorted(unknown))}")
    if sim.crashed:
        return _bad("the simulated Asterisk has crashed; POST /sim/restart first", 409)
    try:
        call = await sim.place_call(
            number=str(body.get("number") or ""), name=str(body.get("name") or ""),
            extension=str(body.get("extension") or "caller"),
            hangup_after=_opt_float(body, "hangup_after"),
            dtmf=body.get("dtmf"), dtmf_after=_opt_float(body, "dtmf_after") or 2.0,
            give_up_after=_opt_float(body, "give_up_after"),
            app_args=body.get("app_args"),
            dialled=str(body.get("dialled") or "+35722000000"),
            technology=str(body.get("technology") or "Local"))
    except ValueError as exc:
        return _bad(str(exc))
    return _json(201, {"caller_channel_id": call.caller_channel_id,
                       "stasis_channel_id": call.stasis_channel_id,
                       "number": call.number})


async def sim_set_device(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = await _json_body(request)
    unknown = set(body) - {"behaviour", "answer_after", "hangup_after", "dtmf"}
    if unknown:
        return _bad(f"unknown fields: {', '.join(sorted(unknown))}")
    try:
        answer_after = _opt_float(body, "answer_after")
        device = sim.set_device(request.match_info["endpoint"],
                                behaviour=str(body.get("behaviour") or "answer"),
                                answer_after=0.5 if answer_after is None else answer_after,
                                hangup_after=_opt_float(body, "hangup_after"),
                                dtmf=body.get("dtmf"))
    except ValueError as exc:
        return _bad(str(exc))
    return _json(200, {"endpoint": f"PJSIP/{device.resource}", "behaviour": device.behaviour,
                       "answer_after": device.answer_after,
                       "hangup_after": device.hangup_after, "dtmf": device.dtmf})


async def sim_dtmf(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = await _json_body(request)
    try:
        await sim.send_dtmf(request.match_info["channel_id"], str(body.get("digits") or ""))
    except AriHttpError:
        return _bad("no such channel", 404)
    except ValueError as exc:
        return _bad(str(exc))
    return web.Response(status=204)


async def sim_hangup(request: web.Request) -> web.Response:
    sim = request.app[SIM_KEY]
    body = await _json_body(request)
    cause = body.get("cause", 16)
    if isinstance(cause, bool) or not isinstance(cause, int) or not 0 <= cause <= 127:
        return _bad("cause must be a Q.850 cause code (0-127)")
    try:
        await sim.hangup(request.match_info["channel_id"], cause=cause)
    except AriHttpError:
        return _bad("no such channel", 404)
    return web.Response(status=204)


async def sim_drop(request: web.Request) -> web.Response:
    dropped = await request.app[SIM_KEY].drop_websockets()
    return _json(200, {"dropped": dropped})


async def sim_restart(request: web.Request) -> web.Response:
    await request.app[SIM_KEY].restart()
    return web.Response(status=204)


async def sim_state(request: web.Request) -> web.Response:
    return _json(200, request.app[SIM_KEY].engine.state())


SIM_ROUTES = (
    ("POST", "/sim/calls", sim_place_call),
    ("PUT", "/sim/devices/{endpoint:.+}", sim_set_device),
    ("POST", "/sim/channels/{channel_id}/dtmf", sim_dtmf),
    ("POST", "/sim/channels/{channel_id}/hangup", sim_hangup),
    ("POST", "/sim/websockets/drop", sim_drop),
    ("POST", "/sim/restart", sim_restart),
    ("GET", "/sim/state", sim_state),
)


def build_app(sim: PbxSimulator) -> web.Application:
    app = web.Application(middlewares=[ari_middleware], client_max_size=1 << 20)
    app[SIM_KEY] = sim
    app.router.add_route("GET", "/ari/events", events_handler)
    for route in ARI_ROUTES:
        app.router.add_route(route.method, "/ari" + route.path, _make_handler(route))
    for method, path, handler in SIM_ROUTES:
        app.router.add_route(method, path, handler)
    return app
