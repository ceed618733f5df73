"""A submitted batch made into a stored one, and each sender's processing queue (pure: no I/O).

Intake validates the request, rejects the recipients the service refuses at
submit (invalid, outside +1, the carrier's set and seeded share, texts over
1000 characters), fixes every message's outcome (seeded delivery failures
and SMS-CAR-104 detours, SendingFailed for an opted-out recipient or past the
daily cap) and schedules the batch on its sender's FIFO queue at the
sender's rate. Progress is then computed from the clock when asked (`Batch`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from .batch import CAPPED, DELIVERY_FAILURE_CODES, FILTERED, SENDING_FAILED, Batch, e164
from .config import EmulatorConfig, SenderNumber
from .lifecycle import PENDING_FLAG, Lifecycle
from .numbers import e164_to_int
from .optouts import OptOuts
from .parse import BatchRequest, TextColumn
from .reject import carrier_rejects, outside_plus_one
from .responses import ApiError
from .segments import segment_count, segment_counts
from .store import BatchStore

__all__ = ["Intake"]

LOW_VOLUME, LOW_VOLUME_CAP = "LowVolume", 6_000


def _unregistered(sender: SenderNumber | None) -> str | None:
    """The code every message of `sender` fails with, or None: it may send."""
    if sender is None or sender.campaign_status == "Confirmed":
        return None
    if sender.payment_type == "TollFree":
        return None if sender.campaign_status is None else "SMS-CAR-461"
    return "SMS-UP-414"  # "This phone number is not set up to send text messages."

Int64s = npt.NDArray[np.int64]
UInt8s = npt.NDArray[np.uint8]


class Intake:
    """Accepts batches into a store and keeps each sender's queue and daily counts."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float], store: BatchStore,
                 opt_outs: OptOuts) -> None:
        self.config = config
        self.clock = clock
        self.store = store
        self.opt_outs = opt_outs
        self.lifecycle = Lifecycle.of(config)
        self.rejected_total = 0
        self._invalid = np.array(
            sorted({v for v in map(e164_to_int, config.invalid_numbers) if v}), dtype=np.int64)
        self._queues: dict[str, deque[Batch]] = {}
        self._busy_until: dict[str, float] = {}
        # Messages scheduled per (sender, emulated UTC day), for the daily cap.
        self._per_day: dict[tuple[str, int], int] = {}

    def create_batch(self, request: BatchRequest) -> tuple[Batch, list[dict[str, Any]]]:
        """Validate and store a batch; returns it with its `rejected` entries."""
        sender = self.config.sender(request.sender)
        if sender is None or not sender.is_a2p:
            raise ApiError.invalid_parameter("from")
        request.check_texts()
        now = self.clock()
        n = request.count
        most = self.config.max_batch_messages
        if most is not None and n > most:
            raise ApiError(400, "CMN-101", f"Parameter [messages] value is invalid: {n} "
                           f"messages, at most {most} per request.")
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
        self._filter(batch)
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
        seq = len(self.store.batches)
        start = max(now, self._busy_until.get(sender, now))
        batch = Batch(
            seq=seq, id=str(uuid.uuid4()), sender=sender, created=now, numbers=numbers,
            outcomes=self._outcomes(sender, numbers, seq), segments=segments,
            default_text=text, texts=texts, first_message_id=self.store.next_message_id,
            base_done=0, start=start, rate=self.config.rate_of(sender),
            lifecycle=self.lifecycle, cap_code=self.config.daily_cap_code,
            done_status=self.config.batch_done_status,
        )
        self._cap(batch)
        self.store.add(batch)
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

    def _filter(self, batch: Batch) -> None:
        """Messages whose text the carriers filter fail with the filter's code; every
        message of a number not registered to send fails (RingCentral's SMS
        requirements: a campaign not Confirmed, an unverified toll-free number)."""
        refused = _unregistered(self.config.sender(batch.sender))
        if refused is not None and batch.size:
            batch.outcomes[batch.outcomes < 200] = FILTERED
            batch.filter_code = refused
            return
        rules = self.config.content_filter
        if not rules or not batch.size:
            return
        def code_of(text: str | None) -> str | None:
            return next((c for key, c in rules.items() if key in (text or "")), None)

        if batch.texts is None:  # one text for all
            code = code_of(batch.default_text)
            hits = np.ones(batch.size, dtype=np.bool_) if code else None
        else:
            codes = [code_of(batch.text_of(i)) for i in range(batch.size)]
            code = next((c for c in codes if c), None)
            hits = np.array([c is not None for c in codes], dtype=np.bool_)
        if code is not None and hits is not None:
            batch.outcomes[hits & (batch.outcomes < 200)] = FILTERED
            batch.filter_code = code

    def _cap(self, batch: Batch) -> None:
        """Messages past the sender's daily cap fail (by the day they are scheduled in);
        the count per day is kept with or without a cap (the ledger's `per_day`)."""
        cap = self.config.daily_cap
        if not batch.size:
            return
        sender = self.config.sender(batch.sender)
        low = sender is not None and sender.registration_tier == LOW_VOLUME
        ends = batch.processed_at_many(np.array([0, batch.size - 1], dtype=np.int64))
        if cap is None and not low and int(ends[0] // 86400.0) == int(ends[1] // 86400.0):
            key = (batch.sender, int(ends[0] // 86400.0))  # one day: no need to look closer
            self._per_day[key] = self._per_day.get(key, 0) + batch.size
            return
        at = batch.processed_at_many(np.arange(batch.size, dtype=np.int64))
        days, firsts, counts = np.unique((at // 86400.0).astype(np.int64), return_index=True,
                                         return_counts=True)
        for day, first, count in zip(days.tolist(), firsts.tolist(), counts.tolist(),
                                     strict=True):
            used = self._per_day.get((batch.sender, day), 0)
            room = count if cap is None else max(0, cap - used)
            if low:  # the tier's 6,000 a day, across the account's LowVolume numbers
                shared = self._per_day.get((LOW_VOLUME, day), 0)
                room = min(room, max(0, LOW_VOLUME_CAP - shared))
                self._per_day[(LOW_VOLUME, day)] = shared + count
            if room < count:
                over = batch.outcomes[first + room:first + count]
                over[over != SENDING_FAILED] = CAPPED
            self._per_day[(batch.sender, day)] = used + count

    def per_day(self) -> dict[str, dict[str, int]]:
        """Messages scheduled per sender per emulated UTC day ("YYYY-MM-DD")."""
        out: dict[str, dict[str, int]] = {}
        for (sender, day), count in sorted(self._per_day.items()):
            date = dt.datetime.fromtimestamp(day * 86400, dt.UTC).date().isoformat()
            out.setdefault(sender, {})[date] = count
        return out

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
