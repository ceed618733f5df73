"""One stored batch: its columns, its processing schedule and its JSON views.

A batch's messages are processed in order: message i is done once the sender
has reached it (`processed(now) > i`), and its outcome was fixed at submit
time (`outcomes[i]`: 0 Delivered, 1..5 DeliveryFailed with one of
`DELIVERY_FAILURE_CODES`, plus `PENDING_FLAG` when its receipt first says
SMS-CAR-104; `SENDING_FAILED` for an opted-out recipient, `CAPPED` past the
sender's daily cap). What a processed message shows before its receipt
arrives is `lifecycle`'s business.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .lifecycle import PENDING_CODE, PENDING_FLAG, QUEUED, SENT, SHOWN_PENDING, Lifecycle
from .parse import TextColumn
from .responses import format_time

__all__ = [
    "CAPPED",
    "DELIVERED",
    "DELIVERY_FAILURE_CODES",
    "FILTERED",
    "OPTED_OUT_CODE",
    "SENDING_FAILED",
    "Batch",
    "e164",
]

DELIVERED = 0
# Outcome k in 1..len(DELIVERY_FAILURE_CODES) is DeliveryFailed with code k-1.
# Final codes only: SMS-CAR-104 ("check again later") is a detour (PENDING_FLAG).
DELIVERY_FAILURE_CODES = ("SMS-CAR-411", "SMS-CAR-412", "SMS-CAR-431", "SMS-CAR-410",
                          "SMS-CAR-500")
SENDING_FAILED = 200  # opted out: SendingFailed SMS-RC-413
OPTED_OUT_CODE = "SMS-RC-413"
CAPPED = 201  # past the sender's daily cap: SendingFailed with the configured code
# Its text matched the emulator's content filter: DeliveryFailed with the filter's
# code (SMS-CAR-430 and the like: the carrier filters the content, number-wide).
FILTERED = 202
NOT_CHARGED = (SENDING_FAILED, CAPPED)

INSTANT = Lifecycle()
Int64s = npt.NDArray[np.int64]
UInt8s = npt.NDArray[np.uint8]


def e164(number: int) -> str:
    return f"+{number}"


@dataclass(slots=True, eq=False)
class Batch:
    seq: int
    id: str
    sender: str
    created: float
    numbers: Int64s
    outcomes: UInt8s
    segments: UInt8s | int
    default_text: str | None
    texts: TextColumn | None
    first_message_id: int
    # Schedule: `base_done` messages were done at `start`; then `rate` per second.
    base_done: int
    start: float
    rate: float
    lifecycle: Lifecycle = INSTANT
    cap_code: str = "SMS-RC-403"
    # What a processed batch says: "Completed", or "Sent" (the spec allows both).
    done_status: str = "Completed"
    filter_code: str = "SMS-CAR-430"
    _cost: float | None = None
    # Running per-outcome counts and segment units of messages [0, _tally_done).
    _tally_done: int = 0
    _tally: tuple[Int64s, Int64s] | None = None

    @property
    def size(self) -> int:
        return len(self.numbers)

    def processed(self, now: float) -> int:
        if now <= self.start:
            return self.base_done
        if math.isinf(self.rate):
            return self.size
        return min(self.size, self.base_done + int((now - self.start) * self.rate))

    @property
    def end(self) -> float:
        if math.isinf(self.rate):
            return self.start
        return self.start + (self.size - self.base_done) / self.rate

    def status(self, now: float) -> str:
        return self.done_status if self.processed(now) >= self.size else "Processing"

    def last_modified(self, now: float) -> float:
        done = self.processed(now)
        if done >= self.size:
            return max(self.created, self.end)
        if done <= self.base_done:
            return max(self.created, self.start) if done else self.created
        return self.start + (done - self.base_done) / self.rate

    def processed_at(self, index: int) -> float:
        """When message `index` was processed (approximate before a rate change)."""
        if index < self.base_done or math.isinf(self.rate):
            return max(self.created, self.start)
        return self.start + (index + 1 - self.base_done) / self.rate

    def processed_at_many(self, index: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """`processed_at` of many messages at once."""
        first = max(self.created, self.start)
        if math.isinf(self.rate):
            return np.full(len(index), first, dtype=np.float64)
        at: npt.NDArray[np.float64] = self.start + (index + 1 - self.base_done) / self.rate
        at[index < self.base_done] = first
        return at

    def shown_tally(self, now: float) -> tuple[Int64s, Int64s]:
        """Counts and segment units per shown code (QUEUED, SENT, ... or a final outcome).

        Messages processed more than the lifecycle's horizon ago are final and
        come from the running tally; only the recent ones are looked at singly.
        """
        done = self.processed(now)
        life = self.lifecycle
        settled = done if life.instant else min(done, self.processed(now - life.horizon))
        counts, units = (a.copy() for a in self.tally(settled))
        if done > settled:
            index = np.arange(settled, done, dtype=np.int64)
            shown = life.shown(self.outcomes[settled:done], self.processed_at_many(index),
                               life.delays(self.seq, index), now)
            counts += np.bincount(shown, minlength=256)
            units += np.bincount(shown, weights=self.segments_of(slice(settled, done)),
                                 minlength=256).astype(np.int64)
        counts[QUEUED] += self.size - done
        return counts, units

    def segments_of(self, index: slice | npt.NDArray[np.intp]) -> UInt8s:
        if isinstance(self.segments, int):
            count = len(self.numbers[index])
            return np.full(count, self.segments, dtype=np.uint8)
        return self.segments[index]

    def tally(self, done: int) -> tuple[Int64s, Int64s]:
        """Counts and segment units per outcome code of the first `done` messages.

        Kept incrementally, so polling a big batch only looks at what is new.
        """
        if self._tally is None or done < self._tally_done:
            self._tally = (np.zeros(256, dtype=np.int64), np.zeros(256, dtype=np.int64))
            self._tally_done = 0
        if done > self._tally_done:
            part = slice(self._tally_done, done)
            counts = np.bincount(self.outcomes[part], minlength=256)
            if isinstance(self.segments, int):
                units = counts * self.segments
            else:
                units = np.bincount(self.outcomes[part], weights=self.segments[part],
                                    minlength=256).astype(np.int64)
            self._tally = (self._tally[0] + counts, self._tally[1] + units)
            self._tally_done = done
        return self._tally

    def cost(self, price: float) -> float:
        """Segments of every processed message but the SendingFailed ones, priced."""
        if self._cost is None:
            _, units = self.tally(self.size)
            charged = int(units.sum()) - sum(int(units[k]) for k in NOT_CHARGED)
            self._cost = round(charged * price, 6)
        return self._cost

    def view(self, now: float, price: float,
             rejected: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """`MessageBatchResponse`; `rejected` is only ever filled by the POST."""
        done = self.processed(now)
        out: dict[str, Any] = {
            "id": self.id,
            "from": self.sender,
            "batchSize": self.size,
            "processedCount": done,
            "status": self.done_status if done >= self.size else "Processing",
            "creationTime": format_time(self.created),
            "lastModifiedTime": format_time(self.last_modified(now)),
            "rejected": rejected or [],
        }
        if done >= self.size:
            out["cost"] = self.cost(price)
        return out

    def text_of(self, i: int) -> str | None:
        if self.texts is not None:
            lo, hi = int(self.texts.offsets[i]), int(self.texts.offsets[i + 1])
            if hi > lo:
                return self.texts.blob[lo:hi].decode("utf-8")
        return self.default_text

    def message(self, index: int, now: float, price: float, *, detailed: bool
                ) -> dict[str, Any]:
        """Message `index` as `MessageListMessageResponse` (text only if detailed)."""
        batch = self
        done = index < batch.processed(now)
        segments = int(batch.segments if isinstance(batch.segments, int)
                       else batch.segments[index])
        outcome = int(batch.outcomes[index])
        shown, changed = QUEUED, batch.created
        if done and batch.lifecycle.instant:
            shown, changed = outcome, batch.processed_at(index)
        elif done:
            processed_at = batch.processed_at(index)
            delay = float(batch.lifecycle.delays(batch.seq, np.array([index], dtype=np.int64))[0])
            shown = int(batch.lifecycle.shown(np.array([outcome], dtype=np.uint8),
                                              np.array([processed_at]), np.array([delay]),
                                              now)[0])
            changed = batch.lifecycle.changed_at(outcome, processed_at, delay, now)
        out: dict[str, Any] = {
            "id": str(batch.first_message_id + index),
            "batchId": batch.id,
            "from": batch.sender,
            "to": [e164(int(batch.numbers[index]))],
            "creationTime": format_time(batch.created),
            "lastModifiedTime": format_time(changed),
            "segmentCount": segments,
            "direction": "Outbound",
        }
        cost = round(segments * price, 6)
        if shown == QUEUED:
            out["messageStatus"] = "Queued"
        elif shown == SENT:
            out["messageStatus"] = "Sent"
            out["cost"] = cost
        elif shown == SENDING_FAILED:
            out["messageStatus"] = "SendingFailed"
            out["errorCode"] = OPTED_OUT_CODE
        elif shown == CAPPED:
            out["messageStatus"] = "SendingFailed"
            out["errorCode"] = batch.cap_code
        elif shown == FILTERED:
            out["messageStatus"] = "DeliveryFailed"
            out["errorCode"] = batch.filter_code
            out["cost"] = cost
        elif shown == DELIVERED:
            out["messageStatus"] = "Delivered"
            out["cost"] = cost
        else:
            out["messageStatus"] = "DeliveryFailed"
            out["errorCode"] = (PENDING_CODE if shown == SHOWN_PENDING
                                else DELIVERY_FAILURE_CODES[(shown & (PENDING_FLAG - 1)) - 1])
            out["cost"] = cost
        if detailed:
            text = batch.text_of(index)
            if text is not None:
                out["text"] = text
        return out
