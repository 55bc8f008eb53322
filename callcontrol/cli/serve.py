"""``callcontrol serve``: the web UI and API, the Stasis application and FastAGI in one process."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run callcontrol (web UI/API, Stasis application, FastAGI)",
        description="Run the web UI and API, connect to ARI as the Stasis application and "
        "answer FastAGI look-ups, until SIGINT or SIGTERM. Configuration comes from "
        "CALLCONTROL_* variables (see the README).")
    parser.add_argument("--no-migrate", action="store_true",
                        help="do not apply database migrations at start")
    parser.add_argument("--no-agi", action="store_true", help="do not start the FastAGI server")
    parser.set_defaults(func=run)


async def run(args: argparse.Namespace, config: Any) -> int:
    from callcontrol.server import freeze_startup_objects, serve

    await serve(config, migrate=not args.no_migrate, with_agi=not args.no_agi,
                on_started=freeze_startup_objects)
    return 0
