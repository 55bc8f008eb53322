"""Measure quick-search latency on a seeded database.

    callcontrol seed --contacts 100000
    python -m callcontrol.cc.bench --url postgresql://... [--rounds 200]

Values are drawn (deterministically) from the stored names: word prefixes for ``Mar``,
suffixes for ``%ria`` and inner fragments for ``%ari%``; one page of results each, as the
Communication Centre asks for them. Prints p50/p95/max per form in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

from sqlalchemy import func, select, text

from callcontrol.cc.search import quick_search
from callcontrol.cc.settings import Settings
from callcontrol.crm.db import create_engine, session_factory
from callcontrol.crm.models import Contact


def _values(names: list[str], rng: random.Random, rounds: int) -> dict[str, list[str]]:
    words = [w for n in names for w in n.split() if len(w) >= 5]
    forms: dict[str, list[str]] = {"prefix": [], "suffix": [], "contains": [], "equals": []}
    for _ in range(rounds):
        word = rng.choice(words)
        forms["prefix"].append(word[:3])
        forms["suffix"].append("%" + word[-3:])
        start = rng.randrange(1, len(word) - 3)
        forms["contains"].append("%" + word[start:start + 3] + "%")
        forms["equals"].append(rng.choice(names))
    return forms


async def run(url: str, rounds: int, seed: int) -> dict[str, dict[str, float]]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    settings = Settings(number_of_records=20)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("ANALYZE"))
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(Contact))
        sample = (await session.scalars(select(Contact.search_name)
                                        .order_by(Contact.id).limit(5000))).all()
    values = _values(list(sample), random.Random(seed), rounds)
    report: dict[str, dict[str, float]] = {}
    async with sessions() as session:
        for form, items in values.items():
            op = "=" if form == "equals" else "like"
            timings = []
            for value in items:
                started = time.perf_counter()
                await quick_search(session, settings, "contact.name", value, op)
                timings.append((time.perf_counter() - started) * 1000)
            timings.sort()
            report[form] = {"p50": statistics.median(timings),
                            "p95": timings[int(len(timings) * 0.95) - 1], "max": timings[-1]}
    await engine.dispose()
    print(f"{count} contacts, {rounds} searches per form, one page of 20 (ms)")
    for form, figures in report.items():
        print(f"  {form:9} p50 {figures['p50']:7.1f}  p95 {figures['p95']:7.1f}  "
              f"max {figures['max']:7.1f}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True, help="database URL")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    asyncio.run(run(args.url, args.rounds, args.seed))


if __name__ == "__main__":
    main()
