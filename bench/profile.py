"""Where callcontrol's CPU goes: a py-spy profile of the call storm, by part of the stack.

``CALLCONTROL_BENCH_PYSPY=<folder> python -m bench --only call-storm`` records one
collapsed-stack profile of ``callcontrol serve`` per call rate (py-spy ``--gil``: only the
thread running Python). This sorts each sample into the part of the stack it was in, looking
from the innermost frame outwards for the first frame of a known part::

    python -m bench.profile <folder>/callcontrol-sqlite__embedded_-25.txt

so the results can say what limits the CPU per call, in shares that add up to 100 %.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

# (part, path fragments of its frames), innermost-first matching: the first part whose
# fragment appears in a frame's file, walking from the leaf to the root, takes the sample
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("logging", ("logging/", "callcontrol/logs")),
    ("database driver (aiosqlite, asyncpg, sqlite3)", ("aiosqlite/", "asyncpg/", "sqlite3/")),
    ("SQLAlchemy (Core, ORM, greenlet bridge)", ("sqlalchemy/", "greenlet")),
    ("JSON", ("json/", "orjson")),
    ("ARI REST client", ("callcontrol/ari/client", "callcontrol/ari/http", "aiohttp/client",
                         "aiohttp/connector", "aiohttp/tracing")),
    ("ARI events (websocket reader, models)", ("callcontrol/ari/stream", "callcontrol/ari/models",
                                               "callcontrol/ari/events")),
    ("agents' websockets, bus, web server", ("aiohttp/web", "callcontrol/desk", "callcontrol/bus",
                                             "callcontrol/web", "redis/", "aiohttp/_websocket",
                                             "aiohttp/http_websocket")),
    ("HTTP parsing, streams (aiohttp)", ("aiohttp/",)),
    ("recordings (copy to the store)", ("callcontrol/calls/store", "wave", "shutil", "os.py")),
    ("call control, agents, look-up (callcontrol)", ("callcontrol/",)),
    ("event loop (asyncio, selectors)", ("asyncio/", "selectors", "runners", "<frozen runpy>")),
)
OTHER = "other"


def part_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for part, fragments in PARTS:
            if any(f in frame for f in fragments):
                return part
    return OTHER


def read(lines: Iterable[str]) -> Counter[str]:
    """Samples per part from py-spy's raw (collapsed) format: ``frame;frame;... count``."""
    parts: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        parts[part_of(stack.split(";"))] += int(count)
    return parts


def table(parts: Counter[str], *, cpu_ms_per_call: float | None = None) -> list[str]:
    total = sum(parts.values()) or 1
    head = f"  {'part of the stack':<48} {'share':>7}"
    if cpu_ms_per_call:
        head += f" {'ms/call':>8}"
    lines = [head, "  " + "-" * (len(head) - 2)]
    for part, n in parts.most_common():
        line = f"  {part:<48} {100 * n / total:6.1f}%"
        if cpu_ms_per_call:
            line += f" {cpu_ms_per_call * n / total:8.2f}"
        lines.append(line)
    lines.append(f"  {'samples':<48} {total:>7}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description="Sort a py-spy collapsed profile of callcontrol serve (from "
                    "CALLCONTROL_BENCH_PYSPY) into parts of the stack, with their shares.")
    parser.add_argument("profile", nargs="+", type=Path, help="py-spy raw/collapsed file(s)")
    parser.add_argument("--cpu-ms-per-call", type=float, default=None,
                        help="the run's CPU ms per call: also print each part's ms per call")
    args = parser.parse_args(argv)
    for path in args.profile:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            print(f"{path}: {exc}", file=sys.stderr)
            return 1
        print(f"== {path}")
        print("\n".join(table(read(text.splitlines()), cpu_ms_per_call=args.cpu_ms_per_call)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
