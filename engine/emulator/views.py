"""What the message list and the statuses endpoint read from the store (pure: no I/O).

Both select batches by a `MessageQuery`; a phone filter that names the
sender selects every message of its batches. Message pages are newest first
with the message id as cursor; status totals are computed with numpy over
the outcome arrays, as each message shows at `now` (`lifecycle`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .batch import (
    CAPPED,
    DELIVERED,
    DELIVERY_FAILURE_CODES,
    FILTERED,
    OPTED_OUT_CODE,
    SENDING_FAILED,
    Batch,
)
from .lifecycle import PENDING_CODE, PENDING_FLAG, QUEUED, SENT, SHOWN_PENDING
from .numbers import e164_to_int
from .store import BatchStore

__all__ = ["MessageQuery", "StatusTotals", "list_messages", "statuses"]

Int64s = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class MessageQuery:
    """Filters shared by `/messages` and `/statuses` (dates as epoch seconds)."""

    date_from: float
    date_to: float
    batch_id: str | None = None
    phone_numbers: tuple[str, ...] = ()
    outbound: bool = True


@dataclass(slots=True)
class StatusTotals:
    """Counts, segment units and error-code counts per message status."""

    counts: dict[str, int] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    errors: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, status: str, count: int, units: int, code: str | None = None) -> None:
        if not count:
            return
        self.counts[status] = self.counts.get(status, 0) + count
        self.units[status] = self.units.get(status, 0) + units
        if code is not None:
            codes = self.errors.setdefault(status, {})
            codes[code] = codes.get(code, 0) + count


def _selected(store: BatchStore, query: MessageQuery) -> Iterator[Batch]:
    if not query.outbound:
        return
    if query.batch_id is not None:
        candidates: Iterable[Batch] = [store.batch(query.batch_id)]
    else:
        candidates = store.batches
    for batch in candidates:
        if query.date_from <= batch.created <= query.date_to and batch.size:
            yield batch


def _phone_mask(batch: Batch, phones: tuple[str, ...]) -> npt.NDArray[np.bool_] | None:
    """Which of `batch.numbers` match the phone filter (None: all of them)."""
    if not phones or batch.sender in phones:
        return None
    wanted = np.array([v for v in map(e164_to_int, phones) if v], dtype=np.int64)
    return np.isin(batch.numbers, wanted)


def list_messages(store: BatchStore, query: MessageQuery, *, after: int, per_page: int
                  ) -> tuple[list[tuple[Batch, int]], int | None]:
    """Up to `per_page` (batch, index) pairs, newest first, with message id
    below the cursor `after` (-1: from the newest)."""
    found: list[tuple[Batch, int]] = []
    for batch in reversed(list(_selected(store, query))):
        first_id = batch.first_message_id
        if 0 <= after <= first_id:
            continue
        hi = batch.size if after < 0 else min(batch.size, after - first_id)
        mask = _phone_mask(batch, query.phone_numbers)
        room = per_page + 1 - len(found)  # one extra tells whether a next page exists
        if mask is None:
            found.extend((batch, i) for i in range(hi - 1, max(-1, hi - 1 - room), -1))
        else:
            hits = np.flatnonzero(mask[:hi])[::-1][:room]
            found.extend((batch, i) for i in hits.tolist())
        if len(found) > per_page:
            del found[per_page:]
            last_batch, last_index = found[-1]
            return found, last_batch.first_message_id + last_index
    return found, None


def statuses(store: BatchStore, query: MessageQuery, now: float) -> StatusTotals:
    """Per-status totals of the selected messages as they show at `now`."""
    totals = StatusTotals()
    for batch in _selected(store, query):
        mask = _phone_mask(batch, query.phone_numbers)
        if mask is None:
            counts, units = batch.shown_tally(now)
        else:
            counts, units = _shown_of(batch, np.flatnonzero(mask), now)
        _add(totals, batch, counts, units)
    return totals


def _shown_of(batch: Batch, selected: npt.NDArray[np.intp], now: float
              ) -> tuple[Int64s, Int64s]:
    done = batch.processed(now)
    processed = selected[selected < done].astype(np.int64)
    shown = batch.lifecycle.shown(batch.outcomes[processed],
                                  batch.processed_at_many(processed),
                                  batch.lifecycle.delays(batch.seq, processed), now)
    counts = np.bincount(shown, minlength=256)
    units = np.bincount(shown, weights=batch.segments_of(processed),
                        minlength=256).astype(np.int64)
    counts[QUEUED] += len(selected) - len(processed)
    return counts, units


def _add(totals: StatusTotals, batch: Batch, counts: Int64s, units: Int64s) -> None:
    totals.add("queued", int(counts[QUEUED]), 0)  # nothing is charged before processing
    totals.add("sent", int(counts[SENT]), int(units[SENT]))
    # A settled detour keeps its flag in the outcome: count it with its final code.
    for k in (DELIVERED, *range(1, len(DELIVERY_FAILURE_CODES) + 1)):
        count = int(counts[k] + counts[k | PENDING_FLAG])
        unit = int(units[k] + units[k | PENDING_FLAG])
        if k == DELIVERED:
            totals.add("delivered", count, unit)
        else:
            totals.add("deliveryFailed", count, unit, DELIVERY_FAILURE_CODES[k - 1])
    totals.add("deliveryFailed", int(counts[SHOWN_PENDING]), int(units[SHOWN_PENDING]),
               PENDING_CODE)
    totals.add("sendingFailed", int(counts[SENDING_FAILED]), 0, OPTED_OUT_CODE)
    totals.add("sendingFailed", int(counts[CAPPED]), 0, batch.cap_code)
    totals.add("deliveryFailed", int(counts[FILTERED]), int(units[FILTERED]), batch.filter_code)
