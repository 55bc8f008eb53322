"""Render the latest ``--full`` results into ``docs/performance.md`` (between markers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.machine import speed_text as _speed
from bench.report import RESULTS

DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
START, END = "<!-- bench:results -->", "<!-- /bench:results -->"

# (issue #8 target, benchmark, backend, case, statistic, limit in ms); None: not measured yet.
CALL_PATH_ANCHOR = "#the-call-path-call-storm-floor-contact-view-fan-out"
TARGETS: list[tuple[str, str | None, str, str, str, float]] = [
    ("Pop latency p99 < 25 ms at 100 calls/s, 1M contacts, PostgreSQL", None, "", "", "", 0),
    ("callcontrol cost < 3x the floor", None, "", "", "", 0),
    (">= 300 call set-ups/s before a core saturates", None, "", "", "", 0),
    ("E.164 look-up p99 < 2 ms: screen pop, SQLite", "lookup", "sqlite",
     "screen-pop look-up", "p99", 2.0),
    ("E.164 look-up p99 < 2 ms: screen pop, PostgreSQL", "lookup", "postgresql",
     "screen-pop look-up", "p99", 2.0),
    ("E.164 look-up p99 < 2 ms: FastAGI, SQLite", "lookup", "sqlite",
     "FastAGI caller query", "p99", 2.0),
    ("E.164 look-up p99 < 2 ms: FastAGI, PostgreSQL", "lookup", "postgresql",
     "FastAGI caller query", "p99", 2.0),
    ("'Like' contains p95 < 150 ms (SQLite)", "search", "sqlite", "name contains 'Like'",
     "p95", 150.0),
    ("'Like' contains p95 < 50 ms (PostgreSQL)", "search", "postgresql",
     "name contains 'Like'", "p95", 50.0),
    ("Contact view p95 < 50 ms", None, "", "", "", 0),
    ("2,000 websockets in < 300 MB", None, "", "", "", 0),
]


def latest_full(name: str, folder: Path = RESULTS) -> dict[str, Any] | None:
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob(f"{name}-2*.json"))]
    full = [r for r in runs if r.get("scale", {}).get("mode") == "full"]
    return full[-1] if full else None


def _row(result: dict[str, Any], backend: str, case: str) -> dict[str, Any] | None:
    return next((r for r in result["rows"] if r["backend"] == backend and r["case"] == case),
                None)


def _targets(results: dict[str, dict[str, Any] | None]) -> list[str]:
    lines = ["| Target (issue #8) | Measured | Contacts | Verdict |", "| --- | --- | --- | --- |"]
    for label, name, backend, case, stat, limit in TARGETS:
        result = results.get(name) if name else None
        row = _row(result, backend, case) if result is not None else None
        if name is None:  # the call-path benchmarks render their own table
            lines.append(f"| {label} | see [the call path]({CALL_PATH_ANCHOR}) below | - | - |")
            continue
        if result is None or row is None:
            lines.append(f"| {label} | not measured yet | - | - |")
            continue
        value = row[f"{stat}_ms"]
        verdict = "meets" if value < limit else "**misses**"
        lines.append(f"| {label} | {stat} {value:.2f} ms | {result['scale']['contacts']:,} "
                     f"| {verdict} |")
    return lines


def _detail(result: dict[str, Any]) -> list[str]:
    m = result["machine"]
    lines = [f"### {result['name']}: {result['title']}", "",
             f"`{result['command']}` on {result['started_at']}: {m['cpu']}, {m['cores']} cores, "
             f"load {' '.join(map(str, m.get('load_average') or []))}, {_speed(m)}"
             f"Python {m['python']}, "
             f"SQLite {m['sqlite']}, PostgreSQL {m.get('postgresql') or '-'}, commit "
             f"{m.get('git_commit') or '?'}; {result['scale']['contacts']:,} contacts.", "",
             "| Backend | Case | n | p50 ms | p95 ms | p99 ms |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['backend']} | {r['case']} | {r['n']} | {r['p50_ms']:.2f} | "
              f"{r['p95_ms']:.2f} | {r['p99_ms']:.2f} |" for r in result["rows"]]
    return [*lines, ""]


def render(folder: Path = RESULTS) -> str:
    names = sorted({n for _, n, *_ in TARGETS if n})
    results = {n: latest_full(n, folder) for n in names}
    lines = _targets(results) + [""]
    for name in names:
        if (result := results[name]) is not None:
            lines += _detail(result)
    return "\n".join(lines)


def update(doc: Path = DOC, folder: Path = RESULTS) -> None:
    text = doc.read_text()
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    if not rest:
        raise ValueError(f"{doc} has no {START} marker")
    doc.write_text(f"{head}{START}\n{render(folder)}\n{END}{tail}")
