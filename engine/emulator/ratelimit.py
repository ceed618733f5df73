"""RingCentral-style rate limits: a budget per key and group, and the 429 penalty.

Each (key, group) may make `limit` requests per `window` seconds. The request
over the limit gets 429 and starts a penalty of `window` seconds; every request
made during the penalty is answered 429 too and restarts it ("it may stuck in
the 429 trap forever", RingCentral's guide). Pure logic over an injected clock.

Windows are emulated seconds; the headers (`X-Rate-Limit-Window`,
`Retry-After`) say real ones, `real_seconds` of them, so a client waiting in
real time waits as long as the compressed clock needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from .config import RateLimitConfig

__all__ = ["AUTH", "LIGHT", "MEDIUM", "Decision", "RateLimiter"]

LIGHT = "light"
AUTH = "auth"
MEDIUM = "medium"  # subscriptions: 40 a minute, RingCentral's default
MEDIUM_LIMIT = 40


@dataclass(slots=True)
class _Bucket:
    window_start: float
    count: int = 0
    penalty_until: float = 0.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after: float | None = None


class RateLimiter:
    def __init__(self, config: RateLimitConfig, clock: Callable[[], float],
                 real_seconds: Callable[[float], float] = float) -> None:
        self.config = config
        self._clock = clock
        self._real = real_seconds
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def configure(self, config: RateLimitConfig) -> None:
        self.config = config
        self._buckets.clear()

    def limit(self, group: str) -> int:
        if group == MEDIUM:
            return MEDIUM_LIMIT
        return self.config.auth if group == AUTH else self.config.light

    def hit(self, key: str, group: str) -> Decision | None:
        """Count one request; None when rate limiting is off."""
        if not self.config.enabled:
            return None
        now = self._clock()
        window = self.config.window
        limit = self.limit(group)
        bucket = self._buckets.get((key, group))
        if bucket is None:
            bucket = self._buckets[(key, group)] = _Bucket(window_start=now)
        headers = {
            "X-Rate-Limit-Group": group,
            "X-Rate-Limit-Limit": str(limit),
            "X-Rate-Limit-Window": _seconds(self._real(window)),
        }
        if now < bucket.penalty_until:
            return self._penalise(bucket, now, headers)
        if now - bucket.window_start >= window:
            bucket.window_start = now
            bucket.count = 0
        bucket.count += 1
        if bucket.count > limit:
            return self._penalise(bucket, now, headers)
        headers["X-Rate-Limit-Remaining"] = str(limit - bucket.count)
        return Decision(True, headers)

    def _penalise(self, bucket: _Bucket, now: float, headers: dict[str, str]) -> Decision:
        window = self.config.window
        bucket.penalty_until = now + window
        # After the penalty the group starts a fresh window.
        bucket.window_start = bucket.penalty_until
        bucket.count = 0
        headers["X-Rate-Limit-Remaining"] = "0"
        real = self._real(window)
        # Real time: whole seconds, as RingCentral sends; compressed: the fraction.
        retry_after = real if real < window else max(1, math.ceil(real))
        headers["Retry-After"] = _seconds(retry_after)
        return Decision(False, headers, retry_after)


def _seconds(value: float) -> str:
    """Whole seconds as HTTP has them; a compressed clock's fractions with 3 digits."""
    return f"{value:g}" if value >= 1 else f"{value:.3g}"
