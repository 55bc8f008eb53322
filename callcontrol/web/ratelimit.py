"""Failed sign-in limiting, in memory per process (one app instance = one limiter).

After ``limit`` failures for a key (a username or a client address) further attempts are
refused for a window that doubles with each further failure, up to ``max_window``.
Several worker processes each keep their own counts; a shared store (Redis) would be needed
to limit across processes. At most ``max_keys`` keys are kept: a spray of made-up usernames
cannot grow memory without bound (expired entries go first, then the oldest).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class FailureLimiter:
    limit: int = 5
    window: float = 60.0
    max_window: float = 3600.0
    max_keys: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def retry_after(self, *keys: str) -> int:
        """Seconds to wait before another attempt for any of ``keys`` (0: allowed now)."""
        now = self.clock()
        waits = [self._wait(key, now) for key in keys]
        return max(waits, default=0)

    def _wait(self, key: str, now: float) -> int:
        count, last = self._failures.get(key, (0, 0.0))
        if count < self.limit:
            return 0
        window = min(self.window * 2 ** (count - self.limit), self.max_window)
        return max(0, int(last + window - now + 0.999))

    def failed(self, *keys: str) -> None:
        now = self.clock()
        for key in keys:
            count, _ = self._failures.get(key, (0, 0.0))
            self._failures.pop(key, None)  # re-insert: the dict stays oldest-first
            self._failures[key] = (count + 1, now)
        if len(self._failures) > self.max_keys:
            self._prune(now)

    def _prune(self, now: float) -> None:
        expired = [k for k, (_, last) in self._failures.items() if last + self.max_window < now]
        for key in expired:
            del self._failures[key]
        while len(self._failures) > self.max_keys:
            del self._failures[next(iter(self._failures))]

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
