"""Facts about the machine and software a figure was measured on."""

from __future__ import annotations

import os
import platform
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy

ROOT = Path(__file__).resolve().parents[1]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        import psutil

        return round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,  # noqa: S607
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _speed_work() -> int:
    """A fixed piece of plain Python (calls, dicts, strings, ints): what a call path does."""
    seen: dict[str, int] = {}
    total = 0
    for i in range(SPEED_ITERATIONS):
        key = f"chan-{i & 1023}"
        seen[key] = seen.get(key, 0) + 1
        total += len(key) + (i % 7)
    return total + len(seen)


SPEED_ITERATIONS = 200_000


def python_speed(repeat: int = 5) -> float:
    """CPU milliseconds of :func:`_speed_work` on this machine, now (the best of ``repeat``).

    The same code measured on two of our "two-core machines" differed by a factor of about
    three (the floor's CPU per call 0.5 against 1.5 ms): a figure is only comparable with
    one from another machine next to this one. Lower is faster.
    """
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        _speed_work()
        best = min(best, time.process_time() - start)
    return round(best * 1000, 1)


def facts(postgres_version: str | None = None) -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {
        "cpu": _cpu_model(),
        "python_speed_ms": python_speed(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "load_average": [round(x, 2) for x in load] if load else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "sqlalchemy": sqlalchemy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version,
        "git_commit": _git_commit(),
    }


def speed_text(f: dict[str, Any]) -> str:
    """"Python speed N ms, " for a provenance line (empty for results from before it)."""
    speed = f.get("python_speed_ms")
    return f"Python speed {speed:g} ms (lower is faster), " if speed else ""


def describe(f: dict[str, Any]) -> list[str]:
    load = " ".join(str(x) for x in f["load_average"]) if f.get("load_average") else "?"
    return [
        f"machine : {f['cpu']}, {f['cores']} cores, {f.get('memory_gb') or '?'} GB, "
        f"load {load}, {f['os']}, Python speed {f.get('python_speed_ms') or '?'} ms "
        "(bench.machine.python_speed: lower is faster)",
        f"software: Python {f['python']}, SQLAlchemy {f['sqlalchemy']}, SQLite {f['sqlite']}, "
        f"PostgreSQL {f.get('postgresql') or 'not used'}, commit {f.get('git_commit') or '?'}",
    ]
