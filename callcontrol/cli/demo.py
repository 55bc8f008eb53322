"""``callcontrol demo``: the whole loop on embedded defaults (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
from typing import Any

from callcontrol.cli import CliError


def _non_negative(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError("must be zero or more")
    return number


def _contacts(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if not 10 <= number <= 1_000_000:
        raise argparse.ArgumentTypeError("must be between 10 and 1000000")
    return number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the demo: seeded CRM, demo users, the PBX simulator placing calls",
        description="Seed a small CRM (when empty), print demo users with fresh passwords, "
        "start the built-in PBX simulator as the ARI server and run callcontrol serve "
        "against it. Uses the embedded defaults unless CALLCONTROL_* variables say otherwise.")
    parser.add_argument("--contacts", type=_contacts, default=1000,
                        help="contacts to seed into an empty database (default 1000)")
    parser.add_argument("--sim-port", type=int, default=8088,
                        help="port of the built-in PBX simulator's ARI (default 8088)")
    parser.add_argument("--call-every", type=_non_negative, default=45.0, metavar="SECONDS",
                        help="place a call about this often while an agent is ready "
                        "(0: only from the /demo page; default 45)")
    parser.set_defaults(func=run)


async def run(args: argparse.Namespace, config: Any) -> int:
    from callcontrol.demo import run_demo

    try:
        await run_demo(config, contacts=args.contacts, sim_port=args.sim_port,
                       call_every=args.call_every)
    except OSError as exc:
        raise CliError(f"cannot start the demo: {exc}") from exc
    return 0
