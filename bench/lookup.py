"""Caller look-up: E.164 number -> contacts with their pop summary, as the screen pop and the
FastAGI script do it (``find_contacts_by_phone`` and ``find_callers`` through the engine's
``FastReads``, as ``Records.lookup`` and the FastAGI service run them)."""

from __future__ import annotations

import random
import time

from sqlalchemy import bindparam, func, select

from bench.datasets import Dataset
from bench.report import Row
from callcontrol.agi.crm import find_callers
from callcontrol.crm.fastreads import SQLITE_LOOP_BUDGET, FastReads, fast_reads
from callcontrol.crm.lookup import find_contacts_by_phone
from callcontrol.crm.models import Phone

NAME = "lookup"
TITLE = "E.164 caller look-up (80 % known, 20 % unknown numbers), sequential"
TARGET_P99_MS = 2.0
WARMUP = 50


async def _numbers(ds: Dataset, hits: int, misses: int, rng: random.Random) -> list[str]:
    async with ds.sessions() as session:
        top = int((await session.execute(select(func.max(Phone.id)))).scalar() or 0)
        ids = [rng.randint(1, top) for _ in range(hits * 2)] if top else []
        rows = (await session.execute(
            select(Phone.e164).where(Phone.id.in_(ids)).limit(hits))).scalars().all()
    numbers = [n for n in rows if n]
    # Unknown callers: UK numbers reserved for drama (07700 900xxx), never seeded.
    numbers += [f"+447700900{rng.randrange(1000):03d}" for _ in range(misses)]
    rng.shuffle(numbers)
    return numbers


async def _time(reads: FastReads, numbers: list[str]) -> tuple[list[float], int]:
    samples, found = [], 0
    for e164 in numbers:
        start = time.perf_counter_ns()
        matches = await find_contacts_by_phone(reads, e164)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        found += bool(matches)
    return samples, found


_HOW = {"sqlite3": "; the statement on a read-only sqlite3 connection (WAL) on the event loop, "
                   "as call control and FastAGI run it",
        "asyncpg": "; the statement prepared on a plain asyncpg connection (AUTOCOMMIT, no "
                   "check per use), as call control and FastAGI run it",
        "session": "; each look-up in its own session"}

_PROBE = select(Phone.contact_id).where(Phone.e164 == bindparam("e164"))


async def _index_probe(reads: FastReads, e164: str) -> None:
    await reads.rows(_PROBE, {"e164": e164})


async def _time_each(reads: FastReads, numbers: list[str], query) -> list[float]:
    samples = []
    for e164 in numbers:
        start = time.perf_counter_ns()
        await query(reads, e164)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


async def run(ds: Dataset, *, queries: int) -> list[Row]:
    rng = random.Random(8)
    hits, misses = queries * 4 // 5, queries // 5
    numbers = await _numbers(ds, hits, misses, rng)
    reads = fast_reads(ds.engine)   # the one call control and the FastAGI service use
    moved: list[str] = []

    def count(fallbacks: int, reconnects: int) -> None:
        fallbacks, reconnects = reads.fallbacks - fallbacks, reads.reconnects - reconnects
        moved.append((f"; {fallbacks} of {len(numbers)} moved off the event loop (over "
                      f"{SQLITE_LOOP_BUDGET * 1000:g} ms on it, or locked)"
                      if reads.mode == "sqlite3" else "")
                     + (f"; {reconnects} run again on a new connection" if reconnects else ""))

    await _time(reads, numbers[:WARMUP])
    before = reads.fallbacks, reads.reconnects
    samples, found = await _time(reads, numbers)
    count(*before)
    await _time_each(reads, numbers[:WARMUP], find_callers)
    before = reads.fallbacks, reads.reconnects
    agi = await _time_each(reads, numbers, find_callers)
    count(*before)
    before = reads.fallbacks, reads.reconnects
    index_only = await _time_each(reads, numbers, _index_probe)
    count(*before)
    return [
        Row.timed(ds.backend, "screen-pop look-up", samples,
                  target=f"p99 < {TARGET_P99_MS:g} ms", limit=("p99", TARGET_P99_MS),
                  note=f"{found} of {len(numbers)} numbers matched a contact; the contact "
                  "rows and the pop summary (open requests, balances, flash notes) come in "
                  "one statement" + _HOW[reads.mode] + moved[0]),
        Row.timed(ds.backend, "FastAGI caller query", agi,
                  target=f"p99 < {TARGET_P99_MS:g} ms", limit=("p99", TARGET_P99_MS),
                  note="callcontrol.agi.crm.find_callers: one prepared statement with the "
                  "two counts the dialplan routes on" + moved[1]),
        Row.timed(ds.backend, "phones.e164 index probe only", index_only,
                  note="diagnostic: the same numbers, only the indexed phone query" + moved[2]),
    ]
