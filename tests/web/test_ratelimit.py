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
