"""``python -m bench [--smoke|--full] [--only NAME ...]``: run the benchmarks, print a table
per benchmark with the command and machine facts, write JSON to ``bench/results/``.

--smoke (the default, what CI runs): 10,000 contacts, a few hundred queries; well under
two minutes. --full: the issue's scale, a million contacts (seeded once and kept, see
``bench/datasets.py``). ``--contacts N`` overrides the scale of either.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shlex
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bench import (
    contact_view,
    datasets,
    docs,
    fanout,
    floor,
    lookup,
    machine,
    plot,
    report,
    search,
    storm,
)
from bench.datasets import BackendUnavailable, Dataset, prepare

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Scale:
    contacts: int
    lookups: int
    searches: int


SCALES = {"smoke": Scale(10_000, 600, 30), "full": Scale(1_000_000, 5_000, 200)}


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    run: Callable[..., Awaitable[list[report.Row]]] | None = None
    queries: str = ""
    pending: str = ""  # why it is not implemented yet
    scaled: bool = False  # run(ds, mode=, queries=) sets its own scale per mode (call path)


BENCHMARKS = (
    Benchmark(storm.NAME, storm.TITLE, storm.run, scaled=True),
    Benchmark(floor.NAME, floor.TITLE, floor.run, scaled=True),
    Benchmark(lookup.NAME, lookup.TITLE, lookup.run, "lookups"),
    Benchmark(search.NAME, search.TITLE, search.run, "searches"),
    Benchmark(contact_view.NAME, contact_view.TITLE, contact_view.run, scaled=True),
    Benchmark(fanout.NAME, fanout.TITLE, fanout.run, scaled=True),
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run callcontrol's benchmarks: a table per benchmark with the command and "
        "the machine, JSON in bench/results/ (smoke runs: bench/results/smoke/, not kept in git).")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--smoke", dest="scale", action="store_const", const="smoke",
                      help="small scale, the default (CI)")
    size.add_argument("--full", dest="scale", action="store_const", const="full",
                      help="the issue's scale: a million contacts")
    parser.add_argument("--only", action="append", choices=[b.name for b in BENCHMARKS],
                        metavar="NAME", help="run only this benchmark (repeatable): "
                        + ", ".join(b.name for b in BENCHMARKS))
    parser.add_argument("--contacts", type=int, help="override the number of contacts")
    parser.add_argument("--queries", type=int, help="override the queries per case")
    parser.add_argument("--backend", action="append", choices=BACKENDS,
                        help="database backend (repeatable; default both)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "CALLCONTROL_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL server to create the cc_bench_<N> databases on (admin URL)")
    parser.add_argument("--fresh", action="store_true",
                        help="seed again even if a database of that size exists")
    parser.add_argument("--write-docs", action="store_true",
                        help="then render the latest --full results into docs/performance.md")
    parser.add_argument("--results", type=Path,
                        help="folder for the JSON results (default: bench/results for --full, "
                        "bench/results/smoke otherwise)")
    parser.add_argument("--cache", type=Path, default=datasets.CACHE,
                        help="folder for the seeded SQLite files (default: var/bench)")
    args = parser.parse_args(argv)
    args.scale = args.scale or "smoke"
    if args.results is None:
        args.results = report.RESULTS if args.scale == "full" else report.RESULTS / "smoke"
    args.command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    if args.contacts is not None and args.contacts < 100:
        parser.error("--contacts must be at least 100")
    return args


async def _datasets(args: argparse.Namespace, contacts: int) -> tuple[list[Dataset], list[str]]:
    ready, problems = [], []
    for backend in args.backend or BACKENDS:
        try:
            ready.append(await prepare(backend, contacts, admin_url=args.postgres_url,
                                       fresh=args.fresh, cache=args.cache))
        except BackendUnavailable as exc:
            problems.append(f"{backend} skipped: {exc}")
    return ready, problems


def _load_note(facts: dict) -> list[str]:
    load, cores = facts.get("load_average"), facts.get("cores") or 1
    if load and load[0] > cores:
        return [f"load average {load[0]} on {cores} cores when the run started: other "
                "processes compete for the CPU, so the tail (p95/p99) includes waiting for it"]
    return []


def _seeding_notes(datasets: list[Dataset]) -> list[str]:
    return [f"{d.backend}: seeded {d.contacts:,} contacts in {d.seeded_seconds:.1f} s"
            if d.seeded_seconds is not None else
            f"{d.backend}: reused the database seeded earlier with {d.contacts:,} contacts"
            for d in datasets]


async def _run_one(bench: Benchmark, args: argparse.Namespace, scale: Scale,
                   ready: list[Dataset], problems: list[str], facts: dict) -> report.Result:
    result = report.Result(bench.name, bench.title, args.command.strip(),
                           {"mode": args.scale, "contacts": scale.contacts}, facts)
    started = time.monotonic()
    if bench.run is None:
        result.status = "not yet"
        result.notes.append(f"not yet implemented: {bench.pending}")
        return result
    queries = args.queries or (getattr(scale, bench.queries) if bench.queries else None)
    if queries:
        result.scale["queries_per_case"] = queries
    for ds in ready:
        extra = {"mode": args.scale} if bench.scaled else {}
        result.rows += await bench.run(ds, queries=queries, **extra)
    result.notes += problems
    if problems:
        result.status = "partial"
    result.seconds = time.monotonic() - started
    return result


async def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = SCALES[args.scale]
    scale = Scale(args.contacts or base.contacts, base.lookups, base.searches)
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only]
    needs_data = any(b.run for b in chosen)
    ready, problems = await _datasets(args, scale.contacts) if needs_data else ([], [])
    pg = next((d.version for d in ready if d.backend == "postgresql"), None)
    facts = machine.facts(pg)
    lines = machine.describe(facts)
    try:
        for bench in chosen:
            result = await _run_one(bench, args, scale, ready, problems, facts)
            if bench.run is not None:
                result.notes[:0] = _seeding_notes(ready) + _load_note(facts)
                path = report.write(result, args.results)
                shown = path.relative_to(machine.ROOT) if path.is_relative_to(machine.ROOT) \
                    else path
                result.notes.append(f"written to {shown}")
                if bench.name == storm.NAME and result.rows:
                    png = plot.write(result.to_json(), args.results,
                                     doc=plot.DOC_PNG if args.write_docs else None)
                    result.notes.append(f"plot of pop latency against call rate: {png.name}")
            report.print_result(result, lines)
    finally:
        for ds in ready:
            await ds.close()
    if args.write_docs:
        docs.update(folder=args.results if args.scale == "full" else report.RESULTS)
        plot.update_doc(folder=args.results if args.scale == "full" else report.RESULTS)
        print(f"\nupdated {docs.DOC.relative_to(machine.ROOT)} from the latest --full results")
    in_ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
    return 1 if problems and in_ci else 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(main()))
