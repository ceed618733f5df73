"""The engine's clock: wall-clock epoch seconds, injectable so that rules about
time (pacing, quiet hours, daily caps) run in simulated time in tests.

`Clock(now=emulator_clock, scale=600)` follows an emulator whose clock runs 600
times faster than real time: `sleep(60)` then waits 0.1 real seconds.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["CLOCK_HEADER", "SYSTEM_CLOCK", "Clock", "announced"]

# The answer header in which hvsms's own emulator announces its clock.
CLOCK_HEADER = "X-Hvsms-Emulator-Clock"

# Longest real sleep in one go: a clock that jumps (an emulator's `advance`) is
# noticed within this long. The system clock only drifts (NTP): a minute will do,
# so a job waiting hours for a window to open wakes 60 times an hour, not 3600.
_MAX_REAL_STEP = 1.0
_SYSTEM_STEP = 60.0


@dataclass(frozen=True, slots=True)
class Clock:
    """Epoch seconds (`now`) and sleeps measured on that clock."""

    now: Callable[[], float] = field(default=time.time)
    scale: float = 1.0  # clock seconds per real second
    step: float = _MAX_REAL_STEP  # longest real sleep before the clock is read again

    def __post_init__(self) -> None:
        if not self.scale > 0 or not self.step > 0:
            raise ValueError("a clock's scale and step must be positive")

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock."""
        await self.sleep_until(self.now() + seconds)

    async def sleep_until(self, when: float) -> None:
        """Sleep until this clock reads `when` (at once if it already does)."""
        while (left := when - self.now()) > 0:
            await asyncio.sleep(min(left / self.scale, self.step))

    def real(self, seconds: float) -> float:
        """Seconds of this clock as real seconds."""
        return seconds / self.scale

    def timeout(self, until: float) -> float | None:
        """Real seconds to wait for something that may happen before this clock reads
        `until` (None: no time limit); at most `step`, so a jump is noticed."""
        if math.isinf(until):
            return None
        return max(0.0, min(self.real(until - self.now()), self.step))


SYSTEM_CLOCK = Clock(step=_SYSTEM_STEP)


def announced(value: str, read_at: float) -> Clock | None:
    """The clock hvsms's own emulator announced (`CLOCK_HEADER`: "<epoch seconds>
    <scale>"), read at `read_at` (`time.monotonic()`); None if it is not one.
    Its later jumps (`advance`) are not seen."""
    try:
        now, scale = (float(x) for x in value.split())
    except ValueError:
        return None
    if not (math.isfinite(now) and math.isfinite(scale) and scale > 0):
        return None
    return Clock(now=lambda: now + (time.monotonic() - read_at) * scale, scale=scale)
