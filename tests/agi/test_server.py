import asyncio
import time
from dataclasses import dataclass

from callcontrol.agi.server import AgiServer


@dataclass(frozen=True)
class Match:
    id: int
    code: str
    name: str
    vip: bool = False


async def _call(port: int, callerid: str, answer: bytes = b"200 result=1\n") -> dict:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"agi_network_script: lookup\nagi_callerid: {callerid}\n"
                 "agi_channel: PJSIP/trunk-1\nagi_uniqueid: 1.1\n\n".encode())
    got = {}
    while line := await reader.readline():
        _, _, name, value = line.decode().rstrip("\n").split(" ", 3)
        got[name] = value.strip('"')
        writer.write(answer)
    writer.close()
    return got


async def _server(lookup, **kw) -> tuple[AgiServer, int]:
    server = AgiServer(lookup=lookup, **kw)
    return server, await server.start("127.0.0.1", 0)


async def test_single_vip_match_sets_name_and_route():
    async def lookup(e164):
        return [Match(7, "C7", "Ann", vip=True)] if e164 == "+35799123456" else []
    server, port = await _server(lookup)
    got = await _call(port, "99123456")
    await server.close()
    assert got["CALLERID(name)"] == "Ann" and got["CC_ROUTE"] == "vip"
    assert got["CC_CONTACT_ID"] == "7" and got["CC_LOOKUP"] == "ok"


async def test_unknown_and_malformed_callers():
    async def lookup(e164):
        return []
    server, port = await _server(lookup)
    unknown, bad = await _call(port, "99123456"), await _call(port, "anonymous")
    await server.close()
    assert unknown["CC_ROUTE"] == "unknown" and unknown["CC_MATCHES"] == "0"
    assert bad["CC_LOOKUP"] == "invalid-callerid" and "CALLERID(name)" not in bad


async def test_slow_database_gives_timeout_promptly():
    async def lookup(e164):
        await asyncio.sleep(10)
    server, port = await _server(lookup, request_timeout=0.4)
    start = time.monotonic()
    got = await _call(port, "99123456")
    await server.close()
    assert got["CC_LOOKUP"] == "timeout" and time.monotonic() - start < 1.0


async def test_stalled_headers_are_closed_while_others_are_served():
    async def lookup(e164):
        return []
    server, port = await _server(lookup, header_timeout=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"agi_callerid: 1")
    got = await _call(port, "99123456")
    assert got["CC_LOOKUP"] == "ok"
    assert await asyncio.wait_for(reader.read(), 2) == b""
    await server.close()
