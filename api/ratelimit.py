"""In-process rate limiting: a key → state table with an injectable clock, bounded in size.

Two shapes, both keyed by any hashable key (a username, a client address, an endpoint name):

* `FailureThrottle` — growing delays after repeated failures (sign-in): the first
  `free_failures` failures cost nothing; after that each further failure doubles the wait
  (`base_delay_seconds` · 2^(n − free)), capped at `delay_max_seconds`. A success clears the key.
  `check(key)` returns the seconds still to wait (0: go ahead).
* `TokenBucket` — a steady rate with a burst (anonymous endpoints): `take(key)` returns the
  seconds until a token is available (0: taken).

Both forget idle keys and never hold more than `keys_max` of them (the oldest are dropped first),
so an attacker cycling through addresses or names cannot grow memory without bound. The clock is
`time.monotonic` unless a test passes its own. One process only: several processes each keep
their own table (documented; a shared store is future work).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from api.errors import ApiError

Clock = Callable[[], float]
KEYS_MAX = 100_000  # ~100 bytes a key: a table stays under ~10 MB however many keys an attacker tries


@dataclass
class _Failures:
    count: int
    blocked_until: float
    last_seen: float


class FailureThrottle:
    """Exponential back-off per key after `free_failures` failures."""

    def __init__(self, *, free_failures: int = 5, base_delay_seconds: float = 1.0, delay_max_seconds: float = 900.0,
                 forget_after_seconds: float = 3600.0, keys_max: int = KEYS_MAX, clock: Clock = time.monotonic) -> None:
        assert free_failures >= 0 and base_delay_seconds > 0 and delay_max_seconds >= base_delay_seconds
        self._free = free_failures
        self._base = base_delay_seconds
        self._max = delay_max_seconds
        self._forget = forget_after_seconds
        self._keys_max = keys_max
        self._clock = clock
        self._lock = threading.Lock()
        self._table: OrderedDict[Hashable, _Failures] = OrderedDict()

    def check(self, key: Hashable) -> float:
        """Seconds the caller must still wait before trying `key` again (0.0: go ahead)."""
        now = self._clock()
        with self._lock:
            entry = self._table.get(key)
            if entry is None:
                return 0.0
            if now - entry.last_seen > self._forget:
                del self._table[key]
                return 0.0
            return max(0.0, entry.blocked_until - now)

    def failure(self, key: Hashable) -> float:
        """Record a failure; returns the delay now imposed on the key (0.0 while still free)."""
        now = self._clock()
        with self._lock:
            entry = self._table.pop(key, None)
            if entry is None or now - entry.last_seen > self._forget:
                entry = _Failures(0, now, now)
            entry.count += 1
            entry.last_seen = now
            over = entry.count - self._free
            delay = 0.0 if over <= 0 else min(self._max, self._base * 2 ** min(over - 1, 40))
            entry.blocked_until = now + delay
            self._table[key] = entry  # most recent last
            while len(self._table) > self._keys_max:
                self._table.popitem(last=False)
            return delay

    def success(self, key: Hashable) -> None:
        with self._lock:
            self._table.pop(key, None)

    def failures(self, key: Hashable) -> int:
        with self._lock:
            entry = self._table.get(key)
            return entry.count if entry is not None else 0

    def __len__(self) -> int:
        return len(self._table)


class RateLimited(ApiError):
    """429 with Retry-After: a key took more than its allowance."""

    code = "rate_limited"

    def __init__(self, retry_after_seconds: float, detail: str | None = None) -> None:
        self.retry_after_seconds = max(1, math.ceil(retry_after_seconds))
        super().__init__(detail or f"请求过于频繁，请在 {self.retry_after_seconds} 秒后重试 / too many requests: "
                                   f"retry in {self.retry_after_seconds} s")
        self.headers = {"Retry-After": str(self.retry_after_seconds)}


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """`rate_per_second` tokens a second per key, at most `burst` saved up."""

    def __init__(self, *, rate_per_second: float, burst: int, keys_max: int = KEYS_MAX,
                 clock: Clock = time.monotonic) -> None:
        if rate_per_second <= 0 or burst < 1 or keys_max < 1:
            raise ValueError("rate_per_second > 0, burst ≥ 1 and keys_max ≥ 1 are required")
        self._rate = rate_per_second
        self._burst = float(burst)
        self._keys_max = keys_max
        self._clock = clock
        self._lock = threading.Lock()
        self._table: OrderedDict[Hashable, _Bucket] = OrderedDict()

    def take(self, key: Hashable, cost: float = 1.0) -> float:
        """Take `cost` tokens: 0.0 when taken, else the seconds until enough are available."""
        now = self._clock()
        with self._lock:
            bucket = self._table.pop(key, None) or _Bucket(self._burst, now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            wait = 0.0
            if bucket.tokens >= cost:
                bucket.tokens -= cost
            else:
                wait = (cost - bucket.tokens) / self._rate
            self._table[key] = bucket
            while len(self._table) > self._keys_max:
                self._table.popitem(last=False)
            return wait

    def check(self, key: Hashable) -> None:
        """Take a token for `key` or raise RateLimited (429, Retry-After)."""
        wait = self.take(key)
        if wait > 0:
            raise RateLimited(wait)

    def __len__(self) -> int:
        return len(self._table)
