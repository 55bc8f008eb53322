import asyncio
from types import SimpleNamespace

from callcontrol.agi.service import start_agi_server
from callcontrol.crm.models import Contact, Phone


async def _call(port: int, callerid: str) -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"agi_network_script: lookup\nagi_callerid: {callerid}\n"
                 "agi_channel: PJSIP/trunk-9\nagi_uniqueid: 9.9\n\n".encode())
    got = {}
    while line := await reader.readline():
        _, _, name, value = line.decode().rstrip("\n").split(" ", 3)
        got[name] = value.strip('"')
        writer.write(b"200 result=1\n")
    writer.close()
    return got


async def test_real_crm_single_and_shared_numbers(db):
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
    server = await start_agi_server(config, db.sessions)
    port = server._server.sockets[0].getsockname()[1]
    one, shared = await _call(port, "99123456"), await _call(port, "+35799000000")
    await server.close()
    assert one["CC_VIP"] == "1" and one["CC_CONTACT_ID"] == str(ann.id)
    assert "Nowak" in one["CALLERID(name)"] and one["CC_LOOKUP"] == "ok"
    assert shared["CC_MATCHES"] == "2" and shared["CC_ROUTE"] == "default"
