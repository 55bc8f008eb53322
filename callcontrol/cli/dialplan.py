"""``callcontrol dialplan check [PATH ...]``: lint the dialplan and apply our checks."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from callcontrol.dialplan.check import check_files


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("dialplan", help="dialplan tools")
    sub = parser.add_subparsers(dest="dialplan_command", required=True)
    check = sub.add_parser("check", help="check dialplan files (asterisklint + own rules)")
    check.add_argument("paths", nargs="*", type=Path,
                       default=[Path("dialplan/extensions.conf")])
    check.set_defaults(func=_check)


def _check(args: argparse.Namespace, config: Any) -> int:
    findings = check_files(list(args.paths), config)
    for finding in findings:
        print(finding)
    return 1 if any(f.error for f in findings) else 0
