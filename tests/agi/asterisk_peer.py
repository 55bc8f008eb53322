"""A FastAGI peer that behaves like Asterisk: the full ``agi_*`` header block, then one reply
per command line. Used by the AGI tests through the server's public API only."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

OK = b"200 result=1\n"


def header_block(callerid: str, *, script: str = "lookup", uniqueid: str = "1700000000.1",
                 channel: str = "PJSIP/trunk-00000001") -> bytes:
    lines = {
        "agi_network": "yes", "agi_network_script": script,
        "agi_request": f"agi://callcontrol:4573/{script}", "agi_channel": channel,
        "agi_language": "en", "agi_type": "PJSIP", "agi_uniqueid": uniqueid,
        "agi_version": "22.5.2", "agi_callerid": callerid, "agi_calleridname": "unknown",
        "agi_callingpres": "0", "agi_callingani2": "0", "agi_callington": "0",
        "agi_callingtns": "0", "agi_dnid": "22000000", "agi_rdnis": "unknown",
        "agi_context": "from-trunk", "agi_extension": "22000000", "agi_priority": "3",
        "agi_enhanced": "0.0", "agi_accountcode": "", "agi_threadid": "140000000000000",
    }
    return ("".join(f"{k}: {v}\n" for k, v in lines.items()) + "\n").encode()


def parse_set_variable(line: bytes) -> tuple[str, str]:
    """``SET VARIABLE NAME "value"`` -> (NAME, value) with the AGI escapes undone."""
    text = line.decode().rstrip("\n")
    verb, _, rest = text.partition(" VARIABLE ")
    assert verb == "SET", text
    name, _, quoted = rest.partition(" ")
    assert quoted.startswith('"') and quoted.endswith('"'), text
    return name, quoted[1:-1].replace('\\"', '"').replace("\\\\", "\\")


async def call(port: int, callerid: str, *,
               answer: Callable[[int, str], bytes] = lambda i, name: OK,
               **headers: str) -> dict[str, str]:
    """Run one look-up; ``answer(index, variable)`` gives the reply to each command."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(header_block(callerid, **headers))
    got: dict[str, str] = {}
    index = 0
    while line := await asyncio.wait_for(reader.readline(), 5):
        name, value = parse_set_variable(line)
        got[name] = value
        writer.write(answer(index, name))
        index += 1
    writer.close()
    return got
