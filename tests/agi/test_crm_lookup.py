import asyncio
import time
from types import SimpleNamespace

import pytest
from sqlalchemy import event, select

from callcontrol.agi.service import start_agi_server
from callcontrol.crm.fastreads import fast_reads
from callcontrol.crm.models import Contact, Phone
from callcontrol.crm.seed import seed
from callcontrol.metrics import product_registry
from tests.agi.asterisk_peer import call


async def test_real_crm_single_shared_and_unknown_numbers(db):
    async with db.sessions.begin() as s:
        ann = Contact(kind="person", first_name="Anna", last_name="Nowak", vip=True)
        a, b = Contact(kind="person", first_name="A"), Contact(kind="person", first_name="B")
        s.add_all([ann, a, b])
        await s.flush()
        s.add(Phone(contact_id=ann.id, raw="99123456", e164="+35799123456"))
        for c in (a, b):
            s.add(Phone(contact_id=c.id, raw="99000000", e164="+35799000000"))
    config = SimpleNamespace(default_region="CY", agi=SimpleNamespace(
        host="127.0.0.1", port=0, request_timeout=3.0))
    registry = product_registry()
    server = await start_agi_server(config, db.sessions, registry)
    through_the_engine: list[str] = []
    event.listen(db.engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cu, statement, *_a: through_the_engine.append(statement))
    try:
        one = await call(server.port, "99123456")
        shared = await call(server.port, "+35799000000")
        nobody = await call(server.port, "+35799777777")
    finally:
        await server.close()
    # the statement ran on the engine's fast reads (as call control's look-up), no session
    assert through_the_engine == [] and fast_reads(db.sessions).mode in {"sqlite3", "asyncpg"}
    assert one["CC_VIP"] == "1" and one["CC_CONTACT_ID"] == str(ann.id)
    assert one["CC_CONTACT_CODE"] == ann.code and one["CC_ROUTE"] == "vip"
    assert "Nowak" in one["CALLERID(name)"] and one["CC_LOOKUP"] == "ok"
    assert shared["CC_MATCHES"] == "2" and shared["CC_ROUTE"] == "default"
    assert nobody["CC_MATCHES"] == "0" and nobody["CC_ROUTE"] == "unknown"
    assert registry.counter("callcontrol_agi_requests_total").value(outcome="ok") == 3


@pytest.mark.slow
async def test_many_concurrent_callers_against_the_real_database_all_get_answers(db):
    await seed(db.engine, 200, progress=False)
    async with db.sessions() as session:
        numbers = list((await session.execute(select(Phone.e164).limit(100))).scalars())
    config = SimpleNamespace(default_region="CY", agi=SimpleNamespace(
        host="127.0.0.1", port=0, request_timeout=2.0))
    registry = product_registry()
    server = await start_agi_server(config, db.sessions, registry)
    started = time.monotonic()
    try:
        answers = await asyncio.gather(*(call(server.port, numbers[i % len(numbers)])
                                         for i in range(400)))
    finally:
        await server.close()
    # More callers than database connections: each gets its variables within its own
    # budget (ok, or timeout when the pool is the bottleneck), none waits on another.
    assert all(a["CC_LOOKUP"] in {"ok", "timeout"} and len(a) >= 6 for a in answers)
    ok = sum(a["CC_LOOKUP"] == "ok" for a in answers)
    assert ok >= 40, ok
    assert time.monotonic() - started < 2.0 * 2 + 2
    counts = registry.counter("callcontrol_agi_requests_total")
    assert counts.value(outcome="ok") == ok and counts.value(outcome="timeout") == 400 - ok
