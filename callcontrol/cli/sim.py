"""``callcontrol sim``: run the PBX simulator (a simulated Asterisk speaking ARI).

    callcontrol sim --port 8088
    callcontrol sim --port 8088 --time-scale 0.1 --calls-per-second 50 --duration 60 --talk-time 5

Call control then connects to ``http://HOST:PORT/ari`` (user/password as configured). The
simulator runs the lab dialplan (``Local/1001@agents`` answers, ``Local/1099@agents`` never
does, ...); ``/sim/`` scripts callers and agent phones (see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from callcontrol.cli import CliError

logger = logging.getLogger("callcontrol.pbxsim")


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return number


def _port(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535")
    return number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim", help="run the PBX simulator (ARI + scripted callers and agents)",
        description="Run the PBX simulator: a simulated Asterisk 22 that serves ARI "
        "(REST and the /ari/events websocket) at http://HOST:PORT/ari with the lab dialplan, "
        "and a /sim/ control API to place calls, press keys, hang up, configure agent phones "
        "and drop the websocket. With --calls-per-second it also places inbound callers at "
        "that rate for --duration seconds, then prints a JSON summary.",
        epilog="Example: callcontrol sim --port 8088 --time-scale 0.1 "
        "--calls-per-second 20 --duration 30 --talk-time 5")
    parser.add_argument("--port", type=_port, required=True,
                        help="TCP port for ARI (0 picks a free one and prints it)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--username", default=None,
                        help="ARI user (default: CALLCONTROL_ARI_USERNAME, else callcontrol)")
    parser.add_argument("--password", default=None,
                        help="ARI password (default: CALLCONTROL_ARI_PASSWORD, else callcontrol)")
    parser.add_argument("--recordings-dir", type=Path, default=None,
                        help="where recordings are written as WAV files "
                        "(default: the configured recordings_dir)")
    parser.add_argument("--time-scale", type=_positive_float, default=1.0,
                        help="multiply every simulated delay (rings, waits, talk time) by "
                        "this factor; 0.1 runs ten times faster (default: 1)")
    parser.add_argument("--app", default=None,
                        help="Stasis application inbound calls enter "
                        "(default: the configured ARI app, callcontrol)")
    load = parser.add_argument_group("load generator (all three together)")
    load.add_argument("--calls-per-second", type=_positive_float, default=None, metavar="R",
                      help="place R inbound callers per second")
    load.add_argument("--duration", type=_positive_float, default=None, metavar="S",
                      help="for S seconds (wall clock)")
    load.add_argument("--talk-time", type=_positive_float, default=None, metavar="T",
                      help="each caller hangs up T seconds (scaled) after being answered")
    load.add_argument("--keep-running", action="store_true",
                      help="keep serving after the load instead of exiting")
    parser.set_defaults(func=run_sim)


async def run_sim(args: argparse.Namespace, config: Any) -> int:
    from callcontrol.pbxsim import PbxSimulator
    from callcontrol.pbxsim.load import generate_load

    load_args = (args.calls_per_second, args.duration, args.talk_time)
    if any(v is not None for v in load_args) and not all(v is not None for v in load_args):
        raise CliError("--calls-per-second, --duration and --talk-time go together")
    sim = PbxSimulator(
        username=args.username or config.ari.username,
        password=args.password or config.ari.password,
        recordings_dir=args.recordings_dir or config.calls.recordings_dir,
        time_scale=args.time_scale, stasis_app=args.app or config.ari.app)
    try:
        port = await sim.start(args.host, args.port)
    except OSError as exc:
        raise CliError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    print(f"pbxsim: ARI on http://{args.host}:{port}/ari (app {sim.engine.stasis_app}, "
          f"time scale {args.time_scale:g})", flush=True)
    try:
        if args.calls_per_second is None:
            await asyncio.Event().wait()
            return 0
        # give the Stasis app a moment to connect its websocket before the first caller
        try:
            await sim.wait_for(lambda: sim.engine.app_registered(sim.engine.stasis_app), 10.0)
        except TimeoutError:
            logger.warning("pbxsim: no app connected for %s; callers will fail",
                           sim.engine.stasis_app)
        report = await generate_load(sim, calls_per_second=args.calls_per_second,
                                     duration=args.duration, talk_time=args.talk_time)
        drain = args.talk_time * args.time_scale + 2.0
        with contextlib.suppress(TimeoutError):
            await sim.wait_for(lambda: not sim.channels and not sim.bridges, drain)
        print(json.dumps({"placed": report.placed, "failed": report.failed,
                          "seconds": round(report.seconds, 3),
                          "rate": round(report.rate, 2),
                          "channels_left": len(sim.channels),
                          "bridges_left": len(sim.bridges),
                          "counters": sim.counters}), flush=True)
        if args.keep_running:
            await asyncio.Event().wait()
        return 0 if report.failed == 0 else 1
    finally:
        await sim.close()
