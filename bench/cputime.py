"""CPU time of this process per operation: the measure of the client micro-benchmarks
(``bench.ari_http``, ``bench.redis_client``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Send = Callable[[int], Awaitable[object]]


async def cpu_per_operation(send: Send, n: int, concurrency: int) -> float:
    """CPU seconds of this process per operation for ``n`` calls of ``send(i)``,
    ``concurrency`` of them in flight at a time."""
    async def worker(count: int) -> None:
        for i in range(count):
            await send(i)

    start = time.process_time()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    return (time.process_time() - start) / (n // concurrency * concurrency)
