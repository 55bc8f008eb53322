"""Ask Asterisk to reload a module over ARI (``PUT /asterisk/modules/{module}``).

A short-lived client per click: a reload is rare, and the dialplan domain stays independent
of the call-control domain that owns the long-lived ARI connection.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from callcontrol.ari.client import AriClient
from callcontrol.ari.errors import AriError, AriUnavailable
from callcontrol.config import AriConfig

logger = logging.getLogger(__name__)

#: What to reload after saving each file; None: Asterisk must be restarted.
MODULES: dict[str, str | None] = {
    "extensions.conf": "pbx_config.so",
    "pjsip.conf": "res_pjsip.so",
    "ari.conf": None,
    "http.conf": None,
}
RELOADABLE = frozenset(m for m in MODULES.values() if m)


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    message: str


def is_connected(ari_state: Any) -> bool:
    return bool(getattr(ari_state, "connected", False))


async def reload_module(config: AriConfig, module: str, ari_state: Any) -> ReloadResult:
    """Reload ``module`` if callcontrol is connected to Asterisk; never raises."""
    if module not in RELOADABLE:
        return ReloadResult(False, f"{module!r} cannot be reloaded from here")
    if not is_connected(ari_state):
        return ReloadResult(False, f"Not connected to Asterisk (ARI at {config.url}): the "
                            f"saved files are kept; reload {module} once it is connected, or "
                            "run 'module reload " + module + "' on the Asterisk CLI.")
    try:
        async with AriClient(config) as client:
            await client.asterisk.reload_module(module)
    except AriUnavailable as exc:
        logger.warning("ARI reload of %s: Asterisk unreachable: %s", module, exc.message)
        return ReloadResult(False, f"Asterisk did not answer ({exc.message}); {module} was "
                            "not reloaded.")
    except AriError as exc:
        logger.warning("ARI reload of %s failed: %s %s", module, exc.status, exc.message)
        return ReloadResult(False, f"Asterisk refused to reload {module}: {exc.status} "
                            f"{exc.message}")
    logger.info("asked Asterisk to reload %s", module)
    return ReloadResult(True, f"Asterisk reloaded {module}.")
