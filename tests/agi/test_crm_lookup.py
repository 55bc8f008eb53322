from types import SimpleNamespace

from callcontrol.agi.service import start_agi_server
from callcontrol.crm.models import Contact, Phone
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
    try:
        one = await call(server.port, "99123456")
        shared = await call(server.port, "+35799000000")
        nobody = await call(server.port, "+35799777777")
    finally:
        await server.close()
    assert one["CC_VIP"] == "1" and one["CC_CONTACT_ID"] == str(ann.id)
    assert one["CC_CONTACT_CODE"] == ann.code and one["CC_ROUTE"] == "vip"
    assert "Nowak" in one["CALLERID(name)"] and one["CC_LOOKUP"] == "ok"
    assert shared["CC_MATCHES"] == "2" and shared["CC_ROUTE"] == "default"
    assert nobody["CC_MATCHES"] == "0" and nobody["CC_ROUTE"] == "unknown"
    assert registry.counter("callcontrol_agi_requests_total").value(outcome="ok") == 3
