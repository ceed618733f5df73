"""Every batch the emulator accepted, in order, and the indexes over them (pure: no I/O).

Batches are kept in submit order with two indexes: by batch id, and by the id
of each batch's first message (message ids are consecutive within a batch, so
a bisection finds any message). Lists are newest first (as RingCentral's
examples show), and page cursors are positions, so pages stay stable while new
batches arrive (they are newer than every page's cursor).

The recipient index is what the ledger reads: per sender, every recipient
ever accepted, sorted, kept up to date incrementally.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Iterable

import numpy as np
import numpy.typing as npt

from .batch import Batch
from .numbers import e164_to_int
from .responses import ApiError

__all__ = ["FIRST_MESSAGE_ID", "BatchStore"]

FIRST_MESSAGE_ID = 100_000_001

Int64s = npt.NDArray[np.int64]


class BatchStore:
    """The accepted batches, found by batch id, message id or filters."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.by_id: dict[str, Batch] = {}
        self._first_ids: list[int] = []
        # The id the next batch's first message gets.
        self.next_message_id = FIRST_MESSAGE_ID
        self._sorted_cache: dict[str, tuple[int, Int64s]] = {}

    def add(self, batch: Batch) -> None:
        """Keep `batch` (its `seq` is its position, its first message id the next one)."""
        assert batch.seq == len(self.batches) and batch.first_message_id == self.next_message_id
        self.next_message_id += max(batch.size, 1)
        self.batches.append(batch)
        self.by_id[batch.id] = batch
        self._first_ids.append(batch.first_message_id)

    def batch(self, batch_id: str) -> Batch:
        found = self.by_id.get(batch_id)
        if found is None:
            raise ApiError.not_found("batchId")
        return found

    def message(self, message_id: str) -> tuple[Batch, int]:
        try:
            mid = int(message_id)
        except ValueError:
            raise ApiError.not_found("messageId") from None
        pos = bisect.bisect_right(self._first_ids, mid) - 1
        if pos >= 0:
            batch = self.batches[pos]
            index = mid - batch.first_message_id
            if 0 <= index < batch.size:
                return batch, index
        raise ApiError.not_found("messageId")

    def list_batches(self, *, now: float, date_from: float, date_to: float,
                     sender: str | None, statuses: Collection[str], after: int, per_page: int
                     ) -> tuple[list[Batch], int | None]:
        """Up to `per_page` batches, newest first, older than the cursor `after`
        (a seq; -1: from the newest); and the next cursor, if any."""
        found: list[Batch] = []
        below = len(self.batches) if after < 0 else after
        for batch in reversed(self.batches[:below]):
            if not date_from <= batch.created <= date_to:
                continue
            if sender is not None and batch.sender != sender:
                continue
            if statuses and batch.status(now) not in statuses and not (
                    "Queued" in statuses and batch.size and not batch.processed(now)):
                continue  # (a batch waiting behind others is Queued to the filter)
            if len(found) == per_page:
                return found, found[-1].seq
            found.append(batch)
        return found, None

    # -- the recipient index (for the ledger) ---------------------------------

    def sorted_recipients(self, sender: str) -> Int64s:
        """Every recipient ever accepted for `sender`, sorted.

        Kept incrementally: only batches new since the last call are sorted,
        then merged (a stable sort of two sorted runs is a linear merge).
        """
        count = len(self.batches)
        seen, merged = self._sorted_cache.get(sender, (0, np.empty(0, dtype=np.int64)))
        if seen < count:
            arrays = [b.numbers for b in self.batches[seen:] if b.sender == sender and b.size]
            if arrays:
                new = np.sort(np.concatenate(arrays))
                merged = np.sort(np.concatenate([merged, new]), kind="stable")
            self._sorted_cache[sender] = (count, merged)
        return merged

    def senders_used(self) -> list[str]:
        return sorted({b.sender for b in self.batches})

    def lookup(self, numbers: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per sender, how many times each number was accepted."""
        wanted = list(numbers)
        values = np.array([e164_to_int(n) for n in wanted], dtype=np.int64)
        out: dict[str, dict[str, int]] = {}
        for sender in self.senders_used():
            merged = self.sorted_recipients(sender)
            counts = (np.searchsorted(merged, values, side="right")
                      - np.searchsorted(merged, values, side="left"))
            out[sender] = {n: int(c) for n, c in zip(wanted, counts.tolist(), strict=True)}
        return out

    def duplicates(self) -> tuple[int, int, dict[str, int]]:
        """(extra acceptances, numbers accepted more than once, accepted per sender)."""
        extra = numbers = 0
        per_sender: dict[str, int] = {}
        for sender in self.senders_used():
            merged = self.sorted_recipients(sender)
            per_sender[sender] = len(merged)
            if len(merged) < 2:
                continue
            same = merged[1:] == merged[:-1]
            extra += int(np.count_nonzero(same))
            # A run of equal values starts where `same` turns on.
            numbers += int(np.count_nonzero(same[1:] & ~same[:-1])) + int(same[0])
        return extra, numbers, per_sender
