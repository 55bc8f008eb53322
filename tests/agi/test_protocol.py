import asyncio

import pytest

from callcontrol.agi import protocol


def _reader(data: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


async def test_header_block_ends_at_empty_line():
    reader = _reader(b"agi_network_script: lookup\nagi_callerid: 1001\n\nrest")
    headers = await protocol.read_headers(reader)
    assert headers == {"agi_network_script": "lookup", "agi_callerid": "1001"}


async def test_eof_mid_headers_raises_closed():
    with pytest.raises(protocol.AgiClosed):
        await protocol.read_headers(_reader(b"agi_callerid: 1001\n"))


async def test_result_with_data_and_endpos():
    reply = await protocol.read_reply(_reader(b"200 result=1 (timeout) endpos=1234\n"))
    assert reply == protocol.Reply(1, "timeout", 1234)


@pytest.mark.parametrize(("line", "error"), [
    (b"510 Invalid or unknown command\n", protocol.AgiUnknownCommand),
    (b"511 Command Not Permitted on a dead channel\n", protocol.AgiDeadChannel),
    (b"520 Invalid command syntax.  Proper usage follows:\n", protocol.AgiUsageError),
    (b"HANGUP\n", protocol.AgiHangup),
])
async def test_error_replies_are_typed(line, error):
    with pytest.raises(error):
        await protocol.read_reply(_reader(line))


async def test_multiline_520_block_is_consumed_whole():
    reader = _reader(b"520-Invalid command syntax.  Proper usage follows:\nUsage: X\n"
                     b"520 End of proper usage.\n200 result=1\n")
    with pytest.raises(protocol.AgiUsageError, match="Usage: X"):
        await protocol.read_reply(reader)
    assert (await protocol.read_reply(reader)).result == 1
