"""api/ratelimit.py: key → token bucket, with an injected clock."""

from __future__ import annotations

import pytest

from api.errors import http_status_of
from api.ratelimit import RateLimited, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_admitted_then_refused_with_the_wait_until_the_next_token() -> None:
    clock = Clock()
    buckets = TokenBucket(rate_per_second=0.5, burst=3, clock=clock)
    assert [buckets.take("10.0.0.1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("10.0.0.1") == pytest.approx(2.0)
    clock.now += 2.0
    assert buckets.take("10.0.0.1") == 0.0
    assert buckets.take("10.0.0.1") > 0


def test_keys_do_not_share_a_bucket() -> None:
    buckets = TokenBucket(rate_per_second=1.0, burst=1, clock=Clock())
    assert buckets.take("a") == 0.0
    assert buckets.take("b") == 0.0
    assert buckets.take("a") > 0


def test_refused_requests_do_not_borrow_tokens() -> None:
    clock = Clock()
    buckets = TokenBucket(rate_per_second=1.0, burst=1, clock=clock)
    buckets.take("a")
    for _ in range(100):  # hammering while limited does not push the next token further away
        assert buckets.take("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.take("a") == 0.0


def test_the_table_of_keys_is_bounded() -> None:
    buckets = TokenBucket(rate_per_second=1.0, burst=1, keys_max=100, clock=Clock())
    for n in range(10_000):
        buckets.take(f"10.0.{n // 256}.{n % 256}")
    assert len(buckets) == 100


def test_check_raises_rate_limited_with_a_retry_after_header() -> None:
    buckets = TokenBucket(rate_per_second=0.1, burst=1, clock=Clock())
    buckets.check("a")
    with pytest.raises(RateLimited) as limited:
        buckets.check("a")
    assert limited.value.code == "rate_limited" and http_status_of(limited.value) == 429
    assert limited.value.headers == {"Retry-After": "10"}
    assert "请求过于频繁" in limited.value.detail


@pytest.mark.parametrize("rate, burst", [(0.0, 1), (1.0, 0), (-1.0, 5)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate_per_second=rate, burst=burst)
