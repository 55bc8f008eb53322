import asyncio
import time

import pytest

from callcontrol.agi.server import AgiServer

HEADERS = (b"agi_network_script: lookup\nagi_callerid: 99123456\n"
           b"agi_channel: PJSIP/trunk-1\nagi_uniqueid: 1.1\n\n")


async def _nothing(e164):
    return []


async def _start(**kw):
    server = AgiServer(lookup=_nothing, **kw)
    return server, await server.start("127.0.0.1", 0)


@pytest.mark.parametrize("answer", [b"HANGUP\n", b"511 Command Not Permitted on a dead channel\n",
                                    b"510 Invalid or unknown command\n"])
async def test_error_reply_ends_script_and_server_keeps_serving(answer):
    server, port = await _start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS)
    assert (await reader.readline()).startswith(b"SET VARIABLE")
    writer.write(answer)
    assert await asyncio.wait_for(reader.read(), 2) == b""
    reader2, writer2 = await asyncio.open_connection("127.0.0.1", port)
    writer2.write(HEADERS)
    assert (await reader2.readline()).startswith(b"SET VARIABLE")
    writer2.close()
    await server.close()


async def test_half_closed_socket_mid_command_is_handled():
    server, port = await _start()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEADERS)
    await reader.readline()
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 2) == b""
    await server.close()


@pytest.mark.slow
async def test_thousand_concurrent_requests_complete_with_stalled_ones_open():
    server, port = await _start(header_timeout=5.0)
    stalled = [await asyncio.open_connection("127.0.0.1", port) for _ in range(20)]
    for _, w in stalled:
        w.write(b"agi_callerid: 1")

    async def one() -> float:
        start = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEADERS)
        count = 0
        while await reader.readline():
            count += 1
            writer.write(b"200 result=1\n")
        writer.close()
        assert count >= 6
        return time.monotonic() - start

    durations = await asyncio.gather(*(one() for _ in range(1000)))
    assert max(durations) < 4.0
    await server.close()
