"""Request bookkeeping for tests and benchmarks: counts, statuses, faults, concurrency.

`Ledger` only counts; `Ledger.snapshot` joins those counts with what the
store knows (accepted recipients, duplicates) into the compact JSON served at
`GET /_emulator/ledger`.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .state import EmulatorState

__all__ = ["Ledger"]


class Ledger:
    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.status_counts: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.responses_429 = 0
        self.largest_body = 0
        self.lost_answer_batches: list[str] = []
        self._in_flight: Counter[str] = Counter()
        self.max_in_flight: dict[str, int] = {}

    def started(self, operation: str) -> None:
        self.requests[operation] += 1
        self._in_flight[operation] += 1
        now = self._in_flight[operation]
        if now > self.max_in_flight.get(operation, 0):
            self.max_in_flight[operation] = now

    def finished(self, operation: str) -> None:
        self._in_flight[operation] -= 1

    def answered(self, status: int) -> None:
        self.status_counts[str(status)] += 1
        if status == 429:
            self.responses_429 += 1

    def fault(self, kind: str) -> None:
        self.faults[kind] += 1

    def body(self, size: int) -> None:
        self.largest_body = max(self.largest_body, size)

    def snapshot(self, state: EmulatorState) -> dict[str, Any]:
        extra, numbers, per_sender = state.duplicates()
        return {
            "accepted": sum(per_sender.values()),
            "duplicates": extra,
            "duplicate_numbers": numbers,
            "batches": len(state.batches),
            "rejected": state.rejected_total,
            "largest_body": self.largest_body,
            "requests": dict(self.requests),
            "responses_429": self.responses_429,
            "status_counts": dict(self.status_counts),
            "faults": dict(self.faults),
            "lost_answer_batches": list(self.lost_answer_batches),
            "max_in_flight": dict(self.max_in_flight),
            "in_flight": {k: v for k, v in self._in_flight.items() if v},
            "per_sender": per_sender,
            # Messages scheduled per sender per emulated UTC day (a daily cap counts these).
            "per_day": state.intake.per_day(),
        }
