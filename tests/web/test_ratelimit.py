from callcontrol.web.ratelimit import FailureLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sixth_rapid_failure_is_refused_for_a_growing_window():
    clock = Clock()
    limiter = FailureLimiter(limit=5, window=60, clock=clock)
    for _ in range(5):
        assert limiter.retry_after("user:ada", "ip:10.0.0.1") == 0
        limiter.failed("user:ada", "ip:10.0.0.1")
    assert limiter.retry_after("user:ada") == 60
    assert limiter.retry_after("user:other", "ip:10.0.0.1") == 60
    clock.now += 61
    assert limiter.retry_after("user:ada") == 0
    limiter.failed("user:ada")
    assert limiter.retry_after("user:ada") == 120


def test_success_clears_the_count():
    limiter = FailureLimiter(limit=2, clock=Clock())
    limiter.failed("user:ada")
    limiter.failed("user:ada")
    limiter.succeeded("user:ada")
    assert limiter.retry_after("user:ada") == 0


def test_memory_stays_bounded_under_a_spray_of_usernames():
    clock = Clock()
    limiter = FailureLimiter(limit=2, max_keys=100, clock=clock)
    limiter.failed("user:ada")
    limiter.failed("user:ada")
    for n in range(500):
        limiter.failed(f"user:made-up-{n}")
    assert len(limiter._failures) <= 100
    # The oldest entries went first; the newest are still counted.
    assert limiter.retry_after("user:ada") == 0
    limiter.failed("user:made-up-499")
    assert limiter.retry_after("user:made-up-499") > 0


def test_expired_entries_are_dropped_before_live_ones():
    clock = Clock()
    limiter = FailureLimiter(limit=1, window=10, max_window=10, max_keys=2, clock=clock)
    limiter.failed("old")
    clock.now += 100
    limiter.failed("live")
    limiter.failed("new")
    assert limiter.retry_after("live") > 0 and limiter.retry_after("new") > 0
    assert "old" not in limiter._failures


# --- shared counts in Redis ---------------------------------------------------------------

import socket  # noqa: E402

import redis.asyncio as aioredis  # noqa: E402

from callcontrol.web.ratelimit import RedisLimiter  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_two_processes_share_the_counts_through_redis(redis_url, unique_name):
    clock = Clock()
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    a, b = (RedisLimiter(c, f"{unique_name}:", FailureLimiter(limit=3, window=60), clock=clock)
            for c in clients)
    try:
        for limiter in (a, b, a):
            assert await limiter.retry_after("user:ada") == 0
            await limiter.failed("user:ada")
        assert await b.retry_after("user:ada") == 60
        clock.now += 61
        assert await b.retry_after("user:ada") == 0
        await b.failed("user:ada")
        assert await a.retry_after("user:ada") == 120
        await a.succeeded("user:ada")
        assert await b.retry_after("user:ada") == 0
        assert await clients[0].ttl(f"{unique_name}:user:ada") == -2  # cleared, not kept
    finally:
        for client in clients:
            await client.aclose()


async def test_without_redis_the_limits_still_hold_in_process(caplog):
    client = aioredis.Redis.from_url(f"redis://127.0.0.1:{_closed_port()}/0",
                                     socket_connect_timeout=1)
    limiter = RedisLimiter(client, "x:", FailureLimiter(limit=2, clock=Clock()), clock=Clock())
    try:
        await limiter.failed("user:ada")
        await limiter.failed("user:ada")
        assert await limiter.retry_after("user:ada") == 60
        assert "Redis unreachable" in caplog.text
    finally:
        await client.aclose()
