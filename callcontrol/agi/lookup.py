"""The ``lookup`` FastAGI script: caller id -> CRM contact -> channel variables."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from callcontrol.agi import protocol
from callcontrol.crm.phones import normalise

logger = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[list[Any]]]


def _variables(matches: list[Any], status: str) -> dict[str, str]:
    one = matches[0] if len(matches) == 1 else None
    vip = any(getattr(m, "vip", False) for m in matches)
    route = "vip" if vip else ("unknown" if not matches else "default")
    values = {
        "CC_CONTACT_ID": str(one.id) if one else "",
        "CC_CONTACT_CODE": str(one.code) if one else "",
        "CC_MATCHES": str(len(matches)), "CC_VIP": "1" if vip else "0",
        "CC_ROUTE": route, "CC_LOOKUP": status,
    }
    if one and one.name:
        values["CALLERID(name)"] = one.name
    return values


async def run(headers: dict[str, str], reader: asyncio.StreamReader,
              writer: asyncio.StreamWriter, lookup: Lookup, *, region: str,
              budget: float) -> None:
    """Look the caller up within ``budget`` seconds and set the CC_* variables."""
    channel = headers.get("agi_channel", "?")
    raw = headers.get("agi_callerid", "")
    e164 = normalise(raw, region) if len(raw) <= 32 else None
    matches: list[Any] = []
    if e164 is None:
        status = "invalid-callerid"
    else:
        try:
            matches, status = await asyncio.wait_for(lookup(e164), budget), "ok"
        except TimeoutError:
            status = "timeout"
        except Exception:  # a failing database must never block the call
            logger.exception("agi lookup failed channel=%s", channel)
            status = "error"
    logger.info("agi lookup channel=%s status=%s matches=%s", channel, status, len(matches))
    for name, value in _variables(matches, status).items():
        await protocol.set_variable(reader, writer, name, value)
