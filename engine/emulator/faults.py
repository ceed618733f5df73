"""Seeded fault plans: which request gets which misbehaviour, and how late.

One uniform draw per request to a faulty endpoint picks the kind by the
cumulative shares (drop, 503, hang, 500, lost answer); a second draw sets the
latency jitter. Same seed and same request order, same faults. A `script`
names the faults of an operation's first requests outright (no draws). What
a fault does to the connection is the app's business (`app.py`):

- drop: the connection is closed before the request is handled; nothing is stored.
- 503: the gateway's `AGW-503` with `Retry-After` (or without, if
  `retry_after_503` is None); nothing is stored.
- 500: `CMN-201` "Service Temporary Unavailable" (RingCentral documents
  CMN-201 as a 500); nothing is stored.
- hang: half the hangs stall before handling (nothing stored, nothing sent);
  the other half handle the request, send the status line and headers, then
  stall before the body. Both stall until the client gives up or the emulator stops.
- lost answer (POST batches only): the batch is accepted and stored, then the
  connection is closed before any byte of the answer is sent.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from .config import CREATE_BATCH, FaultConfig

__all__ = ["FaultInjector", "FaultKind", "FaultPlan"]


class FaultKind(StrEnum):
    DROP = "drop"
    ERROR_503 = "error_503"
    ERROR_500 = "error_500"
    HANG = "hang"
    HANG_AFTER_HEADERS = "hang_after_headers"
    LOST_ANSWER = "lost_answer"


@dataclass(frozen=True, slots=True)
class FaultPlan:
    kind: FaultKind | None
    delay: float = 0.0


NO_FAULT = FaultPlan(None)


class FaultInjector:
    def __init__(self, config: FaultConfig) -> None:
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.seed)
        # Requests seen per scripted operation (a new config starts its script afresh).
        self._seen: dict[str, int] = {}

    def plan(self, operation: str) -> FaultPlan:
        config = self.config
        scripted = self._scripted(operation)
        if scripted is not None:
            return scripted
        if not config.active or operation not in config.paths:
            return NO_FAULT
        u = self._rng.random()
        jitter = self._rng.random()
        delay = config.latency + config.latency_jitter * jitter
        kind: FaultKind | None = None
        edge = config.drop_share
        if u < edge:
            kind = FaultKind.DROP
        elif u < (edge := edge + config.error_503_share):
            kind = FaultKind.ERROR_503
        elif u < (edge := edge + config.hang_share):
            # The jitter draw also splits hangs into the two variants.
            kind = FaultKind.HANG if jitter < 0.5 else FaultKind.HANG_AFTER_HEADERS
        elif u < (edge := edge + config.error_500_share):
            kind = FaultKind.ERROR_500
        elif u < edge + config.lost_answer_share and operation == CREATE_BATCH:
            kind = FaultKind.LOST_ANSWER
        return FaultPlan(kind, delay)

    def _scripted(self, operation: str) -> FaultPlan | None:
        """The script's plan for this request, or None once the operation's script is done."""
        kinds = self.config.script.get(operation)
        if kinds is None:
            return None
        seen = self._seen.get(operation, 0)
        if seen >= len(kinds):
            return None
        self._seen[operation] = seen + 1
        name = kinds[seen]
        return FaultPlan(FaultKind(name) if name else None, self.config.latency)
