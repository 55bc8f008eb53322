"""FastAGI wire protocol: the ``agi_*`` header block, commands and typed replies."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\([A-Za-z0-9_-]*\))?$")
_RESULT = re.compile(r"^200 result=(-?\d+)(?: \((.*)\))?(?: endpos=(\d+))?\s*$")


class AgiError(Exception):
    """A FastAGI exchange failed."""


class AgiHangup(AgiError):
    """Asterisk reported HANGUP: the channel is gone (the socket may stay open)."""


class AgiClosed(AgiError):
    """The peer closed the socket (EOF) mid-headers or mid-command."""


class AgiUnknownCommand(AgiError):
    """510 Invalid or unknown command."""


class AgiDeadChannel(AgiError):
    """511 Command Not Permitted on a dead channel."""


class AgiUsageError(AgiError):
    """520 Invalid command syntax (single or multi-line usage block)."""


@dataclass(frozen=True)
class Reply:
    result: int
    data: str | None = None
    endpos: int | None = None


class AgiMalformed(AgiError):
    """The peer sent something that is not AGI (an over-long line, too many headers)."""


MAX_HEADERS = 100


async def _line(reader: asyncio.StreamReader) -> str:
    try:
        raw = await reader.readline()
    except ValueError as exc:  # asyncio's line limit (64 KiB) overrun
        raise AgiMalformed("line too long") from exc
    if not raw.endswith(b"\n"):
        raise AgiClosed("connection closed")
    return raw.decode("utf-8", "replace").rstrip("\r\n")


async def read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    """Read ``agi_key: value`` lines up to the empty line; raise AgiClosed on EOF."""
    headers: dict[str, str] = {}
    while line := await _line(reader):
        if len(headers) >= MAX_HEADERS:
            raise AgiMalformed(f"more than {MAX_HEADERS} header lines")
        key, _, value = line.partition(":")
        headers[key.strip()] = value.strip()
    return headers


async def read_reply(reader: asyncio.StreamReader) -> Reply:
    """Parse one reply; HANGUP lines raise AgiHangup, 5xx codes raise typed errors."""
    line = await _line(reader)
    if line.startswith("HANGUP"):
        raise AgiHangup(line)
    if match := _RESULT.match(line):
        endpos = int(match.group(3)) if match.group(3) else None
        return Reply(int(match.group(1)), match.group(2), endpos)
    if line.startswith("510"):
        raise AgiUnknownCommand(line)
    if line.startswith("511"):
        raise AgiDeadChannel(line)
    if line.startswith("520-"):
        usage = [line]
        while not (nxt := await _line(reader)).startswith("520 End of proper usage."):
            usage.append(nxt)
        raise AgiUsageError("\n".join(usage))
    if line.startswith("520"):
        raise AgiUsageError(line)
    raise AgiError(f"unexpected reply: {line[:200]!r}")


async def command(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  text: str) -> Reply:
    """Send one command line and read its reply."""
    writer.write(text.encode() + b"\n")
    await writer.drain()
    return await read_reply(reader)


async def set_variable(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       name: str, value: str) -> Reply:
    """``SET VARIABLE name "value"``: quotes escaped, control characters dropped.

    A newline in a value (a contact name typed with one) would otherwise end the command
    early and let the rest of the text run as a second AGI command.
    """
    if not _NAME.match(name):
        raise ValueError(f"bad channel variable name {name!r}")
    clean = "".join(c for c in value if c >= " " and c != "\x7f")
    escaped = clean.replace("\\", "\\\\").replace('"', '\\"')
    return await command(reader, writer, f'SET VARIABLE {name} "{escaped}"')
