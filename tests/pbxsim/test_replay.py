"""Every recorded trace replayed against the simulator (see ``replay.py`` for the method).

Where the simulator cannot match a recorded detail, the parameter below says why in one line;
those details are left out of the comparison, nothing else is.
"""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from callcontrol.pbxsim import PbxSimulator
from tests.pbxsim.replay import TRACES, Replay, load

# trace -> (event types left out, reason) for details this simulator does not reproduce
KNOWN: dict[str, dict[str, str]] = {}
ALL = sorted(p.name for p in TRACES.glob("*.json") if p.name != "INDEX.json")


def test_every_trace_is_replayed() -> None:
    index = json.loads((TRACES / "INDEX.json").read_text())
    assert sorted(index["files"]) == ALL


@pytest.mark.parametrize("name", ALL)
async def test_replay(name: str, tmp_path: Path) -> None:
    sim = PbxSimulator(recordings_dir=tmp_path / "rec", time_scale=0.02)
    await sim.start()
    try:
        async with aiohttp.ClientSession() as session:
            replay = Replay(sim, session, load(name), ignored_types=KNOWN.get(name))
            await replay.run()
            failures = replay.compare()
    finally:
        await sim.close()
    assert not failures, f"{name}:\n" + "\n".join(failures)


def test_every_left_out_detail_says_why_in_one_line() -> None:
    from tests.pbxsim.replay import IGNORED_TYPES

    reasons = dict(IGNORED_TYPES)
    for details in KNOWN.values():
        reasons.update(details)
    for detail, why in reasons.items():
        assert why.strip() and "\n" not in why, detail
    # only noise call control never reads is left out: never a call-state event
    for essential in ("StasisStart", "StasisEnd", "ChannelDestroyed", "ChannelHangupRequest",
                      "ChannelStateChange", "Dial", "ChannelEnteredBridge", "ChannelLeftBridge",
                      "RecordingFinished", "PlaybackFinished", "ChannelDtmfReceived"):
        assert essential not in reasons
