"""What a running job reports to its `progress` callback, and the counting behind it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from .journal import SPLIT, BatchRecord
from .planner import PlanStats

__all__ = ["Progress", "ProgressCallback", "SenderProgress", "Tracker"]


@dataclass(slots=True)
class Progress:
    """A snapshot handed to the `progress` callback."""

    rows_read: int = 0
    batches_planned: int = 0
    batches_submitted: int = 0
    batches_completed: int = 0
    accepted: int = 0
    processed: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed: float = 0.0
    planning_done: bool = False
    results_pages: int = 0  # pages of the messages list fetched (delivery results)
    results_batches: int = 0  # batches whose results are all in
    senders: tuple[SenderProgress, ...] = ()  # per sender number, once batches exist


@dataclass(frozen=True, slots=True)
class SenderProgress:
    """One sender number of the job: its messages planned and processed so far, and
    its pace in messages a second (learned by pacing; None when not paced)."""

    number: str
    planned: int
    processed: int
    rate: float | None
    waiting: str | None = None  # why it sends nothing now ('at its daily cap until ...')
    wait: float | None = None  # seconds until then
    left: float | None = None  # seconds until done, through windows and caps (the schedule)

    @property
    def eta(self) -> float | None:
        """Seconds until the server has processed the rest: through the windows and
        caps ahead when the schedule says, else at the sender's pace."""
        if self.left is not None:
            return self.left
        return (self.planned - self.processed) / self.rate if self.rate else None


ProgressCallback = Callable[[Progress], None]


class _Stats(Protocol):
    retries: int
    rate_limited: int


class Tracker:
    """Keeps the job's `Progress` and hands a copy-free snapshot to the callback.

    The stages tell it what happened (a block read, a batch submitted or
    processed, a results page); it reads the HTTP client's retry counters and
    the senders' paces through the sources it is given.
    """

    def __init__(self, callback: ProgressCallback | None) -> None:
        self.progress = Progress()
        self.callback = callback
        self.started = time.monotonic()
        self.stats: _Stats | None = None  # the HTTP client's, once connected
        self.rates: Callable[[], Mapping[str, float]] = dict  # each sender's learned pace
        # Each paced sender's (wait text or None, seconds of wait, seconds left).
        self.waits: Callable[[], Mapping[str, tuple[str | None, float | None,
                                                    float | None]]] = dict
        self.default_sender = ""  # a batch with no sender of its own is this one's
        self.batches: dict[int, BatchRecord] = {}  # for per-sender progress

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def tick(self) -> None:
        p = self.progress
        p.elapsed = self.elapsed()
        if self.stats is not None:
            p.retries = self.stats.retries
            p.rate_limited = self.stats.rate_limited
        if self.batches:
            p.senders = self._senders()
        if self.callback is not None:
            self.callback(p)

    def read(self, stats: PlanStats) -> None:
        self.progress.rows_read = stats.rows
        self.tick()

    def planned(self, rec: BatchRecord) -> None:
        self.batches[rec.seq] = rec
        self.progress.batches_planned = rec.seq

    def planning_done(self, batches: int | None = None) -> None:
        if batches is not None:
            self.progress.batches_planned = batches
        self.progress.planning_done = True
        self.tick()

    def submitted(self, rec: BatchRecord) -> None:
        """A batch the server accepted (now or in an earlier run of the job)."""
        new = rec.seq not in self.batches  # a batch cut for pacing, or a 413's half
        self.batches[rec.seq] = rec  # (a cut's front part is a new record of the same seq)
        if new:
            self.progress.batches_planned = sum(b.state != SPLIT for b in self.batches.values())
        self.progress.batches_submitted += 1
        self.progress.accepted += rec.accepted or 0

    def completed(self) -> None:
        self.progress.batches_completed += 1

    def processed(self, total: int) -> None:
        self.progress.processed = total
        self.tick()

    def results_page(self, complete: bool) -> None:
        self.progress.results_pages += 1
        self.progress.results_batches += complete
        self.tick()

    def _senders(self) -> tuple[SenderProgress, ...]:
        planned: Counter[str] = Counter()
        processed: Counter[str] = Counter()
        for rec in self.batches.values():
            if rec.state != SPLIT:
                who = rec.sender or self.default_sender
                planned[who] += rec.accepted if rec.accepted is not None else rec.messages
                processed[who] += rec.processed or 0
        # The waits run the schedule: only for someone who shows them.
        rates, waits = self.rates(), self.waits() if self.callback is not None else {}
        return tuple(SenderProgress(n, planned[n], processed[n], rates.get(n),
                                    *waits.get(n, (None, None, None)))
                     for n in sorted(planned))
