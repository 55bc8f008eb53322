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
