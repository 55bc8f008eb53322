"""Load generator: PSTN callers arriving at a steady rate (the demo and the call-storm bench)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from callcontrol.pbxsim.simulator import PbxSimulator

logger = logging.getLogger("callcontrol.pbxsim")


@dataclass
class LoadReport:
    placed: int = 0
    failed: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.placed / self.seconds if self.seconds else 0.0


async def generate_load(sim: PbxSimulator, *, calls_per_second: float, duration: float,
                        talk_time: float | None = None, numbers: Sequence[str] = (),
                        give_up_after: float | None = None, tick: float = 0.01) -> LoadReport:
    """Place ``calls_per_second`` callers for ``duration`` (wall-clock) seconds.

    Each caller hangs up ``talk_time`` simulated seconds after being answered (None: stays on
    the line until the app hangs up). Caller numbers cycle through ``numbers`` (default
    +35799000000 upwards). One timer tick places every call that is due, so the generator
    costs no task or sleep per call.
    """
    if calls_per_second <= 0 or duration <= 0:
        raise ValueError("calls_per_second and duration must be > 0")
    report = LoadReport()
    total = int(round(calls_per_second * duration))
    start = time.monotonic()
    while report.placed + report.failed < total:
        due = min(total, int((time.monotonic() - start) * calls_per_second) + 1)
        while report.placed + report.failed < due:
            n = report.placed + report.failed
            number = numbers[n % len(numbers)] if numbers else f"+357990{n % 100000:05d}"
            try:
                await sim.place_call(number=number, extension="caller-hangup"
                                     if talk_time is not None else "caller",
                                     hangup_after=talk_time, give_up_after=give_up_after)
                report.placed += 1
            except (RuntimeError, ValueError) as exc:
                report.failed += 1
                if len(report.errors) < 10:
                    report.errors.append(str(exc))
        next_at = start + (report.placed + report.failed) / calls_per_second
        await asyncio.sleep(max(tick, next_at - time.monotonic()))
    report.seconds = time.monotonic() - start
    logger.info("pbxsim load: placed %d calls in %.1f s (%.1f/s), %d failed",
                report.placed, report.seconds, report.rate, report.failed)
    return report
