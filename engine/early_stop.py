"""Stop early when the carriers say no (pure: the counts are passed in).

When carriers filter a text (spam, a shortened link) or block the sender, every
later batch fails the same way, and may still be billed. So each number's
first batch is judged before its next one is posted, and the job pauses when
its first results show a number-wide code, or when more than `share` of its
first `first` results failed. A pause is resumable (`hvsms resume`) once the
text or the number is fixed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from .codes import PENDING_CODES, describe, parse_codes

__all__ = ["FIRST", "NUMBER_WIDE", "SHARE", "EarlyStop", "FirstResults", "parse_codes"]

# Codes that are about the text or the sender, not the recipient: every later
# message from the number fails the same way (RingCentral's error list).
NUMBER_WIDE = frozenset({"SMS-CAR-430", "SMS-CAR-435", "SMS-UP-430", "SMS-UP-431",
                         "SMS-RC-430"})
FIRST = 1_000
SHARE = 0.05


@dataclass(frozen=True, slots=True)
class EarlyStop:
    """Why a job paused: the number, the code, its meaning, the share that failed."""

    number: str
    code: str
    description: str
    share: float  # failed / looked at
    looked_at: int
    number_wide: bool
    told: bool = False  # by a message event, before the batch completed


    def advice(self) -> str:
        if self.code in ("SMS-CAR-435",):
            return "take the shortened link out of the text (or use your own domain)"
        if self.code in ("SMS-UP-431", "SMS-RC-430") or not self.number_wide:
            return ("check the number's registration and the text with RingCentral "
                    "(or send from another number)")
        return "change the text (links, wording) or register the number for this use"

    def line(self) -> str:
        if self.told:
            return (f"stopped early (a number-wide code, told by an event): {self.code} "
                    f"({self.description}) from {self.number} on {self.looked_at:,} of its "
                    f"first messages; {self.advice()}")
        kind = "a number-wide code" if self.number_wide else "too many failures"
        return (f"stopped early ({kind}): {self.code} ({self.description}) from "
                f"{self.number}: {self.share:.0%} of its first {self.looked_at:,} results "
                f"failed; {self.advice()}")

    def to_dict(self) -> dict[str, object]:
        return {"number": self.number, "code": self.code, "description": self.description,
                "share": round(self.share, 4), "looked_at": self.looked_at,
                "number_wide": self.number_wide, "told": self.told, "advice": self.advice()}


@dataclass(slots=True)
class FirstResults:
    """The first results of a job's run, per number, as its batches complete."""

    first: int = FIRST
    share: float = SHARE
    _seen: Counter[str] = field(default_factory=Counter)
    _failed: Counter[str] = field(default_factory=Counter)
    _codes: dict[str, Counter[str]] = field(default_factory=dict)
    _told: Counter[str] = field(default_factory=Counter)

    def told(self, number: str, code: str) -> EarlyStop | None:
        """One message's final failure, told as it happened (an event): a number-wide
        code among a number's first results stops at once, before its batch completes
        (a share of failures needs the counts: `add`)."""
        if code not in NUMBER_WIDE or self._seen[number] >= self.first:
            return None
        self._told[number] += 1
        return EarlyStop(number, code, describe(code).description, 1.0,
                         self._told[number], True, told=True)

    def add(self, number: str, processed: int, failed: int,
            codes: Mapping[str, int]) -> EarlyStop | None:
        """A completed batch of `number`: the reason to stop now, or None."""
        if processed <= 0:
            return None
        judged = self._seen[number] >= self.first
        self._seen[number] += processed
        self._failed[number] += failed
        seen = self._codes.setdefault(number, Counter())
        seen.update({c: n for c, n in codes.items() if c not in PENDING_CODES and n > 0})
        wide = [c for c in seen if c in NUMBER_WIDE]
        share = self._failed[number] / self._seen[number]
        if wide and not judged:
            code = max(wide, key=lambda c: seen[c])
            return EarlyStop(number, code, describe(code).description,
                             seen[code] / self._seen[number], self._seen[number], True)
        if not judged and self._seen[number] >= self.first and share > self.share and seen:
            code = seen.most_common(1)[0][0]
            return EarlyStop(number, code, describe(code).description, share,
                             self._seen[number], False)
        return None
