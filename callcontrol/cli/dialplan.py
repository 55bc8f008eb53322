"""``callcontrol dialplan check [PATH ...]``: lint the dialplan and apply our checks.

With no path it checks every ``*.conf`` in ``./dialplan`` (the repository's copy, which is
also what the compose stack mounts). Prints one ``file:line: message`` line per problem and
exits 1 when any is an error.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from callcontrol.cli import CliError
from callcontrol.dialplan.check import LintUnavailable, check_files


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dialplan", help="dialplan tools")
    sub = parser.add_subparsers(dest="dialplan_command", required=True)
    check = sub.add_parser(
        "check", help="check dialplan files (asterisklint + callcontrol's own rules)",
        description="Check Asterisk configuration files: extensions.conf through "
        "asterisklint, every file against callcontrol's configuration.")
    check.add_argument("paths", nargs="*", type=Path, default=[Path("dialplan")],
                       help="files or folders of *.conf files (default: ./dialplan)")
    check.set_defaults(func=_check)


def _expand(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.conf"))
        elif path.is_file():
            files.append(path)
        else:
            raise CliError(f"no such file or folder: {path}")
    if not files:
        raise CliError(f"no .conf files in {', '.join(map(str, paths))}")
    return files


def _check(args: argparse.Namespace, config: Any) -> int:
    files = _expand(list(args.paths))
    try:
        findings = check_files(list(files), config)
    except LintUnavailable as exc:
        raise CliError(str(exc)) from None
    for finding in findings:
        print(finding)
    errors = sum(f.error for f in findings)
    print(f"{len(files)} files checked, {errors} errors" if errors
          else f"{len(files)} files checked, no errors")
    return 1 if errors else 0
