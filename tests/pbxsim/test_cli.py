"""``callcontrol sim``: help, bad input, and a real run with the load generator."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.pbxsim.miniapp import MiniApp


def _env(tmp_path: Path) -> dict[str, str]:
    return dict(os.environ, CALLCONTROL_VAR_DIR=str(tmp_path / "var"),
                CALLCONTROL_RECORDINGS_DIR=str(tmp_path / "rec"))


async def _run(tmp_path: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "callcontrol", "sim", *args, env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_help_is_clear(tmp_path: Path) -> None:
    proc = await _run(tmp_path, "--help")
    out, _ = await proc.communicate()
    text = out.decode()
    assert proc.returncode == 0
    for flag in ("--port", "--host", "--username", "--password", "--recordings-dir",
                 "--time-scale", "--calls-per-second", "--duration", "--talk-time"):
        assert flag in text
    assert "http://HOST:PORT/ari" in text and "Example:" in text


@pytest.mark.parametrize("args, fragment", [
    (("--port", "99999"), "between 0 and 65535"),
    (("--port", "0", "--time-scale", "0"), "greater than 0"),
    (("--port", "0", "--calls-per-second", "5"), "go together"),
])
async def test_bad_input_is_one_line(tmp_path: Path, args: tuple[str, ...],
                                     fragment: str) -> None:
    proc = await _run(tmp_path, *args)
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0]


async def test_load_run_places_calls_and_reports(tmp_path: Path) -> None:
    proc = await _run(tmp_path, "--port", "0", "--time-scale", "0.01",
                      "--calls-per-second", "20", "--duration", "0.5", "--talk-time", "20")
    assert proc.stdout is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
    match = re.search(r"ARI on (http://\S+/ari)", first)
    assert match, first
    async with aiohttp.ClientSession() as session:
        app = MiniApp(match.group(1), session)
        await app.start()
        rest, err = await asyncio.wait_for(proc.communicate(), 30)
        await app.close()
    assert proc.returncode == 0, err.decode()
    summary = json.loads(rest.decode().strip().splitlines()[-1])
    assert summary["placed"] == 10 and summary["failed"] == 0
    assert summary["channels_left"] == 0
    assert summary["counters"]["calls_placed"] == 10
    assert app.completed == 10 and app.errors == []
