"""The emulator's in-memory state and its processing model (pure: no I/O).

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

`EmulatorState` is the one face of three parts: `intake` (a request made
into a stored, scheduled batch), `store` (the batches and their indexes, the
ledger's recipient index) and `views` (message pages and status totals).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from . import views
from .batch import Batch
from .config import EmulatorConfig
from .intake import Intake
from .lifecycle import Lifecycle
from .optouts import OptOuts
from .parse import BatchRequest
from .store import BatchStore
from .views import MessageQuery, StatusTotals

__all__ = [
    "EmulatorState",
    "MessageQuery",
    "StatusTotals",
]


class EmulatorState:
    """Batches, opt-outs and the per-sender processing queues."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.store = BatchStore()
        self.opt_outs = OptOuts(config)
        self.intake = Intake(config, clock, self.store, self.opt_outs)

    @property
    def config(self) -> EmulatorConfig:
        """The config as intake has it (the processing rate can change)."""
        return self.intake.config

    @property
    def lifecycle(self) -> Lifecycle:
        return self.intake.lifecycle

    @property
    def batches(self) -> list[Batch]:
        return self.store.batches

    @property
    def by_id(self) -> dict[str, Batch]:
        return self.store.by_id

    @property
    def rejected_total(self) -> int:
        return self.intake.rejected_total

    # -- batches ------------------------------------------------------------

    def create_batch(self, request: BatchRequest) -> tuple[Batch, list[dict[str, Any]]]:
        """Validate and store a batch; returns it with its `rejected` entries."""
        return self.intake.create_batch(request)

    def set_processing_rate(self, rate: float) -> None:
        """Change the rate from now on; work already done stays done."""
        self.intake.set_processing_rate(rate)

    def batch(self, batch_id: str) -> Batch:
        return self.store.batch(batch_id)

    def list_batches(self, *, date_from: float, date_to: float, sender: str | None,
                     statuses: Collection[str], after: int, per_page: int
                     ) -> tuple[list[Batch], int | None]:
        """Up to `per_page` batches, newest first, older than the cursor `after`
        (a seq; -1: from the newest); and the next cursor, if any."""
        return self.store.list_batches(now=self.clock(), date_from=date_from,
                                       date_to=date_to, sender=sender, statuses=statuses,
                                       after=after, per_page=per_page)

    # -- messages -----------------------------------------------------------

    def message(self, message_id: str) -> tuple[Batch, int]:
        return self.store.message(message_id)

    def list_messages(self, query: MessageQuery, *, after: int, per_page: int
                      ) -> tuple[list[tuple[Batch, int]], int | None]:
        """Up to `per_page` (batch, index) pairs, newest first, with message id
        below the cursor `after` (-1: from the newest)."""
        return views.list_messages(self.store, query, after=after, per_page=per_page)

    def statuses(self, query: MessageQuery) -> StatusTotals:
        """Per-status totals, computed with numpy over the outcome arrays."""
        return views.statuses(self.store, query, self.clock())

    # -- ledger support -----------------------------------------------------

    def sorted_recipients(self, sender: str) -> npt.NDArray[np.int64]:
        """Every recipient ever accepted for `sender`, sorted."""
        return self.store.sorted_recipients(sender)

    def senders_used(self) -> list[str]:
        return self.store.senders_used()

    def lookup(self, numbers: Iterable[str]) -> dict[str, dict[str, int]]:
        """Per sender, how many times each number was accepted."""
        return self.store.lookup(numbers)

    def duplicates(self) -> tuple[int, int, dict[str, int]]:
        """(extra acceptances, numbers accepted more than once, accepted per sender)."""
        return self.store.duplicates()
