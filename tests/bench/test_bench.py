"""The benchmark harness: statistics, result files, and a tiny end-to-end run (real SQLite
and PostgreSQL, a few hundred contacts) whose figures are printed, never asserted."""

from __future__ import annotations

import asyncio
import json

import pytest

from bench import report
from bench.__main__ import BENCHMARKS, main, parse_args


async def _drop(admin_url: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def test_nearest_rank_percentiles():
    samples = list(range(1, 101))
    assert report.percentile(samples, 50) == 50 and report.percentile(samples, 99) == 99
    assert report.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError):
        report.percentile([], 50)


def test_row_verdict_against_a_target():
    assert report.Row.timed("sqlite", "x", [1.0] * 99 + [3.0], limit=("p99", 2.0)).verdict \
        == "meets"
    assert report.Row.timed("sqlite", "x", [1.0] * 98 + [3.0] * 2,
                            limit=("p99", 2.0)).verdict == "MISSES"


def test_defaults_to_smoke_and_rejects_unknown_benchmarks(capsys):
    assert parse_args([]).scale == "smoke" and parse_args(["--full"]).scale == "full"
    with pytest.raises(SystemExit):
        parse_args(["--only", "nonsense"])
    with pytest.raises(SystemExit):
        parse_args(["--smoke", "--full"])


def test_every_issue_benchmark_has_an_entry():
    names = {b.name for b in BENCHMARKS}
    assert names == {"call-storm", "floor", "lookup", "search", "contact-view", "fan-out"}
    assert all(b.run or b.pending for b in BENCHMARKS)


@pytest.mark.slow
def test_tiny_run_writes_results_and_prints_the_table(tmp_path, postgres_server, capsys):
    argv = ["--smoke", "--contacts", "150", "--queries", "60", "--only", "lookup",
            "--only", "search", "--fresh",
            "--results", str(tmp_path / "results"), "--cache", str(tmp_path / "cache"),
            "--postgres-url", postgres_server]
    try:
        assert asyncio.run(main(argv)) == 0
    finally:
        asyncio.run(_drop(postgres_server, "cc_bench_150"))
    out = capsys.readouterr().out
    assert "command : python -m bench --smoke --contacts 150 --queries 60" in out
    assert "machine : " in out and "software: Python" in out and "p50_ms" in out
    assert "Python speed " in out
    for name in ("lookup", "search"):
        data = json.loads((tmp_path / "results" / f"{name}-latest.json").read_text())
        assert data["scale"]["contacts"] == 150 and data["machine"]["python"]
        assert data["machine"]["python_speed_ms"] > 0
        assert {r["backend"] for r in data["rows"]} == {"sqlite", "postgresql"}
        assert all(r["n"] > 0 and r["p50_ms"] > 0 for r in data["rows"])
        assert len(list((tmp_path / "results").glob(f"{name}-2*.json"))) == 1


def test_docs_table_uses_the_latest_full_run_only(tmp_path):
    from bench import docs

    def result(mode: str, stamp: str, p99: float) -> report.Result:
        r = report.Result("lookup", "t", "python -m bench", {"mode": mode, "contacts": 1000},
                          {"cpu": "x", "cores": 2, "python": "3.11", "sqlite": "3"},
                          started_at=stamp)
        r.rows = [report.Row("sqlite", "screen-pop look-up", 10, 1.0, 1.5, p99)]
        return r

    report.write(result("full", "2026-01-01T00:00:00+00:00", 1.5), tmp_path)
    report.write(result("smoke", "2026-01-02T00:00:00+00:00", 9.0), tmp_path)
    doc = tmp_path / "performance.md"
    doc.write_text(f"intro\n{docs.START}\nold\n{docs.END}\noutro\n")
    docs.update(doc, tmp_path)
    text = doc.read_text()
    assert "| E.164 look-up p99 < 2 ms: screen pop, SQLite | p99 1.50 ms | 1,000 | meets |" in text
    assert "screen pop, PostgreSQL | not measured yet" in text and "old" not in text
    assert text.startswith("intro\n") and text.endswith("outro\n")


def test_python_speed_measures_cpu_time_and_is_named_in_provenance(monkeypatch):
    """The machine's speed is CPU time of fixed work: twice the work, about twice the
    figure; results written before it existed print without it."""
    from bench import machine

    once = machine.python_speed(repeat=3)
    monkeypatch.setattr(machine, "SPEED_ITERATIONS", machine.SPEED_ITERATIONS * 4)
    four = machine.python_speed(repeat=3)
    assert once > 0 and 2.0 < four / once < 8.0
    assert machine.speed_text({"python_speed_ms": 118.6}) == \
        "Python speed 118.6 ms (lower is faster), "
    assert machine.speed_text({}) == ""


def test_pycalls_counts_what_one_more_call_costs(tmp_path):
    """Two profiles of the same work, one with more calls: start-up cancels out and the
    difference over the extra calls is what each call made."""
    import cProfile

    from bench import pycalls

    def one_call():
        return sum(len(str(i)) for i in range(3))

    def start_up():
        return [str(i) for i in range(50)]

    for name, calls in (("short", 10), ("long", 30)):
        profiler = cProfile.Profile()
        profiler.enable()
        start_up()
        for _ in range(calls):
            one_call()
        profiler.disable()
        profiler.dump_stats(tmp_path / f"{name}.prof")
    short = pycalls.read_profile(tmp_path / "short.prof", 10)
    long = pycalls.read_profile(tmp_path / "long.prof", 30)
    total, functions = pycalls.per_call(short, long)
    # one_call, sum, the generator expression (4 resumptions), len 3 times (str is a type:
    # cProfile does not count its calls)
    assert total == 9
    assert [n for name, n in functions.items() if name.endswith("(one_call)")] == [1.0]
    assert functions["<built-in method builtins.len>"] == 3.0
    with pytest.raises(ValueError, match="more calls"):
        pycalls.per_call(long, short)
