"""Counts of what a job asked of the API, for the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestStats"]


@dataclass(slots=True)
class RequestStats:
    """What the job asked of the API; goes into the report."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    unknown_outcomes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "unknown_outcomes": self.unknown_outcomes,
        }
