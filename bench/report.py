"""Percentiles, the printed table and the JSON result files."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class Row:
    backend: str
    case: str
    n: int
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    target: str = ""
    verdict: str = ""
    note: str = ""

    @classmethod
    def timed(cls, backend: str, case: str, samples_ms: Sequence[float], *, target: str = "",
              limit: tuple[str, float] | None = None, note: str = "") -> Row:
        row = cls(backend, case, len(samples_ms),
                  round(percentile(samples_ms, 50), 3), round(percentile(samples_ms, 95), 3),
                  round(percentile(samples_ms, 99), 3), target, "", note)
        if limit is not None:
            value = getattr(row, f"{limit[0]}_ms")
            row.verdict = "meets" if value < limit[1] else "MISSES"
        return row


@dataclass
class Result:
    name: str
    title: str
    command: str
    scale: dict[str, Any]
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = "ok"
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows"] = [asdict(r) for r in self.rows]
        return data


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


COLUMNS = ("backend", "case", "n", "p50_ms", "p95_ms", "p99_ms", "target", "verdict")


def table(rows: Sequence[Row]) -> list[str]:
    cells = [list(COLUMNS)] + [[_cell(getattr(r, c)) for c in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    out = ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    out.insert(1, "  ".join("-" * w for w in widths))
    return out


def print_result(result: Result, machine_lines: list[str]) -> None:
    if result.status == "not yet":
        print(f"\n== {result.name}: {result.title}: NOT YET")
        for note in result.notes:
            print(f"  * {note}")
        return
    print(f"\n== {result.name}: {result.title} ({result.status}, {result.seconds:.1f} s)")
    print(f"command : {result.command}")
    print(f"scale   : {', '.join(f'{k}={v}' for k, v in result.scale.items())}")
    for line in machine_lines:
        print(line)
    if result.rows:
        print()
        for line in table(result.rows):
            print("  " + line)
    for row in result.rows:
        if row.note:
            print(f"  note ({row.backend} {row.case}): {row.note}")
    for note in result.notes:
        print(f"  * {note}")


def write(result: Result, folder: Path = RESULTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = result.started_at.replace(":", "").replace("-", "").replace("+0000", "Z")
    data = json.dumps(result.to_json(), indent=1) + "\n"
    path = folder / f"{result.name}-{stamp}.json"
    for target in (path, folder / f"{result.name}-latest.json"):
        tmp = target.with_suffix(".tmp")
        tmp.write_text(data)
        tmp.replace(target)
    return path
