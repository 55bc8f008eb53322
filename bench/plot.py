"""Plot of pop latency (p50, p95, p99) against the call rate, from a call-storm result.

``python -m bench`` draws it after every call-storm run into ``bench/results/``; a ``--full``
run also copies it to ``docs/performance-pop-latency.png``. By hand, from the latest result
file: ``python -m bench.plot [--results DIR] [--doc]``; ``--doc`` also renders the latest
--full call-storm, contact-view and fan-out results into ``docs/performance.md`` (between the
``bench:callpath`` markers), as ``python -m bench --write-docs`` does.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from bench.machine import speed_text as _speed
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
    fig, ax = plt.subplots(figsize=(10.5, 5.5), dpi=110)
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
                (TARGET_RATE, TARGET_P99_MS), textcoords="offset points", xytext=(-5, 5),
                ha="right", color="red", fontsize=8)
    ax.set_xlabel("inbound calls per second")
    ax.set_ylabel("pop latency, StasisStart -> call.ringing (ms)")
    ax.set_yscale("log")
    m = result.get("machine", {})
    ax.set_title(f"Pop latency against call rate ({result.get('scale', {}).get('mode', '?')}, "
                 f"{result.get('scale', {}).get('contacts', 0):,} contacts)\n"
                 f"{m.get('cores', '?')} cores, load {m.get('load_average') or '?'}, "
                 f"{_speed(m)}"
                 f"{result.get('started_at', '')}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
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


# --------------------------------------------------------------------------- the docs section

DOC = DOC_PNG.with_name("performance.md")
START, END = "<!-- bench:callpath -->", "<!-- /bench:callpath -->"


def latest_of(name: str, folder: Path = RESULTS) -> dict[str, Any] | None:
    """The latest --full result of a benchmark, else None."""
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob(f"{name}-2*.json"))]
    full = [r for r in runs if r.get("scale", {}).get("mode") == "full"]
    return full[-1] if full else None


def _ms(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("meets" if ok else "**misses**")


def _provenance(result: dict[str, Any]) -> str:
    m = result["machine"]
    load = " ".join(map(str, m.get("load_average") or []))
    return (f"`{result['command']}` on {result['started_at']}: {m['cpu']}, {m['cores']} cores, "
            f"load {load}, {_speed(m)}Python {m['python']}, "
            f"PostgreSQL {m.get('postgresql') or '-'}, "
            f"commit {m.get('git_commit') or '?'}; {result['scale']['contacts']:,} contacts.")


def _storm_targets(storm: dict[str, Any] | None) -> list[str]:
    if storm is None:
        return ["| Pop latency, cost against the floor, set-ups per core | not measured yet "
                "| - |"]
    rows = [r for r in storm["rows"] if r.get("pipeline") == "callcontrol"]
    lines = []
    at = [r for r in rows if r["rate"] == TARGET_RATE]
    for r in at or [max(rows, key=lambda r: r["rate"])] if rows else []:
        ok = r["p99_ms"] is not None and r["p99_ms"] == r["p99_ms"] \
            and r["p99_ms"] < TARGET_P99_MS and not r["failures"]
        lines.append(f"| Pop latency p99 < {TARGET_P99_MS:g} ms at {TARGET_RATE:g} calls/s "
                     f"({r['backend']}) | p99 {_ms(r['p99_ms'])} ms at {r['rate']:g} calls/s, "
                     f"{r['failures']} of {r['placed']} calls without a pop | "
                     f"{_verdict(ok if r['rate'] == TARGET_RATE else None)} |")
    for r in rows:
        if r.get("cpu_ratio") is None or r["failures"]:
            continue  # with calls abandoned, CPU per placed call understates the cost
        ok = r["cpu_ratio"] < 3 and (r.get("latency_ratio_p99") or 99) < 3
        lines.append(f"| callcontrol cost < 3x the floor ({r['backend']}, {r['rate']:g} "
                     f"calls/s) | CPU per call x{r['cpu_ratio']}, p99 latency "
                     f"x{r.get('latency_ratio_p99')} | {_verdict(ok)} |")
    # CPU per call only means something where every call was handled (no failures); each
    # backend on its own: one meeting the target says nothing of the other
    for backend in dict.fromkeys(r["backend"] for r in rows):
        clean = [r for r in rows if r["backend"] == backend and r.get("setups_per_core")
                 and not r["failures"]]
        best = max(clean, key=lambda r: r["setups_per_core"], default=None)
        if best is not None:
            lines.append(f"| >= 300 call set-ups/s before callcontrol saturates a core "
                         f"({backend}) | {best['setups_per_core']:g} set-ups/s per core (1000 / "
                         f"{best['cpu_ms_per_call']} ms CPU per call at {best['rate']:g} "
                         f"calls/s, the best rate without failures) | "
                         f"{_verdict(best['setups_per_core'] >= 300)} |")
    return lines


def _view_targets(view: dict[str, Any] | None) -> list[str]:
    if view is None:
        return ["| Contact view p95 < 50 ms | not measured yet | - |"]
    return [f"| Contact view p95 < 50 ms ({r['backend']}, {r['case']}) | p95 {_ms(r['p95_ms'])} "
            f"ms | {_verdict(r['p95_ms'] < 50)} |"
            for r in view["rows"] if r.get("target")]


def _fanout_targets(fan: dict[str, Any] | None) -> list[str]:
    if fan is None:
        return ["| 2,000 websockets in < 300 MB | not measured yet | - |"]
    return [f"| 2,000 websockets in < 300 MB ({r['backend']}) | {r['rss_after_mb']} MB with "
            f"{r['sockets']:,} ({r['kb_per_socket']} KB per socket) | "
            f"{_verdict(r['rss_after_mb'] < 300 if r['sockets'] >= 2000 else None)} |"
            for r in fan["rows"] if r.get("sockets")]


def render(folder: Path = RESULTS) -> str:
    storm, view, fan = (latest_of(n, folder) for n in ("call-storm", "contact-view", "fan-out"))
    lines = ["| Target (issue #8) | Measured | Verdict |", "| --- | --- | --- |",
             *_storm_targets(storm), *_view_targets(view), *_fanout_targets(fan), ""]
    if storm is not None:
        lines += ["### call-storm and floor", "", _provenance(storm), "",
                  f"![Pop latency against call rate]({DOC_PNG.name})", "",
                  "| Backend | Pipeline | calls/s asked | placed | popped | failures | "
                  "sustained/s | p50 ms | p95 ms | p99 ms | CPU ms/call | of it kernel "
                  "| set-ups/s per core | peak RSS MB | vs floor (p99, CPU) "
                  "| bench process CPU ms/call |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | "
                  "--- | --- | --- | --- |"]
        for r in sorted(storm["rows"], key=lambda r: (r["backend"], r["rate"], r["pipeline"])):
            ratio = (f"x{r['latency_ratio_p99']}, x{r['cpu_ratio']}"
                     if r.get("cpu_ratio") is not None else "-")
            lines.append(f"| {r['backend']} | {r['pipeline']} | {r['rate']:g} | {r['placed']} | "
                         f"{r['popped']} | {r['failures']} | {r['sustained_per_s']} | "
                         f"{_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | {_ms(r['p99_ms'])} | "
                         f"{r['cpu_ms_per_call']} | {r.get('cpu_system_ms_per_call', '-')} | "
                         f"{r['setups_per_core']} | "
                         f"{r['peak_rss_mb']} | {ratio} | {r.get('bench_cpu_ms_per_call')} |")
        lines.append("")
    if view is not None:
        lines += ["### contact-view", "", _provenance(view), "",
                  "| Backend | Case | n | p50 ms | p95 ms | p99 ms |",
                  "| --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {r['backend']} | {r['case']} | {r['n']} | {_ms(r['p50_ms'])} | "
                  f"{_ms(r['p95_ms'])} | {_ms(r['p99_ms'])} |" for r in view["rows"]]
        lines.append("")
    if fan is not None:
        lines += ["### fan-out", "", _provenance(fan), ""]
        lines += [f"- {r['backend']}, {r['case']}: " + (
            f"p50 {_ms(r['p50_ms'])} ms, p95 {_ms(r['p95_ms'])} ms, p99 {_ms(r['p99_ms'])} ms"
            if r.get("p50_ms") is not None else "") + f" ({r['note']})" for r in fan["rows"]]
        lines.append("")
    return "\n".join(lines)


def update_doc(doc: Path = DOC, folder: Path = RESULTS) -> None:
    """Replace the section between the call-path markers of ``doc`` with ``render()``."""
    text = doc.read_text()
    head, found, rest = text.partition(START)
    if not found:
        raise ValueError(f"{doc} has no {START} marker")
    _, _, tail = rest.partition(END)
    doc.write_text(f"{head}{START}\n{render(folder)}\n{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.plot", description=__doc__)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--doc", action="store_true", help=f"also copy it to {DOC_PNG.name} and "
                        "render the latest --full call-path results into performance.md")
    args = parser.parse_args(argv)
    result = latest(args.results)
    if result is None:
        print(f"no call-storm results in {args.results}; run python -m bench --only call-storm",
              file=sys.stderr)
        return 1
    print(write(result, args.results, doc=DOC_PNG if args.doc else None))
    if args.doc:
        update_doc(folder=args.results)
        print(f"updated the call-path section of {DOC.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
