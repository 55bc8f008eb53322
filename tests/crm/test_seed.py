from __future__ import annotations

import pytest
from sqlalchemy import func, select

from callcontrol.crm.lookup import find_contacts_by_phone
from callcontrol.crm.models import (
    AccountReceivable,
    Address,
    Communication,
    Contact,
    Phone,
    RewardTransaction,
    ServiceRequest,
)
from callcontrol.crm.phones import normalise
from callcontrol.crm.seed import SeedError, seed


async def _count(db, model) -> int:
    async with db.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_seed_fills_sections_and_shares_household_numbers(db) -> None:
    report = await seed(db.engine, 600, rng_seed=7, progress=False)
    assert report.contacts == 600 == await _count(db, Contact)
    assert await _count(db, Phone) >= 600
    assert 100 < await _count(db, Address) < 600
    assert 50 < await _count(db, AccountReceivable) < 600
    for model in (Communication, RewardTransaction, ServiceRequest):
        assert 0 < await _count(db, model) < 600, model
    async with db.sessions() as s:
        shared = (await s.execute(
            select(Phone.e164).group_by(Phone.e164).having(func.count() > 1)
        )).scalars().all()
        assert shared, "some households share a number"
        matches = await find_contacts_by_phone(s, shared[0])
        assert len(matches) >= 2
        phones = (await s.execute(select(Phone.raw, Phone.e164).limit(200))).all()
        regions = {"+357": "CY", "+48": "PL", "+7": "RU", "+44": "GB"}
        for raw, e164 in phones:
            region = next(r for p, r in regions.items() if e164.startswith(p))
            assert normalise(raw, region) == e164, raw
        regions_seen = {e[:3] for (_, e) in phones}
        assert len(regions_seen) >= 4


async def test_seed_is_deterministic_and_refuses_a_second_run(db) -> None:
    await seed(db.engine, 50, rng_seed=3, progress=False)
    async with db.sessions() as s:
        first = (await s.execute(select(Contact.search_name).order_by(Contact.id))).scalars().all()
    with pytest.raises(SeedError, match="--append"):
        await seed(db.engine, 50, rng_seed=3, progress=False)
    await seed(db.sessions, 50, rng_seed=3, progress=False, append=True)
    async with db.sessions() as s:
        both = (await s.execute(select(Contact.search_name).order_by(Contact.id))).scalars().all()
        assert both == first + first
        s.add(Contact(kind="person", first_name="New"))
        await s.commit()
