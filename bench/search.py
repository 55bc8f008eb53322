"""Quick search on the contact's name with '=' and the three 'Like' forms (prefix, suffix,
contains), through ``callcontrol.cc.search.quick_search`` with the default definition."""

from __future__ import annotations

import random
import time

from sqlalchemy import func, select

from bench.datasets import Dataset
from bench.report import Row
from callcontrol.cc.search import quick_search
from callcontrol.cc.settings import Settings
from callcontrol.crm.models import Contact

NAME = "search"
TITLE = "Quick search on contact name: '=', prefix, suffix, contains (first page)"
# Issue #8 targets: 'Like' contains p95 under 50 ms on PostgreSQL, 150 ms on SQLite.
CONTAINS_P95_MS = {"postgresql": 50.0, "sqlite": 150.0}
WARMUP = 5


async def _names(ds: Dataset, count: int, rng: random.Random) -> list[str]:
    async with ds.sessions() as session:
        top = int((await session.execute(select(func.max(Contact.id)))).scalar() or 0)
        ids = [rng.randint(1, top) for _ in range(count * 2)]
        rows = (await session.execute(
            select(Contact.search_name).where(Contact.id.in_(ids)).limit(count))).scalars()
        return [n for n in rows if n and len(n.split()[-1]) >= 5]


def _terms(names: list[str], rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """(operator, value) per case, cut from real names so most searches find something."""
    cases: dict[str, list[tuple[str, str]]] = {"=": [], "prefix": [], "suffix": [],
                                               "contains": []}
    for name in names:
        word = rng.choice([w for w in name.split() if len(w) >= 5] or [name.split()[-1]])
        cut = rng.randint(1, len(word) - 4)
        cases["="].append(("=", name))
        cases["prefix"].append(("like", word[:3]))
        cases["suffix"].append(("like", "%" + word[-3:]))
        cases["contains"].append(("like", "%" + word[cut:cut + 3] + "%"))
    return cases


async def _time(ds: Dataset, settings: Settings, terms: list[tuple[str, str]]) -> list[float]:
    samples = []
    for operator, value in terms:
        start = time.perf_counter_ns()
        async with ds.sessions() as session:
            await quick_search(session, settings, "contact.name", value, operator)
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


async def run(ds: Dataset, *, queries: int) -> list[Row]:
    rng = random.Random(11)
    settings = Settings()
    cases = _terms(await _names(ds, queries, rng), rng)
    rows = []
    for case, terms in cases.items():
        await _time(ds, settings, terms[:WARMUP])
        samples = await _time(ds, settings, terms)
        limit = CONTAINS_P95_MS.get(ds.backend) if case == "contains" else None
        rows.append(Row.timed(
            ds.backend, f"name {case}" + ("" if case == "=" else " 'Like'"), samples,
            target=f"p95 < {limit:g} ms" if limit else "",
            limit=("p95", limit) if limit else None))
    return rows
