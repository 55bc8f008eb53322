"""``callcontrol seed --contacts N``: fill the CRM with realistic, deterministic data."""

from __future__ import annotations

import argparse
from typing import Any

from callcontrol.cli import CliError


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("seed", help="fill the CRM with realistic demo data")
    parser.add_argument("--contacts", type=_positive, required=True, help="how many contacts")
    parser.add_argument("--seed", type=int, default=42, help="random seed (deterministic)")
    parser.add_argument("--append", action="store_true",
                        help="add to a non-empty database instead of refusing")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_seed)


async def run_seed(args: argparse.Namespace, config: Any) -> int:
    from callcontrol.crm.db import create_engine
    from callcontrol.crm.seed import SeedError, seed

    engine = create_engine(config.database_url)
    try:
        report = await seed(engine, args.contacts, rng_seed=args.seed,
                            progress=not args.no_progress, append=args.append)
    except SeedError as exc:
        raise CliError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - one clear line, e.g. an unmigrated database
        raise CliError(f"seeding failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    finally:
        await engine.dispose()
    print(f"seeded {report.contacts} contacts ({sum(report.rows.values())} rows) "
          f"in {report.seconds:.1f} s")
    return 0
