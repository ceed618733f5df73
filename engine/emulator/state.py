"""The emulator's in-memory store and its processing model (pure: no I/O).

Storage is columnar so ten million recipients cost about 10 bytes each:
per batch an int64 array of recipients (E.164 digits), a uint8 array of
outcomes, uint8 segment counts (or one count for a shared text), and the
per-message texts as one UTF-8 blob with offsets.

Processing: each sender works through its batches FIFO at its own rate
(`EmulatorConfig.rate_of`: by number type, or `processing_rate` for all).
Progress is computed from the clock when asked (no background task):
`processedCount` of a batch is how many of its messages the sender has
reached. A message's outcome is fixed when the batch is accepted: Delivered,
DeliveryFailed (SMS-CAR-*, drawn from seed, batch and index), possibly by way
of SMS-CAR-104 first; SendingFailed SMS-RC-413 for a recipient opted out for
that sender at submit time, or the daily cap's code for a message scheduled
past the sender's cap for its day. What a processed message shows before its
receipt arrives (Sent, then SMS-CAR-104) is `lifecycle`'s. A batch whose
every recipient was rejected is stored with batchSize 0 and is Completed at
once. The cost of a batch (segments x price, SendingFailed costs nothing)
appears once it is Completed.

Lists are newest first (as RingCentral's examples show), and page tokens
hold the last record returned, so pages stay stable while new batches arrive
(they are newer than every page's cursor).
"""

from __future__ import annotations

import bisect
import uuid
from collections import deque
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from .batch import (
    CAPPED,
    DELIVERED,
    DELIVERY_FAILURE_CODES,
    OPTED_OUT_CODE,
    SENDING_FAILED,
    Batch,
    e164,
)
from .config import EmulatorConfig
from .lifecycle import PENDING_CODE, PENDING_FLAG, QUEUED, SENT, SHOWN_PENDING, Lifecycle
from .numbers import e164_to_int
from .optouts import OptOuts
from .parse import BatchRequest, TextColumn
from .reject import carrier_rejects, outside_plus_one
from .responses import ApiError
from .segments import segment_count, segment_counts

__all__ = [
    "EmulatorState",
    "MessageQuery",
    "StatusTotals",
]

FIRST_MESSAGE_ID = 100_000_001

Int64s = npt.NDArray[np.int64]
UInt8s = npt.NDArray[np.uint8]


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


