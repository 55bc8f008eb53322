import asyncio
import time
from dataclasses import dataclass
from decimal import Decimal

import pytest

from callcontrol.agi.server import AgiServer
from callcontrol.metrics import product_registry
from tests.agi.asterisk_peer import call


@dataclass(frozen=True)
class Match:
    id: int
    code: str
    name: str
    vip: bool = False
    open_service_requests: int = 0
    balance_due: Decimal = Decimal("0")


@pytest.fixture
async def serve():
    servers: list[AgiServer] = []

    async def start(lookup, **kw) -> AgiServer:
        server = AgiServer(lookup=lookup, **kw)
        await server.start("127.0.0.1", 0)
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


def _directory(entries: dict[str, list[Match]]):
    async def lookup(e164):
        return entries.get(e164, [])
    return lookup


async def test_single_vip_match_sets_name_contact_and_vip_route(serve):
    server = await serve(_directory({"+35799123456": [Match(7, "C7", "Ann Nowak", vip=True)]}))
    got = await call(server.port, "99123456")
    assert got == {"CALLERID(name)": "Ann Nowak", "CC_CONTACT_ID": "7", "CC_CONTACT_CODE": "C7",
                   "CC_MATCHES": "1", "CC_VIP": "1", "CC_ROUTE": "vip", "CC_LOOKUP": "ok"}
    assert list(got)[-1] == "CC_LOOKUP"  # set last: the dialplan's default holds until done


async def test_several_matches_set_count_but_no_name_or_contact(serve):
    shared = [Match(1, "C1", "A"), Match(2, "C2", "B")]
    server = await serve(_directory({"+35799000000": shared}))
    got = await call(server.port, "+35799000000")
    assert got["CC_MATCHES"] == "2" and got["CC_CONTACT_ID"] == "" and got["CC_ROUTE"] == "default"
    assert "CALLERID(name)" not in got


@pytest.mark.parametrize(("match", "route"), [
    (Match(3, "C3", "Sam", open_service_requests=2), "support"),
    (Match(4, "C4", "Kim", balance_due=Decimal("12.50")), "billing"),
    (Match(5, "C5", "Lee"), "default"),
])
async def test_suggested_route_follows_open_work_and_money_owed(serve, match, route):
    server = await serve(_directory({"+35799111111": [match]}))
    assert (await call(server.port, "99111111"))["CC_ROUTE"] == route


async def test_unknown_and_malformed_callers(serve):
    server = await serve(_directory({}))
    unknown, bad = await call(server.port, "99123456"), await call(server.port, "anonymous")
    empty, long = await call(server.port, ""), await call(server.port, "9" * 200)
    assert unknown["CC_ROUTE"] == "unknown" and unknown["CC_MATCHES"] == "0"
    assert unknown["CC_LOOKUP"] == "ok"
    for got in (bad, empty, long):
        assert got["CC_LOOKUP"] == "invalid-callerid" and "CALLERID(name)" not in got


async def test_name_with_quotes_and_newline_cannot_inject_a_command(serve):
    evil = 'Ann "Boss"\nEXEC System rm\\'
    server = await serve(_directory({"+35799123456": [Match(7, "C7", evil)]}))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    from tests.agi.asterisk_peer import header_block
    writer.write(header_block("99123456"))
    lines = []
    while line := await asyncio.wait_for(reader.readline(), 2):
        lines.append(line)
        writer.write(b"200 result=1\n")
    writer.close()
    assert len(lines) == 7 and not any(line.startswith(b"EXEC") for line in lines)
    assert lines[0] == b'SET VARIABLE CALLERID(name) "Ann \\"Boss\\"EXEC System rm\\\\"\n'


async def test_slow_database_gives_timeout_promptly_and_others_are_served(serve):
    async def lookup(e164):
        if e164 == "+35799999999":
            await asyncio.sleep(10)
        return [Match(1, "C1", "Fast")]
    server = await serve(lookup, request_timeout=0.4)
    start = time.monotonic()
    slow, fast = await asyncio.gather(call(server.port, "99999999"), call(server.port, "99123456"))
    assert slow["CC_LOOKUP"] == "timeout" and slow["CC_MATCHES"] == "0"
    assert fast["CC_LOOKUP"] == "ok" and time.monotonic() - start < 1.0


async def test_failing_database_sets_error_status(serve):
    async def lookup(e164):
        raise ConnectionRefusedError("database down")
    server = await serve(lookup)
    got = await call(server.port, "99123456")
    assert got["CC_LOOKUP"] == "error" and got["CC_ROUTE"] == "unknown"


async def test_outcomes_are_counted_in_the_metrics_registry(serve):
    registry = product_registry()
    requests = registry.counter("callcontrol_agi_requests_total")
    server = await serve(_directory({}), requests=requests)
    await call(server.port, "99123456")
    await call(server.port, "99123456", answer=lambda i, name: b"HANGUP\n")
    await call(server.port, "99123456", script="other")
    assert requests.value(outcome="ok") == 1 and requests.value(outcome="hangup") == 1
    assert requests.value(outcome="unknown-script") == 1
    assert 'callcontrol_agi_requests_total{outcome="ok"} 1' in registry.render()


async def test_unknown_script_gets_no_commands(serve):
    server = await serve(_directory({}))
    assert await call(server.port, "99123456", script="voicemail") == {}
