"""Failed sign-in limiting: in memory per process, or in Redis shared by every process.

After ``limit`` failures for a key (a username or a client address) further attempts are
refused for a window that doubles with each further failure, up to ``max_window``.

``FailureLimiter`` keeps the counts of one process; at most ``max_keys`` keys, so a spray
of made-up usernames cannot grow memory without bound (expired entries go first, then the
oldest). ``InProcessLimiter`` gives it the async interface that ``RedisLimiter`` has;
``RedisLimiter`` applies the same rule to counts in Redis (with ``CALLCONTROL_REDIS_URL``
set, N processes must not mean N times the attempts) and falls back to its own in-process
counts while Redis is unreachable, so sign-in stays possible and still limited.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def wait_seconds(count: int, last: float, now: float, *, limit: int, window: float,
                 max_window: float) -> int:
    """Seconds still to wait after ``count`` failures, the latest at ``last``."""
    if count < limit:
        return 0
    span = min(window * 2 ** (count - limit), max_window)
    return max(0, int(last + span - now + 0.999))


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
        return wait_seconds(count, last, now, limit=self.limit, window=self.window,
                            max_window=self.max_window)

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


class Limiter(Protocol):
    limit: int

    async def retry_after(self, *keys: str) -> int: ...

    async def failed(self, *keys: str) -> None: ...

    async def succeeded(self, *keys: str) -> None: ...


class InProcessLimiter:
    def __init__(self, local: FailureLimiter) -> None:
        self.local = local

    @property
    def limit(self) -> int:
        return self.local.limit

    @limit.setter
    def limit(self, value: int) -> None:
        self.local.limit = value

    async def retry_after(self, *keys: str) -> int:
        return self.local.retry_after(*keys)

    async def failed(self, *keys: str) -> None:
        self.local.failed(*keys)

    async def succeeded(self, *keys: str) -> None:
        self.local.succeeded(*keys)


class RedisLimiter(InProcessLimiter):
    """Counts in Redis hashes ``<prefix><key>`` {count, last}, expiring after ``max_window``.

    Times are wall-clock seconds, since several machines compare them.
    """

    def __init__(self, redis, prefix: str, local: FailureLimiter,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(local)
        self._redis = redis
        self._prefix = prefix
        self._clock = clock

    async def retry_after(self, *keys: str) -> int:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hmget(self._prefix + key, "count", "last")
                rows = await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("sign-in limits: Redis unreachable (%s); counting in-process", exc)
            return self.local.retry_after(*keys)
        now = self._clock()
        local = self.local
        waits = [wait_seconds(int(c or 0), float(t or 0), now, limit=local.limit,
                              window=local.window, max_window=local.max_window)
                 for c, t in rows]
        return max([*waits, self.local.retry_after(*keys)])

    async def failed(self, *keys: str) -> None:
        now, ttl = self._clock(), int(self.local.max_window) + 1
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for key in keys:
                    pipe.hincrby(self._prefix + key, "count", 1)
                    pipe.hset(self._prefix + key, "last", repr(now))
                    pipe.expire(self._prefix + key, ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            logger.warning("sign-in limits: Redis unreachable (%s); counting in-process", exc)
            self.local.failed(*keys)

    async def succeeded(self, *keys: str) -> None:
        self.local.succeeded(*keys)
        try:
            await self._redis.delete(*(self._prefix + key for key in keys))
        except (RedisError, OSError) as exc:
            logger.warning("sign-in limits: Redis unreachable (%s)", exc)
