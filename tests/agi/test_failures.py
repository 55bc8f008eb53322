import asyncio
import time

import pytest

from callcontrol.agi.server import AgiServer
from callcontrol.metrics import product_registry
from tests.agi.asterisk_peer import OK, call, header_block

HEADERS = header_block("99123456")


async def _nothing(e164):
    return []


@pytest.fixture
async def server():
    registry = product_registry()
    srv = AgiServer(lookup=_nothing, header_timeout=0.5, request_timeout=0.5,
                    requests=registry.counter("callcontrol_agi_requests_total"))
    await srv.start("127.0.0.1", 0)
    yield srv
    await srv.close()


async def _first_command(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS)
    line = await asyncio.wait_for(reader.readline(), 2)
    assert line.startswith(b"SET VARIABLE")
    return reader, writer


@pytest.mark.parametrize(("answer", "outcome"), [
    (b"HANGUP\n", "hangup"),
    (b"511 Command Not Permitted on a dead channel or intercept routine\n", "dead-channel"),
    (b"510 Invalid or unknown command\n", "unknown-command"),
    (b"garbage\n", "protocol-error"),
])
async def test_error_reply_ends_script_and_server_keeps_serving(server, answer, outcome):
    reader, writer = await _first_command(server.port)
    writer.write(answer)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.requests.value(outcome=outcome) == 1
    assert (await call(server.port, "99123456"))["CC_LOOKUP"] == "ok"


async def test_multiline_520_for_one_variable_does_not_stop_the_others(server):
    usage = (b"520-Invalid command syntax.  Proper usage follows:\n"
             b"Usage: SET VARIABLE <variablename> <value>\n520 End of proper usage.\n")
    got = await call(server.port, "99123456", answer=lambda i, name: usage if i == 0 else OK)
    assert got["CC_LOOKUP"] == "ok" and len(got) == 6
    assert server.requests.value(outcome="ok") == 1


async def test_single_line_520_is_tolerated_too(server):
    bad = b"520 Invalid command syntax.  Proper usage not available.\n"
    got = await call(server.port, "99123456", answer=lambda i, name: bad if i == 1 else OK)
    assert got["CC_LOOKUP"] == "ok"


async def test_half_closed_socket_mid_command_is_handled(server):
    reader, writer = await _first_command(server.port)
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.requests.value(outcome="closed") == 1


async def test_eof_in_the_middle_of_the_headers(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: lookup\nagi_call")
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.requests.value(outcome="closed") == 1


async def test_headers_never_finished_are_closed_while_others_are_served(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_network_script: lookup\nagi_callerid: 1")
    assert (await call(server.port, "99123456"))["CC_LOOKUP"] == "ok"
    start = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert time.monotonic() - start < 1.0
    assert server.requests.value(outcome="header-timeout") == 1


async def test_peer_that_never_replies_is_cut_at_the_request_timeout(server):
    reader, writer = await _first_command(server.port)
    start = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert time.monotonic() - start < 1.0
    assert server.requests.value(outcome="timeout") == 1


async def test_over_long_header_line_is_refused(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"agi_callerid: " + b"9" * 70_000 + b"\n\n")
    assert await asyncio.wait_for(reader.read(), 2) == b""
    assert server.requests.value(outcome="malformed") == 1


async def test_connections_over_the_cap_are_refused_not_queued():
    srv = AgiServer(lookup=_nothing, max_connections=2, header_timeout=2)
    port = await srv.start("127.0.0.1", 0)
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(2)]
    await asyncio.sleep(0.05)
    assert srv.active == 2
    reader, _ = await asyncio.open_connection("127.0.0.1", port)
    assert await asyncio.wait_for(reader.read(), 1) == b""
    for _, w in held:
        w.close()
    await srv.close()


@pytest.mark.slow
async def test_thousand_concurrent_requests_complete_with_stalled_ones_open():
    async def slowish(e164):
        await asyncio.sleep(0.05)
        return []
    srv = AgiServer(lookup=slowish, header_timeout=5.0)
    port = await srv.start("127.0.0.1", 0)
    stalled = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    for _, w in stalled:
        w.write(b"agi_callerid: 1")

    async def one() -> float:
        start = time.monotonic()
        got = await call(port, "99123456")
        assert got["CC_LOOKUP"] == "ok" and len(got) == 6
        return time.monotonic() - start

    durations = await asyncio.gather(*(one() for _ in range(1000)))
    assert max(durations) < 4.0
    assert srv.active == 20  # the stalled peers are still open and did not hold anyone up
    for _, w in stalled:
        w.close()
    await srv.close()
