"""Rate governor: one per rate-limit group, shared by every task of a job.

RingCentral limits requests per (user, app) per group (Light: 50 per 60 s by
default) and answers 429 with a penalty that restarts with every request sent
during it. The governor keeps its own sliding log of send times so the limit
is never reached, learns the real limit and window from `X-Rate-Limit-*`
headers, and holds every request of its group while a penalty runs.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping

__all__ = ["Governor"]

# Arrival times at the server jitter by network delay; count a little wider.
_WINDOW_SLACK = 1.0


class Governor:
    """The send log and penalty hold of one rate-limit group ("light", "auth")."""

    def __init__(
        self,
        group: str,
        *,
        limit: int = 50,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.group = group
        self.limit = limit
        self.window = window
        self._clock = clock
        self._sent: collections.deque[float] = collections.deque()
        self._hold_until = 0.0
        self._lock = asyncio.Lock()
        self.penalties = 0
        self.waited = 0.0
        self._foreground = 0  # requests waiting in `acquire`

    def __repr__(self) -> str:
        return f"<Governor {self.group} {len(self._sent)}/{self.limit} per {self.window:g}s>"

    def delay(self) -> float:
        """Seconds to wait before the next request may go. Takes no slot; it only
        forgets the sends that have left the window."""
        now = self._clock()
        wait = max(0.0, self._hold_until - now)
        horizon = now - self.window - _WINDOW_SLACK
        while self._sent and self._sent[0] <= horizon:
            self._sent.popleft()
        if len(self._sent) >= self.limit:
            oldest = self._sent[len(self._sent) - self.limit]
            wait = max(wait, oldest + self.window + _WINDOW_SLACK - now)
        return wait

    async def acquire(self) -> None:
        """Wait for a slot and take it. Slots are granted in order of arrival."""
        self._foreground += 1
        try:
            async with self._lock:
                while (wait := self.delay()) > 0:
                    self.waited += wait
                    await asyncio.sleep(wait)
                self._sent.append(self._clock())
        finally:
            self._foreground -= 1

    def spare(self, reserve: int) -> bool:
        """Whether a background request may go now (takes no slot): nobody else is waiting,
        no penalty runs, and `reserve` slots of the window stay free for the rest."""
        return (self._foreground == 0 and self.delay() == 0
                and len(self._sent) + reserve < self.limit)

    async def acquire_spare(self, reserve: int, *, poll: float = 0.25) -> None:
        """Take a slot only when it is spare (see `spare`): background work such
        as fetching results never delays a POST or a poll, and never causes a 429."""
        reserve = min(reserve, max(0, self.limit - 1))
        while True:
            if self.spare(reserve) and not self._lock.locked():
                self._sent.append(self._clock())
                return
            await asyncio.sleep(max(poll, min(self.delay(), self.window)))

    def refund(self) -> None:
        """Give back the last slot: that request never reached the server."""
        if self._sent:
            self._sent.pop()

    def observe(self, headers: Mapping[str, str]) -> None:
        """Learn the limit and window from a response's `X-Rate-Limit-*` headers."""
        try:
            limit = int(headers.get("X-Rate-Limit-Limit", ""))
            window = float(headers.get("X-Rate-Limit-Window", ""))
        except ValueError:
            return
        if limit > 0 and window > 0:
            self.limit, self.window = limit, window
        try:
            left = int(headers.get("X-Rate-Limit-Remaining", ""))
        except ValueError:
            return
        self.delay()  # forget the sends that left the window
        missing = self.limit - max(0, left) - len(self._sent)
        if missing > 0:
            # Someone else shares these credentials (a resume right after a stop, a
            # second tool): count their requests as sent now, so ours stop in time.
            self._sent.extend([self._clock()] * missing)

    def hold(self, seconds: float) -> None:
        """Send nothing in this group for `seconds` (a penalty or a 503 hint)."""
        self._hold_until = max(self._hold_until, self._clock() + seconds)

    def penalize(self, retry_after: float) -> None:
        self.penalties += 1
        self.hold(retry_after)
