"""Plot of pop latency (p50, p95, p99) against the call rate, from a call-storm result.

``python -m bench`` draws it after every call-storm run into ``bench/results/``; a ``--full``
run also copies it to ``docs/performance-pop-latency.png``. By hand, from the latest result
file: ``python -m bench.plot [--results DIR] [--doc]``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.report import RESULTS

DOC_PNG = Path(__file__).resolve().parents[1] / "docs" / "performance-pop-latency.png"
PNG_NAME = "call-storm-pop-latency.png"
TARGET_RATE, TARGET_P99_MS = 100.0, 25.0


def series(result: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Rows with a latency, per (backend, pipeline), ordered by rate."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in result.get("rows", []):
        if not row.get("pipeline") or not row.get("n") or row.get("p50_ms") is None:
            continue
        out.setdefault((row["backend"], row["pipeline"]), []).append(row)
    for rows in out.values():
        rows.sort(key=lambda r: r["rate"])
    return out


def draw(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = series(result)
    if not lines:
        raise ValueError("the result has no call-storm rows with latencies to plot")
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, ((backend, pipeline), rows) in enumerate(sorted(lines.items())):
        colour = colours[i % len(colours)]
        rates = [r["rate"] for r in rows]
        label = f"{pipeline}, {backend}" if pipeline == "callcontrol" else f"floor ({backend})"
        style = "-" if pipeline == "callcontrol" else ":"
        for stat, marker, alpha in (("p50", "o", 0.55), ("p95", "s", 0.75), ("p99", "^", 1.0)):
            ax.plot(rates, [r[f"{stat}_ms"] for r in rows], style, marker=marker, color=colour,
                    alpha=alpha, label=f"{label} {stat}")
    top = max(r["rate"] for rows in lines.values() for r in rows)
    ax.set_xlim(0, max(top, TARGET_RATE) * 1.05)
    ax.axhline(TARGET_P99_MS, color="red", linestyle="--", linewidth=1)
    ax.annotate(f"target: p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} calls/s",
                (TARGET_RATE, TARGET_P99_MS), textcoords="offset points", xytext=(5, 5),
                color="red", fontsize=8)
    ax.set_xlabel("inbound calls per second")
    ax.set_ylabel("pop latency, StasisStart -> call.ringing (ms)")
    ax.set_yscale("log")
    m = result.get("machine", {})
    ax.set_title(f"Pop latency against call rate ({result.get('scale', {}).get('mode', '?')}, "
                 f"{result.get('scale', {}).get('contacts', 0):,} contacts)\n"
                 f"{m.get('cores', '?')} cores, load {m.get('load_average') or '?'}, "
                 f"{result.get('started_at', '')}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def write(result: dict[str, Any], folder: Path = RESULTS, *, doc: Path | None = None) -> Path:
    """Draw into ``folder``; with ``doc``, copy it there too (the docs show --full runs)."""
    path = draw(result, folder / PNG_NAME)
    if doc is not None:
        doc.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, doc)
    return path


def latest(folder: Path = RESULTS) -> dict[str, Any] | None:
    """The latest --full call-storm result, else the latest of any mode."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("call-storm-2*.json"))]
    full = [r for r in runs if r.get("scale", {}).get("mode") == "full"]
    return (full or runs or [None])[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", action="store_true", help=f"also copy to {DOC_PNG.name}")
    args = parser.parse_args(argv)
    result = latest(args.results)
    if result is None:
        print(f"no call-storm results in {args.results}; run python -m bench --only call-storm",
              file=sys.stderr)
        return 1
    print(write(result, args.results, doc=DOC_PNG if args.doc else None))
    return 0


if __name__ == "__main__":
    sys.exit(main())
