"""Batch lanes: which batches a recipient may share (pure, no I/O).

A batch has one sender (the API's rule) and, with quiet hours, recipients
who may all be reached at the same hours, so that it can be timed for all of
them. A lane is such a (sender, hours) pair; lanes are numbered as they first
appear in the file, so planning the same file twice numbers them alike. Which
lane a recipient belongs to is a pure function of the number, so a batch is
rebuilt from its byte range by keeping its own lane's rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from .quiet_hours import QuietHours
from .senders import SenderPool

__all__ = ["Lanes"]


class Lanes:
    def __init__(self, senders: Sequence[str], *, pool: SenderPool | None = None,
                 quiet: QuietHours | None = None) -> None:
        self.senders = tuple(senders)
        self.pool = pool
        self.quiet = quiet
        self.keys: list[tuple[str, str | None]] = []  # lane -> (sender, hours key)
        self._index: dict[tuple[str, str | None], int] = {}

    def assign(self, numbers: Sequence[str]) -> list[int]:
        """The lane of each recipient (new lanes are numbered as they appear)."""
        pairs = self.pairs(numbers)
        index = self._index
        for pair in dict.fromkeys(pairs):  # the block's pairs in order of first appearance
            if pair not in index:
                index[pair] = len(self.keys)
                self.keys.append(pair)
        return [index[pair] for pair in pairs]

    def pairs(self, numbers: Sequence[str]) -> list[tuple[str, str | None]]:
        """(sender, hours key) of each recipient."""
        if self.pool is not None:
            senders = [self.pool.numbers[i] for i in self.pool.assign(numbers)]
        else:
            senders = [self.senders[0]] * len(numbers)
        zones: Sequence[str | None] = (self.quiet.keys_of(numbers) if self.quiet is not None
                                       else [None] * len(numbers))
        return list(zip(senders, zones, strict=True))

    def mask(self, numbers: Sequence[str], sender: str | None, zone: str | None) -> list[bool]:
        """Which of `numbers` belong to the lane (sender, zone)."""
        want = (sender, zone)
        return [pair == want for pair in self.pairs(numbers)]
