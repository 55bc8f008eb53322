"""``PbxSimulator``: the engine behind an aiohttp server, plus the scripted-people API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from callcontrol.pbxsim.engine import PbxEngine
from callcontrol.pbxsim.model import Bridge, Channel, Device, LiveRecording, SimCall, ari_timestamp
from callcontrol.pbxsim.server import EventConn, Route, build_app

logger = logging.getLogger("callcontrol.pbxsim")


class PbxSimulator:
    """A simulated Asterisk 22 speaking ARI, with the lab dialplan and scripted people.

    ``time_scale`` multiplies every simulated delay (rings, waits, DTMF, hang-up timers),
    so tests run at e.g. 0.01. Recordings last as long as they really ran (wall clock), so
    with a small scale they are short too; ``RecordingFinished.duration`` is whole seconds.
    """

    def __init__(self, *, username: str = "callcontrol", password: str = "callcontrol",  # noqa: S107 (the lab ari.conf user)
                 recordings_dir: Path, time_scale: float = 1.0,
                 asterisk_id: str = "02:fc:00:00:00:01", stasis_app: str = "callcontrol",
                 originate_timeout: float = 30.0) -> None:
        self.username = username
        self.password = password
        self.engine = PbxEngine(recordings_dir=recordings_dir, time_scale=time_scale,
                                asterisk_id=asterisk_id, stasis_app=stasis_app,
                                originate_timeout=originate_timeout)
        self.host = "127.0.0.1"
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self.response_listeners: list[Callable[[Route, int, Any], None]] = []
        self._open: set[EventConn] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{self.host}:{self.port}/ari"

    @property
    def base_url(self) -> str:
        return self.url[: -len("/ari")]

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve ARI on ``host:port`` (0 = any free port); returns the port."""
        self.engine._loop = asyncio.get_running_loop()
        self._runner = web.AppRunner(build_app(self), access_log=None,
                                     handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, host, port, backlog=1024,
                                 reuse_address=True)
        await self._site.start()
        server = self._site._server
        assert server is not None
        sockets = getattr(server, "sockets", None) or []
        self.host = host
        self.port = sockets[0].getsockname()[1] if sockets else port
        logger.info("pbxsim: ARI on %s (time scale %s)", self.url, self.engine.time_scale)
        return self.port

    async def close(self) -> None:
        await self.drop_websockets()
        self.engine.reset_calls()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> PbxSimulator:
        if self.port is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ inspectable state
    @property
    def channels(self) -> dict[str, Channel]:
        return self.engine.channels

    @property
    def bridges(self) -> dict[str, Bridge]:
        return self.engine.bridges

    @property
    def live_recordings(self) -> dict[str, LiveRecording]:
        return self.engine.live_recordings

    @property
    def stored_recordings(self) -> dict[str, Path]:
        return self.engine.stored_recordings()

    @property
    def devices(self) -> dict[str, Device]:
        return self.engine.devices

    @property
    def crashed(self) -> bool:
        return self.engine.crashed

    @property
    def counters(self) -> dict[str, int]:
        return self.engine.counters

    @property
    def time_scale(self) -> float:
        return self.engine.time_scale

    async def wait_for(self, predicate: Callable[..., Any], timeout: float = 5.0) -> None:
        await self.engine.wait_for(predicate, timeout)

    def add_event_listener(self, listener: Callable[[dict[str, Any], set[str]], None]) -> None:
        """Call ``listener(event, target_apps)`` for every event emitted (tests validate them)."""
        self.engine.listeners.append(listener)

    def observe(self, route: Route, status: int, body: Any) -> None:
        for listener in self.response_listeners:
            listener(route, status, body)

    # ------------------------------------------------------------------ scripted people
    async def place_call(self, *, number: str = "+35799123456", name: str = "",
                         extension: str = "caller", app_args: str | None = None,
                         hangup_after: float | None = None, dtmf: str | None = None,
                         dtmf_after: float = 2.0, give_up_after: float | None = None,
                         dialled: str = "+35722000000", technology: str = "Local") -> SimCall:
        """A PSTN caller rings in (``Local/<dialled>@from-pstn``, the ``;2`` enters Stasis).

        ``extension`` is the lab behaviour (caller / caller-dtmf / caller-hangup);
        ``hangup_after``/``dtmf`` (seconds after answer) override it; ``give_up_after`` is how
        long the caller waits unanswered (default: the 30 s originate timeout).
        ``technology="PJSIP"`` makes a SIP phone call in instead (one ``PJSIP/sipp-N`` channel).
        """
        if self.engine.crashed:
            raise RuntimeError("the simulated Asterisk has crashed; call restart() first")
        return self.engine.place_call_now(
            number=number, name=name, extension=extension, app_args=app_args,
            hangup_after=hangup_after, dtmf=dtmf, dtmf_after=dtmf_after,
            give_up_after=give_up_after, dialled=dialled, technology=technology)

    def set_device(self, endpoint: str, *, answer_after: float = 0.5,
                   behaviour: str = "answer", hangup_after: float | None = None,
                   dtmf: str | None = None) -> Device:
        """Configure the person at agent phone ``PJSIP/<ext>``."""
        return self.engine.set_device(endpoint, answer_after=answer_after, behaviour=behaviour,
                                      hangup_after=hangup_after, dtmf=dtmf)

    async def send_dtmf(self, channel_id: str, digits: str) -> None:
        """The person on that call (either half may be given) presses keys."""
        self.engine.send_dtmf_from_person(channel_id, digits)

    async def hangup(self, channel_id: str, cause: int = 16) -> None:
        """The person on that call hangs up (either half of a Local pair may be given)."""
        self.engine.person_hangup(self.engine.person_side(channel_id), cause)

    # ------------------------------------------------------------------ websockets, crashes
    def register_conn(self, conn: EventConn) -> None:
        """A new events socket for an app takes over from the older one (which gets
        ``ApplicationReplaced`` and nothing more, as the ARI docs say)."""
        for app in conn.apps:
            old = self.engine.conns.get(app, [])
            for previous in old:
                previous.push(json.dumps({"type": "ApplicationReplaced",
                                          "timestamp": ari_timestamp(),
                                          "asterisk_id": self.engine.asterisk_id,
                                          "application": app}))
                logger.info("pbxsim: a new websocket replaced app %s", app)
            self.engine.conns[app] = [conn]
            self.engine.known_apps.add(app)
        self._open.add(conn)

    def unregister_conn(self, conn: EventConn) -> None:
        self._open.discard(conn)
        for app in conn.apps:
            conns = self.engine.conns.get(app)
            if conns and conn in conns:
                conns.remove(conn)
                if not conns:
                    del self.engine.conns[app]

    async def drop_websockets(self) -> int:
        """Close every events websocket, like a network drop (state is kept)."""
        conns = {id(c): c for cs in self.engine.conns.values() for c in cs}
        conns.update({id(c): c for c in self._open})
        self.engine.conns.clear()
        self._open.clear()
        for conn in conns.values():
            conn.closed = True
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"pbxsim: websocket dropped")
        return len(conns)

    def crash(self, why: str) -> None:
        """Emulate the segfault of Asterisk 22.10.1: sockets drop, every request gets 503."""
        self.engine.crashed = True
        self.engine.counters["crashes"] += 1
        logger.critical("pbxsim: SIMULATED ASTERISK CRASH (%s) - the real Asterisk 22.10.1 "
                        "segfaults here; every request now gets 503 until restart()", why)
        asyncio.get_running_loop().create_task(self.drop_websockets())

    async def restart(self) -> None:
        """Like restarting Asterisk: sockets drop, calls and bridges are gone (no events),
        stored recordings and device settings stay."""
        await self.drop_websockets()
        self.engine.reset_calls()
        self.engine.counters["restarts"] += 1
        logger.warning("pbxsim: restarted; all channels and bridges are gone")