class EmulatorState:
    """Batches, opt-outs and the per-sender processing queues."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self.batches: list[Batch] = []
        self.by_id: dict[str, Batch] = {}
        self._first_ids: list[int] = []
        self._next_message_id = FIRST_MESSAGE_ID
        self._queues: dict[str, deque[Batch]] = {}
        self._busy_until: dict[str, float] = {}
        self.rejected_total = 0
        self.opt_outs = OptOuts(config)
        self._invalid = np.array(
            sorted({v for v in map(e164_to_int, config.invalid_numbers) if v}), dtype=np.int64)
        self._sorted_cache: dict[str, tuple[int, Int64s]] = {}
        self.lifecycle = Lifecycle.of(config)
        # Messages scheduled per (sender, emulated UTC day), for the daily cap.
        self._per_day: dict[tuple[str, int], int] = {}

    # -- batches ------------------------------------------------------------

    def create_batch(self, request: BatchRequest) -> tuple[Batch, list[dict[str, Any]]]:
        """Validate and store a batch; returns it with its `rejected` entries."""
        sender = self.config.sender(request.sender)
        if sender is None or not sender.is_a2p:
            raise ApiError.invalid_parameter("from")
        request.check_texts()
        now = self.clock()
        n = request.count
        reasons: dict[int, tuple[Any, str, str]] = {}
        for i, to in request.invalid:
            shown = to if isinstance(to, list) else ([] if to is None else [to])
            reasons[i] = (shown, "SMS-RC-410", "The recipient number is invalid")
        for i in np.flatnonzero(self._refused(request.numbers)).tolist():
            reasons.setdefault(i, ([e164(int(request.numbers[i]))], "SMS-RC-410",
                                   "The recipient number is invalid"))
        for i in request.overlong().tolist():
            reasons.setdefault(i, ([e164(int(request.numbers[i]))] if request.numbers[i] else [],
                                   "CMN-101", "The message text exceeds 1000 characters"))
        rejected = [
            {"index": i + 1, "to": to, "errorCode": code, "description": text}
            for i, (to, code, text) in sorted(reasons.items())
        ]
        keep: npt.NDArray[np.bool_] | None = None
        if reasons:
            keep = np.ones(n, dtype=np.bool_)
            keep[list(reasons)] = False
        numbers = request.numbers if keep is None else request.numbers[keep]
        segments, texts = self._texts(request, keep)
        batch = self._store(request.sender, numbers, segments, request.text, texts, now)
        self.rejected_total += len(rejected)
        return batch, rejected

    def _refused(self, numbers: Int64s) -> npt.NDArray[np.bool_]:
        """Valid numbers refused at submit: outside +1, or refused by the carrier."""
        config = self.config
        refused = carrier_rejects(numbers, config.carrier_reject_share, config.seed)
        if config.us_canada_only:
            refused |= outside_plus_one(numbers)
        if len(self._invalid):
            refused |= np.isin(numbers, self._invalid)
        return refused

    def _texts(self, request: BatchRequest, keep: npt.NDArray[np.bool_] | None
               ) -> tuple[UInt8s | int, TextColumn | None]:
        default_segments = segment_count(request.text) if request.text else 1
        column = request.texts
        if column is None:
            return default_segments, None
        segments = segment_counts(column.blob, column.offsets)
        lengths = np.diff(column.offsets)
        segments[lengths == 0] = default_segments
        if keep is not None:
            segments = segments[keep]
            if self.config.keep_texts:
                data = np.frombuffer(column.blob, dtype=np.uint8)
                blob = data[np.repeat(keep, lengths)].tobytes()
                offsets = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
                np.cumsum(lengths[keep], out=offsets[1:])
                column = TextColumn(blob, offsets)
        return segments, column if self.config.keep_texts else None

    def _store(self, sender: str, numbers: Int64s, segments: UInt8s | int,
               text: str | None, texts: TextColumn | None, now: float) -> Batch:
        seq = len(self.batches)
        start = max(now, self._busy_until.get(sender, now))
        batch = Batch(
            seq=seq, id=str(uuid.uuid4()), sender=sender, created=now, numbers=numbers,
            outcomes=self._outcomes(sender, numbers, seq), segments=segments,
            default_text=text, texts=texts, first_message_id=self._next_message_id,
            base_done=0, start=start, rate=self.config.rate_of(sender),
            lifecycle=self.lifecycle, cap_code=self.config.daily_cap_code,
        )
        self._cap(batch)
        self._next_message_id += max(batch.size, 1)
        self.batches.append(batch)
        self.by_id[batch.id] = batch
        self._first_ids.append(batch.first_message_id)
        if batch.size:
            self._queues.setdefault(sender, deque()).append(batch)
            self._busy_until[sender] = batch.end
        return batch

    def _outcomes(self, sender: str, numbers: Int64s, seq: int) -> UInt8s:
        n = len(numbers)
        rng = np.random.default_rng([self.config.seed, seq])
        outcomes = np.zeros(n, dtype=np.uint8)
        share = self.config.delivery_failure_share
        if share > 0 and n:
            failed = np.flatnonzero(rng.random(n) < share)
            outcomes[failed] = rng.integers(1, len(DELIVERY_FAILURE_CODES) + 1, len(failed))
        outcomes[self.lifecycle.pending_mask(seq, n)] |= np.uint8(PENDING_FLAG)
        opted = self.opt_outs.opted_out(sender)
        if len(opted) and n:
            outcomes[np.isin(numbers, opted)] = SENDING_FAILED
        return outcomes

    def _cap(self, batch: Batch) -> None:
        """Messages past the sender's daily cap fail (by the day they are scheduled in)."""
        cap = self.config.daily_cap
        if cap is None or not batch.size:
            return
        at = batch.processed_at_many(np.arange(batch.size, dtype=np.int64))
        days, firsts, counts = np.unique((at // 86400.0).astype(np.int64), return_index=True,
                                         return_counts=True)
        for day, first, count in zip(days.tolist(), firsts.tolist(), counts.tolist(),
                                     strict=True):
            used = self._per_day.get((batch.sender, day), 0)
            room = max(0, cap - used)
            if room < count:
                over = batch.outcomes[first + room:first + count]
                over[over != SENDING_FAILED] = CAPPED
            self._per_day[(batch.sender, day)] = used + count

    def set_processing_rate(self, rate: float) -> None:
        """Change the rate from now on; work already done stays done."""
        if not rate > 0:
            raise ValueError("processing_rate must be positive")
        now = self.clock()
        for sender, queue in self._queues.items():
            cursor = now
            for batch in self._unfinished(queue, now):
                batch.base_done = batch.processed(now)
                batch.start = max(cursor, batch.created)
                batch.rate = rate
                cursor = batch.end
            self._busy_until[sender] = cursor
        self.config = replace(self.config, processing_rate=rate)

    @staticmethod
    def _unfinished(queue: deque[Batch], now: float) -> list[Batch]:
        while queue and queue[0].processed(now) >= queue[0].size:
            queue.popleft()
        return list(queue)

    def batch(self, batch_id: str) -> Batch:
        found = self.by_id.get(batch_id)
        if found is None:
            raise ApiError.not_found("batchId")
        return found

    def list_batches(self, *, date_from: float, date_to: float, sender: str | None,
                     statuses: Collection[str], after: int, per_page: int
                     ) -> tuple[list[Batch], int | None]:
        """Up to `per_page` batches, newest first, older than the cursor `after`
        (a seq; -1: from the newest); and the next cursor, if any."""
        now = self.clock()
        found: list[Batch] = []
        below = len(self.batches) if after < 0 else after
        for batch in reversed(self.batches[:below]):
            if not date_from <= batch.created <= date_to:
                continue
            if sender is not None and batch.sender != sender:
                continue
            if statuses and batch.status(now) not in statuses:
                continue
            if len(found) == per_page:
                return found, found[-1].seq
            found.append(batch)
        return found, None

    # -- messages -----------------------------------------------------------

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

    def _selected(self, query: MessageQuery) -> Iterator[Batch]:
        if not query.outbound:
            return
        if query.batch_id is not None:
            candidates: Iterable[Batch] = [self.batch(query.batch_id)]
        else:
            candidates = self.batches
        for batch in candidates:
            if query.date_from <= batch.created <= query.date_to and batch.size:
                yield batch

    @staticmethod
    def _phone_mask(batch: Batch, phones: tuple[str, ...], lo: int
                    ) -> npt.NDArray[np.bool_] | None:
        """Which of `batch.numbers[lo:]` match the phone filter (None: all of them)."""
        if not phones or batch.sender in phones:
            return None
        wanted = np.array([v for v in map(e164_to_int, phones) if v], dtype=np.int64)
        return np.isin(batch.numbers[lo:], wanted)

    def list_messages(self, query: MessageQuery, *, after: int, per_page: int
                      ) -> tuple[list[tuple[Batch, int]], int | None]:
        """Up to `per_page` (batch, index) pairs, newest first, with message id
        below the cursor `after` (-1: from the newest)."""
        found: list[tuple[Batch, int]] = []
        for batch in reversed(list(self._selected(query))):
            first_id = batch.first_message_id
            if 0 <= after <= first_id:
                continue
            hi = batch.size if after < 0 else min(batch.size, after - first_id)
            mask = self._phone_mask(batch, query.phone_numbers, 0)
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

    def statuses(self, query: MessageQuery) -> StatusTotals:
        """Per-status totals, computed with numpy over the outcome arrays."""
        now = self.clock()
        totals = StatusTotals()
        for batch in self._selected(query):
            mask = self._phone_mask(batch, query.phone_numbers, 0)
            if mask is None:
                counts, units = batch.shown_tally(now)
            else:
                counts, units = self._shown_of(batch, np.flatnonzero(mask), now)
            self._add(totals, batch, counts, units)
        return totals

    @staticmethod
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

    @staticmethod
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

    # -- ledger support -----------------------------------------------------

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
