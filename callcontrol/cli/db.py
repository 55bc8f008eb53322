"""``callcontrol db upgrade``: apply the CRM migrations to CALLCONTROL_DATABASE_URL."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from callcontrol.cli import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database maintenance")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = sub.add_parser("upgrade", help="apply all migrations (alembic upgrade head)")
    up.set_defaults(func=run_upgrade)


async def run_upgrade(args: argparse.Namespace, config: Any) -> int:
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # keep stderr to real problems
    from callcontrol.crm.migrate import upgrade  # alembic logs while importing

    try:
        await asyncio.to_thread(upgrade, config.database_url)
    except OSError as exc:
        raise CliError(f"cannot reach the database: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - one clear line for any migration failure
        raise CliError(f"migration failed: {type(exc).__name__}: {exc}".splitlines()[0]) from exc
    print("database is up to date")
    return 0
