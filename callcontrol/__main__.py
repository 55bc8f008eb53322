"""The ``callcontrol`` command: argv -> config -> logging -> run. The only composition root.

Each sub-command lives in a module of :mod:`callcontrol.cli` that defines
``register(subparsers)``; the parser built there sets ``func`` to a callable taking
``(args, config)`` and returning an exit code (a coroutine function is run with asyncio).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from callcontrol import __version__
from callcontrol import cli as cli_pkg
from callcontrol.cli import CliError
from callcontrol.config import ConfigError, load_config
from callcontrol.logs import setup_logging


class OneLineParser(argparse.ArgumentParser):
    """Bad CLI input gives one clear line (and exit 2), not the usage block plus an error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="callcontrol",
        description="Telephony-first call control on Asterisk ARI, "
        "with a CRM Communication Centre.",
        epilog="Configuration comes from CALLCONTROL_* environment variables; see the README.",
    )
    parser.add_argument("--version", action="version", version=f"callcontrol {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(cli_pkg.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{cli_pkg.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = load_config()
    except ConfigError as exc:
        print(f"callcontrol: configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level, config.log_format)
    func = args.func
    try:
        if inspect.iscoroutinefunction(func):
            return int(asyncio.run(func(args, config)) or 0)
        return int(func(args, config) or 0)
    except (CliError, ConfigError) as exc:
        print(f"callcontrol {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
