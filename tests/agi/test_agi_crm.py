from sqlalchemy import select

from callcontrol.agi.crm import find_callers
from callcontrol.crm.lookup import find_contacts_by_phone
from callcontrol.crm.models import Contact, Phone
from callcontrol.crm.seed import seed


def _key(m):
    return (m.id, m.code, m.name, m.vip, m.open_service_requests, m.balance_due)


async def test_agrees_with_the_screen_pop_lookup_on_seeded_data(db):
    await seed(db.engine, 300, progress=False)
    async with db.sessions.begin() as session:
        numbers = list((await session.execute(select(Phone.e164).limit(120))).scalars())
        company = Contact(kind="company", company_name="Acme Ltd", vip=True)
        session.add(company)
        await session.flush()
        session.add(Phone(contact_id=company.id, raw="99 555 555", e164=numbers[0]))
    seen = []
    async with db.sessions() as session:
        for e164 in [*numbers, "+447700900123"]:
            pop = await find_contacts_by_phone(session, e164)
            agi = await find_callers(session, e164)
            assert [_key(m) for m in pop] == [_key(c) for c in agi], e164
            seen += agi
    # The comparison covered every part of the answer, not just empty results.
    assert any(c.open_service_requests for c in seen) and any(c.balance_due for c in seen)
    assert any(c.name == "Acme Ltd" and c.vip for c in seen)
    assert len({c.id for c in seen}) >= 80
