"""The ``lookup`` FastAGI script: caller id -> CRM contact -> channel variables.

Variables set for the dialplan (always all of them, so a route never reads a stale value):
``CALLERID(name)`` (only for exactly one match), ``CC_CONTACT_ID``, ``CC_CONTACT_CODE``,
``CC_MATCHES``, ``CC_VIP`` (1/0), ``CC_ROUTE`` (suggested route: vip, support, billing,
default or unknown) and last ``CC_LOOKUP`` (ok, timeout, error, invalid-callerid), so the
dialplan's ``Set(CC_LOOKUP=error)`` before ``AGI()`` stays true if the script never ran.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from callcontrol.agi import protocol
from callcontrol.crm.phones import normalise

logger = logging.getLogger(__name__)

Lookup = Callable[[str], Awaitable[list[Any]]]
MAX_CALLERID = 32


def suggested_route(matches: list[Any]) -> str:
    """VIPs first; one known caller with open work or money owed goes to that team."""
    if not matches:
        return "unknown"
    if any(getattr(m, "vip", False) for m in matches):
        return "vip"
    if len(matches) == 1:
        if getattr(matches[0], "open_service_requests", 0):
            return "support"
        if Decimal(str(getattr(matches[0], "balance_due", 0) or 0)) > 0:
            return "billing"
    return "default"


def variables(matches: list[Any], status: str) -> dict[str, str]:
    one = matches[0] if len(matches) == 1 else None
    values: dict[str, str] = {}
    if one is not None and one.name:
        values["CALLERID(name)"] = one.name
    values.update({
        "CC_CONTACT_ID": str(one.id) if one else "",
        "CC_CONTACT_CODE": str(one.code) if one else "",
        "CC_MATCHES": str(len(matches)),
        "CC_VIP": "1" if any(getattr(m, "vip", False) for m in matches) else "0",
        "CC_ROUTE": suggested_route(matches),
        "CC_LOOKUP": status,
    })
    return values


async def _find(lookup: Lookup, e164: str | None, budget: float) -> tuple[list[Any], str]:
    if e164 is None:
        return [], "invalid-callerid"
    try:
        return list(await asyncio.wait_for(lookup(e164), budget)), "ok"
    except TimeoutError:
        logger.warning("agi lookup of %s took longer than %.2fs", e164, budget)
        return [], "timeout"
    except Exception:  # a failing database must never leave the call without variables
        logger.exception("agi lookup of %s failed", e164)
        return [], "error"


async def run(headers: dict[str, str], reader: asyncio.StreamReader,
              writer: asyncio.StreamWriter, lookup: Lookup, *, region: str,
              budget: float) -> str:
    """Look the caller up within ``budget`` seconds, set the variables, return the status."""
    raw = headers.get("agi_callerid", "")
    e164 = normalise(raw, region) if 0 < len(raw) <= MAX_CALLERID else None
    matches, status = await _find(lookup, e164, budget)
    logger.info("agi lookup channel=%s status=%s matches=%s",
                headers.get("agi_channel", "?"), status, len(matches))
    for name, value in variables(matches, status).items():
        try:
            await protocol.set_variable(reader, writer, name, value)
        except protocol.AgiUsageError as exc:  # one bad value must not cost the others
            logger.warning("agi SET VARIABLE %s refused: %s", name, exc)
    return status
