"""Python function calls a call costs, callcontrol against the floor: a count, not a time.

``python -m bench.pycalls`` runs the call storm twice at one rate under cProfile, for
``--duration`` seconds and for twice that, and divides the difference of the function
calls each process made (a coroutine counts once each time it resumes) by the difference
of the calls placed: what one more call costs,
without the start-up, for callcontrol (``callcontrol serve``) and for the floor
(``bench.floor``) alike. It prints both, their ratio and the functions callcontrol calls
most a call, and writes ``bench/results/pycalls-<timestamp>.json`` (and ``-latest``).

Why a count: CPU time per call moved by half between runs of the same code on the shared
two-core machines, and by a factor of three between two of them, so a change worth a few
per cent cannot be seen in it. The number of Python function calls a call makes is the
same from one run to the next (within a few per cent: timers and the heartbeat fall in
the window or not); it is not a time (a function call of asyncio's is cheaper than one of
SQLAlchemy's), but a change that removes work shows in it on any machine.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.machine import ROOT, describe
from bench.report import RESULTS

NAME = "pycalls"


@dataclass
class Count:
    """One profile's function calls (all, and per function) and the calls placed."""

    total: int
    functions: dict[str, int]
    placed: int


def read_profile(path: Path, placed: int) -> Count:
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    functions = {_name(key): value[1] for key, value in stats.items()}
    return Count(sum(functions.values()), functions, placed)


def _name(key: tuple[str, int, str]) -> str:
    filename, line, function = key
    if filename == "~":
        return function
    for marker in ("site-packages/", "lib/python3", str(ROOT) + "/"):
        if marker in filename:
            filename = filename.split(marker, 1)[1]
            if marker.startswith("lib/python3"):
                filename = filename.split("/", 1)[-1]
            break
    return f"{filename}:{line}({function})"


def per_call(short: Count, long: Count) -> tuple[float, dict[str, float]]:
    """Function calls per placed call from two runs that differ only in length: the
    difference of the counts over the difference of the calls (start-up and shut-down,
    the same in both, cancel out)."""
    extra = long.placed - short.placed
    if extra <= 0:
        raise ValueError("the longer run must place more calls")
    functions = {name: (n - short.functions.get(name, 0)) / extra
                 for name, n in long.functions.items()}
    return (long.total - short.total) / extra, functions


def _storm(backend: str, rate: float, duration: float, folder: Path,
           tag: str) -> tuple[int, dict[str, Any]]:
    """One storm under cProfile (callcontrol and the floor): the calls it placed and the
    storm's machine facts (its PostgreSQL version too)."""
    env = {**os.environ, "CALLCONTROL_BENCH_RATES": f"{rate:g}",
           "CALLCONTROL_BENCH_DURATION": f"{duration:g}",
           "CALLCONTROL_BENCH_CPROFILE": str(folder / f"callcontrol-{tag}.prof"),
           "CALLCONTROL_BENCH_CPROFILE_FLOOR": str(folder / f"floor-{tag}.prof")}
    results = folder / f"results-{tag}"
    command = [sys.executable, "-m", "bench", "--full", "--only", "call-storm", "--backend",
               backend, "--results", str(results)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,  # noqa: S603
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the storm failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    storm = json.loads((results / "call-storm-latest.json").read_text())
    placed = {r["pipeline"]: r["placed"] for r in storm["rows"]}
    if placed.get("callcontrol") != placed.get("floor"):
        raise RuntimeError(f"callcontrol and the floor placed different numbers: {placed}")
    return int(placed["callcontrol"]), storm["machine"]


def measure(backend: str, rate: float, duration: float, top: int = 25) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="cc-pycalls-") as tmp:
        folder = Path(tmp)
        # first a run that is not counted: it settles what earlier runs left (a serve
        # adopts the draft communications of calls a saturated run lost, once), which
        # would otherwise fall into the short run only
        _storm(backend, rate, 2.0, folder, "settle")
        short, _ = _storm(backend, rate, duration, folder, "short")
        long, machine = _storm(backend, rate, duration * 2, folder, "long")
        out: dict[str, Any] = {"placed": [short, long], "machine": machine}
        for pipeline in ("callcontrol", "floor"):
            total, functions = per_call(read_profile(folder / f"{pipeline}-short.prof", short),
                                        read_profile(folder / f"{pipeline}-long.prof", long))
            if total <= 0:
                raise RuntimeError(f"{pipeline}: the longer run made fewer function calls than "
                                   "the shorter; something other than calls (start-up work) "
                                   "differed between them: run again")
            busiest = sorted(functions.items(), key=lambda kv: -kv[1])[:top]
            out[pipeline] = {"calls_per_call": round(total, 1),
                             "busiest": [[name, round(n, 1)] for name, n in busiest]}
    out["ratio"] = round(out["callcontrol"]["calls_per_call"]
                         / out["floor"]["calls_per_call"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pycalls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="postgresql",
                        help="sqlite: the embedded defaults; postgresql: PostgreSQL + Redis "
                             "(default)")
    parser.add_argument("--rate", type=float, default=25.0, help="calls per second (25)")
    parser.add_argument("--duration", type=float, default=10.0,
                        help="seconds of the shorter run; the other is twice as long (10)")
    parser.add_argument("--top", type=int, default=25, help="functions listed (25)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    command = "python -m bench.pycalls " + " ".join(shlex.quote(a) for a in (argv or
                                                                               sys.argv[1:]))
    measured = measure(args.backend, args.rate, args.duration, args.top)
    machine = measured.pop("machine")
    print("\n".join(describe(machine)))
    cc, floor = measured["callcontrol"], measured["floor"]
    print(f"\nPython function calls a call, {args.backend}, {args.rate:g} calls/s "
          f"({measured['placed'][0]} and {measured['placed'][1]} calls placed):")
    print(f"  callcontrol {cc['calls_per_call']:,.0f}   floor {floor['calls_per_call']:,.0f}"
          f"   ratio x{measured['ratio']}")
    print("\n  callcontrol's busiest functions (calls a call):")
    for name, n in cc["busiest"]:
        print(f"  {n:9.1f}  {name}")
    started = datetime.now(UTC)
    result = {"name": NAME, "command": command.strip(), "machine": machine,
              "started_at": started.isoformat(timespec="seconds"), "backend": args.backend,
              "rate": args.rate, "duration": args.duration, **measured}
    args.results.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    path = args.results / f"{NAME}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text)
    (args.results / f"{NAME}-latest.json").write_text(text)
    print(f"\n  * written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
