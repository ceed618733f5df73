"""One poller for every open batch of a job.

With more than one batch open it reads the list endpoint (one request covers
up to 1000 batches) instead of one GET per batch, so the number of polls
grows with how long the job runs, not with how many batches it has. The
interval adapts: it backs off while nothing changes and otherwise aims at
the estimated completion time. A completed batch's delivery counts come from
`/statuses` (one request per batch, once).

A batch is done when processed; delivery is not. Messages still queued or
sent, and those whose receipt says SMS-CAR-104/199 ("check again later"),
are pending: neither delivered nor failed. `hvsms status --refresh` reads
the counts again later (`refresh_counts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from .api.a2p import A2P, BatchInfo, StatusCounts
from .journal import COMPLETED, BatchRecord, Journal

__all__ = ["PENDING_CODES", "DeliveryCounts", "Poller", "delivery_counts", "next_interval",
           "refresh_counts"]

log = logging.getLogger("engine.poller")

# Error codes RingCentral documents as "expected": the final outcome may come later.
PENDING_CODES = frozenset({"SMS-CAR-104", "SMS-CAR-199"})
DONE = "Completed"  # a batch's status once every message is processed


@dataclass(frozen=True, slots=True)
class DeliveryCounts:
    delivered: int
    failed: int
    pending: int
    codes: dict[str, int]


def delivery_counts(stats: StatusCounts) -> DeliveryCounts:
    """Delivered, failed (final) and pending counts of a batch's statuses (pure)."""
    later = sum(n for code, n in stats.failed_codes.items() if code in PENDING_CODES)
    failed = stats.delivery_failed + stats.sending_failed
    return DeliveryCounts(
        delivered=stats.delivered,
        failed=max(0, failed - later),
        pending=stats.queued + stats.sent + later,
        codes=dict(stats.failed_codes),
    )


def next_interval(
    current: float, *, changed: bool, remaining: int, rate: float, base: float, cap: float
) -> float:
    """Seconds until the next poll (pure).

    No progress: double the wait. Progress: aim at half the estimated time
    left, so the end is seen promptly without polling a slow batch hard.
    """
    if not changed:
        return min(cap, max(base, current * 2))
    if rate <= 0:
        return base
    return min(cap, max(base, remaining / rate / 2))


