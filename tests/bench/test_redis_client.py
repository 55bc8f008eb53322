"""The Redis client micro-benchmark at a tiny scale: it runs and writes its figures (never
asserted)."""

from __future__ import annotations

import json

import pytest

from bench import redis_client


@pytest.mark.redis
def test_redis_client_benchmark_writes_both_clients_figures(redis_url, tmp_path, capsys):
    argv = ["--ops", "40", "--rounds", "1", "--concurrency", "1", "4",
            "--redis-url", redis_url, "--results", str(tmp_path)]
    assert redis_client.main(argv) == 0
    data = json.loads((tmp_path / "redis-client.json").read_text())
    assert set(data["median_us"]) == {"1", "4"}
    assert set(data["median_us"]["4"]) == {"publish", "multi"}
    assert all(v > 0 for per in data["median_us"].values() for op in per.values()
               for v in op.values())
    assert "redis-py / callcontrol" in capsys.readouterr().out
