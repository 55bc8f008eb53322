"""Caller look-up: E.164 number -> contacts with their pop summary, as the screen pop and the
FastAGI script do it (one session per look-up, ``find_contacts_by_phone``)."""

from __future__ import annotations

import random
import time

from sqlalchemy import func, select

from bench.datasets import Dataset
from bench.report import Row
from callcontrol.agi.crm import find_callers
from callcontrol.crm.db import reading
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


async def _time(ds: Dataset, numbers: list[str]) -> tuple[list[float], int]:
    samples, found = [], 0
    reads = reading(ds.sessions)   # as call control and the FastAGI service open them
    for e164 in numbers:
        start = time.perf_counter_ns()
        async with reads() as session:
            matches = await find_contacts_by_phone(session, e164)
        samples.append((time.perf_counter_ns() - start) / 1e6)
        found += bool(matches)
    return samples, found


_SESSIONS = {"postgresql": "; each look-up in its own session, the statement in AUTOCOMMIT "
                           "(no BEGIN/ROLLBACK), as call control and FastAGI run it"}


async def _index_probe(session, e164: str) -> None:
    (await session.execute(select(Phone.contact_id).where(Phone.e164 == e164))).all()


async def _time_each(ds: Dataset, numbers: list[str], query) -> list[float]:
    samples = []
    reads = reading(ds.sessions)
    for e164 in numbers:
        start = time.perf_counter_ns()
        async with reads() as session:
            await query(session, e164)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


async def run(ds: Dataset, *, queries: int) -> list[Row]:
    rng = random.Random(8)
    hits, misses = queries * 4 // 5, queries // 5
    numbers = await _numbers(ds, hits, misses, rng)
    await _time(ds, numbers[:WARMUP])
    samples, found = await _time(ds, numbers)
    await _time_each(ds, numbers[:WARMUP], find_callers)
    agi = await _time_each(ds, numbers, find_callers)
    index_only = await _time_each(ds, numbers, _index_probe)
    return [
        Row.timed(ds.backend, "screen-pop look-up", samples,
                  target=f"p99 < {TARGET_P99_MS:g} ms", limit=("p99", TARGET_P99_MS),
                  note=f"{found} of {len(numbers)} numbers matched a contact; the contact "
                  "rows and the pop summary (open requests, balances, flash notes) come in "
                  "one statement" + _SESSIONS.get(ds.backend, "")),
        Row.timed(ds.backend, "FastAGI caller query", agi,
                  target=f"p99 < {TARGET_P99_MS:g} ms", limit=("p99", TARGET_P99_MS),
                  note="callcontrol.agi.crm.find_callers: one prepared statement with the "
                  "two counts the dialplan routes on"),
        Row.timed(ds.backend, "phones.e164 index probe only", index_only,
                  note="diagnostic: the same numbers, only the indexed phone query"),
    ]
