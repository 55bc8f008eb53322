"""Connection state of the ARI events websocket, for /healthz and the metrics.

`EventStream` owns one and updates it; the app reads `connected` (it satisfies
`callcontrol.app.AriState`) and `bind_metrics` keeps the `callcontrol_ari_connected` gauge
and the `callcontrol_ari_reconnects_total` counter in step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

Listener = Callable[[bool], None]


class ConnectionState:
    def __init__(self) -> None:
        self._connected = False
        self.connects = 0  # successful connections, the first one included
        self.attempts = 0  # connection attempts, failed ones included
        self.last_error: str | None = None
        self.changed_at = time.monotonic()
        self._listeners: list[Listener] = []

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def reconnects(self) -> int:
        return max(0, self.connects - 1)

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(connected)` now and on every change."""
        self._listeners.append(listener)
        self._notify(listener)

    def attempt(self) -> None:
        self.attempts += 1

    def up(self) -> None:
        self.connects += 1
        self.last_error = None
        self._set(True)

    def down(self, error: str | None = None) -> None:
        if error:
            self.last_error = error
        self._set(False)

    def _set(self, connected: bool) -> None:
        if connected == self._connected:
            return
        self._connected = connected
        self.changed_at = time.monotonic()
        for listener in list(self._listeners):
            self._notify(listener)

    def _notify(self, listener: Listener) -> None:
        try:
            listener(self._connected)
        except Exception:  # a broken gauge must not break the event stream
            logger.exception("ARI connection-state listener failed")

    def as_dict(self) -> dict[str, Any]:
        return {"connected": self._connected, "reconnects": self.reconnects,
                "attempts": self.attempts, "last_error": self.last_error}


def bind_metrics(state: ConnectionState, registry: Any) -> None:
    """Mirror `state` into a `callcontrol.metrics` registry (`product_registry()`)."""
    gauge = registry["callcontrol_ari_connected"]
    reconnects = registry["callcontrol_ari_reconnects_total"]
    seen = {"connects": state.connects}

    def update(connected: bool) -> None:
        gauge.set(1 if connected else 0)
        if connected and state.connects > 1 and state.connects > seen["connects"]:
            reconnects.inc(state.connects - max(seen["connects"], 1))
        seen["connects"] = state.connects

    state.add_listener(update)
