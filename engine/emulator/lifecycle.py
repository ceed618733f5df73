"""A message's life after processing, and the emulated clock (pure numpy, no I/O).

A message is Queued until its sender reaches it, then Sent; its delivery
receipt arrives a per-message delay later and turns it Delivered or
DeliveryFailed. A SendingFailed message (opted out, past a daily cap) is final
the moment it is processed. A message flagged "pending" first shows
DeliveryFailed SMS-CAR-104 when its receipt arrives, and its final status
`pending_resolve_delay` seconds after that.

Delays are drawn from a hash of (seed, batch, index), so they are the same
on every read and cost no memory: within `receipt_delay`, plus one to two
`late_receipt_delay`s for the late share.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .config import EmulatorConfig
from .reject import mix64

__all__ = [
    "PENDING_CODE",
    "PENDING_FLAG",
    "QUEUED",
    "SENT",
    "SHOWN_PENDING",
    "Lifecycle",
    "ScaledClock",
]

# Codes of what a message shows now (outcome codes below 200 are final ones).
QUEUED, SENT, SHOWN_PENDING = 250, 251, 252
# Set on an outcome (< 64) whose receipt first says SMS-CAR-104.
PENDING_FLAG = 64
PENDING_CODE = "SMS-CAR-104"

Floats = npt.NDArray[np.float64]
UInt8s = npt.NDArray[np.uint8]


class ScaledClock:
    """Emulated epoch seconds: `time_scale` emulated seconds per real one, plus jumps.

    It starts at the real time, so timestamps look current; `advance` moves
    it forward at once (a test's "an hour later").
    """

    def __init__(self, time_scale: float = 1.0, real: Callable[[], float] = time.time) -> None:
        self.time_scale = time_scale
        self._real = real
        self._origin = real()
        self._offset = 0.0

    def __call__(self) -> float:
        return self._origin + (self._real() - self._origin) * self.time_scale + self._offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds

    def real(self, seconds: float) -> float:
        """Emulated seconds as real ones (what a client waiting in real time needs)."""
        return seconds / self.time_scale


def _uniform(seed: int, batch: int, salt: int, index: npt.NDArray[np.int64]) -> Floats:
    """Seeded draws in [0, 1), one per message index."""
    key = mix64(np.array([(seed * 1_000_003 + batch) * 7 + salt], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        hashed = mix64(index.astype(np.uint64) ^ key)
    out: Floats = (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return out


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """The receipt model of one emulator config."""

    seed: int = 0
    receipt_delay: float = 0.0
    late_share: float = 0.0
    late_delay: float = 0.0
    pending_share: float = 0.0
    pending_delay: float = 0.0

    @classmethod
    def of(cls, config: EmulatorConfig) -> Lifecycle:
        return cls(seed=config.seed, receipt_delay=config.receipt_delay,
                   late_share=config.late_receipt_share, late_delay=config.late_receipt_delay,
                   pending_share=config.pending_failure_share,
                   pending_delay=config.pending_resolve_delay)

    @property
    def instant(self) -> bool:
        return not (self.receipt_delay or self.late_share or self.pending_share)

    @property
    def horizon(self) -> float:
        """After this long past processing, every message is final."""
        late = 2 * self.late_delay if self.late_share else 0.0  # see `delays`
        pending = self.pending_delay if self.pending_share else 0.0
        return self.receipt_delay + late + pending

    def pending_mask(self, batch: int, count: int) -> npt.NDArray[np.bool_]:
        """Which messages of a new batch detour through SMS-CAR-104."""
        if not self.pending_share or not count:
            return np.zeros(count, dtype=np.bool_)
        draws = _uniform(self.seed, batch, 3, np.arange(count, dtype=np.int64))
        mask: npt.NDArray[np.bool_] = draws < self.pending_share
        return mask

    def delays(self, batch: int, index: npt.NDArray[np.int64]) -> Floats:
        """Seconds from processing to the receipt, per message index."""
        if self.instant:
            return np.zeros(len(index), dtype=np.float64)
        first = _uniform(self.seed, batch, 1, index)
        delays: Floats = first * self.receipt_delay
        if self.late_share:
            late = _uniform(self.seed, batch, 2, index) < self.late_share
            delays[late] += self.late_delay * (1.0 + first[late])
        return delays

    def shown(self, outcomes: UInt8s, processed_at: Floats, delays: Floats, now: float
              ) -> UInt8s:
        """What each processed message shows at `now`: SENT, SHOWN_PENDING or its final."""
        shown = outcomes.copy()
        flagged = outcomes < 200
        receipt = processed_at + delays
        pending = flagged & ((outcomes & PENDING_FLAG) != 0)
        shown[pending] &= np.uint8(PENDING_FLAG - 1)
        shown[pending & (now < receipt + self.pending_delay)] = SHOWN_PENDING
        shown[flagged & (now < receipt)] = SENT
        return shown

    def changed_at(self, outcome: int, processed_at: float, delay: float, now: float) -> float:
        """When a processed message last changed what it shows (for lastModifiedTime)."""
        if outcome >= 200 or now < processed_at + delay:
            return processed_at
        receipt = processed_at + delay
        if outcome & PENDING_FLAG and now >= receipt + self.pending_delay:
            return receipt + self.pending_delay
        return receipt
