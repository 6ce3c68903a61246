"""A small in-process rate limiter: one token bucket per key (a client address, a user name …).

Each key's bucket holds at most `burst` tokens and refills at `rate_per_second`; a request takes one
token or is refused with the seconds until the next one. The table of buckets is bounded
(`keys_max`, least recently used evicted first), so a flood of distinct keys costs bounded memory; an
evicted key comes back with a full bucket, which only makes the limiter more lenient, never stuck.
The clock is injectable so tests need not sleep.

In-process only: with several server processes each keeps its own buckets (a client gets the
allowance once per process). Behind a reverse proxy every client shares the proxy's address; set the
proxy to limit per client itself, or key by a header it vouches for.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from api.errors import ApiError

KEYS_MAX = 10_000  # distinct keys tracked at once: ~1 MB of buckets at most


class RateLimited(ApiError):
    code = "rate_limited"
    http_status = 429

    def __init__(self, retry_after_seconds: float, detail: str | None = None) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(detail or f"请求过于频繁，请在 {self.retry_after_seconds} 秒后重试 / too many requests: "
                                   f"retry in {self.retry_after_seconds} s")
        self.headers = {"Retry-After": str(self.retry_after_seconds)}


class TokenBuckets:
    """key → token bucket. `take(key)` returns 0.0 when admitted, else the seconds to wait."""

    def __init__(self, *, rate_per_second: float, burst: int, keys_max: int = KEYS_MAX,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_second <= 0 or burst < 1 or keys_max < 1:
            raise ValueError("rate_per_second > 0, burst ≥ 1 and keys_max ≥ 1 are required")
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._keys_max = keys_max
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key → (tokens, at)

    def take(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - at) * self.rate_per_second)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate_per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._keys_max:
                self._buckets.popitem(last=False)
            return wait

    def check(self, key: str) -> None:
        """Take a token for `key` or raise RateLimited (429, Retry-After)."""
        wait = self.take(key)
        if wait > 0:
            raise RateLimited(wait)

    def __len__(self) -> int:
        return len(self._buckets)