class Poller:
    """Follows every open batch of a job until it is processed, and journals what
    it learns (`Journal.record`: the journal row, then the in-memory record).

    `track` adds a batch as it is submitted; `close` says no more will come, and
    `run` returns once the open ones have completed."""

    def __init__(
        self,
        *,
        a2p: A2P,
        journal: Journal,
        sender: str,
        since: str,
        base: float,
        cap: float,
        on_update: Callable[[BatchRecord], None],
    ) -> None:
        self.a2p = a2p
        self.journal = journal
        self.sender = sender
        self.since = since
        self.base = base
        self.cap = cap
        self.on_update = on_update
        self.open: dict[str, BatchRecord] = {}
        # Batches their POST's answer already showed processed: completed without a poll.
        self._settled: list[BatchRecord] = []
        self._fresh = False  # a batch to poll was tracked since the last poll
        self._wake = asyncio.Event()
        self._closing = False
        self._confirm = asyncio.Event()  # an event says a batch completed: read now
        self.polls = 0
        self._done_processed = 0  # messages of the batches already completed

    def track(self, rec: BatchRecord) -> None:
        assert rec.batch_id is not None
        self.open[rec.batch_id] = rec
        if rec.status == DONE and (rec.processed or 0) >= (rec.accepted or 0):
            self._settled.append(rec)  # a server that processes at once said so
        else:
            self._fresh = True
        self._wake.set()

    def confirm(self) -> None:
        """Poll now (`engine.events`: a batch is said to be complete; polling confirms)."""
        self._confirm.set()
        self._wake.set()

    def close(self) -> None:
        """No more batches will be tracked: finish once the open ones complete."""
        self._closing = True
        self._wake.set()

    async def run(self) -> None:
        interval = self.base
        last_total, last_time = self.processed_total(), time.monotonic()
        loop = asyncio.get_running_loop()
        due = loop.time() + interval  # the next poll
        while True:
            await self._settle()
            if not self.open:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            # Not wait_for: on 3.11 it can swallow a cancel that races the wake-up.
            # Not cleared before waiting: a batch tracked during the last fetch
            # (a paced job submits while it polls) must not wait a whole interval.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(due):
                    await self._wake.wait()
            if self._settled and not self._fresh and loop.time() < due:
                self._wake.clear()  # only batches already done: the next poll stays due
                continue
            if self._wake.is_set():
                self._wake.clear()
                self._fresh = False
                # A new batch: its processing just began, look again soon (at
                # once if an event says a batch completed meanwhile).
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.base):
                        await self._confirm.wait()
                self._confirm.clear()
                interval = self.base
            infos = await self._fetch()
            self.polls += 1
            for info in infos:
                rec = self.open.get(info.id)
                if rec is None:
                    continue
                if info.completed:
                    await self._complete(rec, info)
                else:
                    self.journal.record(rec, processed=info.processed, status=info.status)
                    self.on_update(rec)
            # Count batches completed in this round too, or the rate looks tiny.
            total, now = self.processed_total(), time.monotonic()
            remaining = sum((r.accepted or 0) - (r.processed or 0) for r in self.open.values())
            rate = (total - last_total) / max(now - last_time, 1e-6)
            interval = next_interval(
                interval, changed=total != last_total, remaining=remaining, rate=rate,
                base=self.base, cap=self.cap,
            )
            last_total, last_time = total, now
            due = loop.time() + interval

    async def _settle(self) -> None:
        """Complete the batches whose POST's answer showed them processed (one
        `/statuses` request each, as for a polled one; no poll)."""
        while self._settled:
            rec = self._settled.pop()
            if rec.batch_id is not None and rec.batch_id in self.open:
                await self._complete(rec, BatchInfo(
                    id=rec.batch_id, sender=rec.sender or self.sender,
                    batch_size=rec.accepted or 0, processed=rec.processed or 0,
                    status=DONE, creation_time="", cost=rec.cost))

    def _processed(self) -> int:
        return sum(r.processed or 0 for r in self.open.values())

    def processed_total(self) -> int:
        """Messages processed so far across every batch this poller followed."""
        return self._done_processed + self._processed()

    async def _fetch(self) -> list[BatchInfo]:
        if len(self.open) == 1:
            (batch_id,) = self.open
            return [await self.a2p.get_batch(batch_id)]
        found = []
        # One list per sender with open batches (a sender pool has several).
        senders = dict.fromkeys(r.sender or self.sender for r in self.open.values())
        for sender in senders:
            async for info in self.a2p.list_batches(sender=sender, date_from=self.since):
                if info.id in self.open:
                    found.append(info)
        return found

    async def _complete(self, rec: BatchRecord, info: BatchInfo) -> None:
        assert rec.batch_id is not None
        await refresh_counts(self.a2p, self.journal, rec, info, since=self.since)
        # Not `del`: a stop may have cleared `open` while the counts were read.
        self.open.pop(rec.batch_id, None)
        self._done_processed += info.processed
        self.on_update(rec)


async def refresh_counts(a2p: A2P, journal: Journal, rec: BatchRecord, info: BatchInfo, *,
                         since: str) -> DeliveryCounts:
    """Read a processed batch's delivery counts and journal them (pending is the rest);
    `rec` is changed with its journal row (`Journal.record`), never apart from it."""
    assert rec.batch_id is not None
    counts = delivery_counts(await a2p.statuses(batch_id=rec.batch_id, date_from=since))
    journal.record(
        rec, state=COMPLETED, processed=info.processed, status=info.status,
        cost=info.cost, delivered=counts.delivered, failed=counts.failed,
        error_codes=_codes(counts.codes),
    )
    return counts


def _codes(codes: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(codes.items()))
