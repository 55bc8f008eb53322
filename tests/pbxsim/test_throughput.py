"""Load: many callers answered and bridged with Local agents by a minimal app, all cleaned
up, nothing leaked; the load generator keeps its rate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
import pytest

from callcontrol.pbxsim import PbxSimulator
from callcontrol.pbxsim.load import generate_load
from tests.pbxsim.conftest import Ari
from tests.pbxsim.miniapp import MiniApp


@pytest.mark.slow
async def test_200_calls_answered_bridged_and_cleaned_up(tmp_path: Path) -> None:
    # time scale 0.05: agents stay 300 s = 15 s real, far longer than this test even on a
    # loaded machine; talk 2 s real; callers wait up to 10 s real to be answered
    sim = PbxSimulator(recordings_dir=tmp_path, time_scale=0.05)
    await sim.start()
    sim.engine.listeners.clear()      # schema checks are covered elsewhere; measure the sim
    try:
        await _run_200(sim)
    finally:
        await sim.close()


async def _run_200(sim: PbxSimulator) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        app = MiniApp(sim.url, session)
        await app.start()
        await sim.wait_for(lambda: sim.engine.app_registered("callcontrol"), 2)
        started = time.monotonic()
        report = await generate_load(sim, calls_per_second=100, duration=2.0,
                                     talk_time=40, give_up_after=200)
        await sim.wait_for(lambda: app.completed >= 200 and not sim.channels
                           and not sim.bridges, 60)
        elapsed = time.monotonic() - started
        await app.close()
    assert report.placed == 200 and report.failed == 0
    assert 1.8 <= report.seconds <= 6.0, report.seconds
    assert app.errors == []
    assert app.completed == 200
    assert sim.counters["channels_created"] == sim.counters["channels_destroyed"] == 800
    assert sim.counters["calls_placed"] == 200
    print(f"200 calls through app + simulator in {elapsed:.2f} s")


async def test_load_generator_validates(sim: PbxSimulator, ari: Ari) -> None:
    with pytest.raises(ValueError):
        await generate_load(sim, calls_per_second=0, duration=1)
    events = await ari.events()
    report = await generate_load(sim, calls_per_second=50, duration=0.1, numbers=["+3571"])
    assert report.placed == 5
    await events.wait(lambda e: len(events.of("StasisStart")) == 5)
    assert {e["channel"]["caller"]["number"] for e in events.of("StasisStart")} == {"+3571"}


async def test_idle_calls_cost_no_cpu(tmp_path: Path) -> None:
    """Waiting calls are timers, not loops: 100 calls on hold burn (almost) no CPU."""
    sim = PbxSimulator(recordings_dir=tmp_path, time_scale=1.0)
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            app = MiniApp(sim.url, session)
            await app.start()
            await sim.wait_for(lambda: sim.engine.app_registered("callcontrol"), 2)
            for n in range(100):
                await sim.place_call(number=f"+3579900{n:04d}")
            await sim.wait_for(lambda: len(sim.bridges) == 100 and len(sim.channels) == 400, 20)
            before = time.process_time()
            await asyncio.sleep(0.5)
            spent = time.process_time() - before
            await app.close()
    finally:
        await sim.close()
    assert spent < 0.05, f"{spent:.3f} s of CPU while 100 calls just talked"
