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
# noticed within this long.
_MAX_REAL_STEP = 1.0


@dataclass(frozen=True, slots=True)
class Clock:
    """Epoch seconds (`now`) and sleeps measured on that clock."""

    now: Callable[[], float] = field(default=time.time)
    scale: float = 1.0  # clock seconds per real second

    def __post_init__(self) -> None:
        if not self.scale > 0:
            raise ValueError("a clock's scale must be positive")

    async def sleep(self, seconds: float) -> None:
        """Sleep `seconds` of this clock."""
        await self.sleep_until(self.now() + seconds)

    async def sleep_until(self, when: float) -> None:
        """Sleep until this clock reads `when` (at once if it already does)."""
        while (left := when - self.now()) > 0:
            await asyncio.sleep(min(left / self.scale, _MAX_REAL_STEP))

    def real(self, seconds: float) -> float:
        """Seconds of this clock as real seconds."""
        return seconds / self.scale


SYSTEM_CLOCK = Clock()



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
