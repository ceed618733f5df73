"""Dispatch: the planned batches go to the server, and are followed to the end.

    planner --queue--> submitters (N, or paced lanes per sender) --track--> poller
                                                                  \\--> results fetcher

Every state change goes through the journal (`Journal.record`); a stop is two-
phase: no new batches, then POSTs in flight get `drain_timeout` to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from .api.a2p import A2P
from .clock import Clock
from .config import JobOptions
from .delivery import ResultsFetcher
from .early_stop import EarlyStop, FirstResults, parse_codes
from .errors import HvsmsError, JobFailed
from .events import EventFeed, MessageFailure, alongside
from .journal import (
    COMPLETED,
    FAILED,
    PLANNED,
    SPLIT_BASE,
    SUBMITTED,
    SUBMITTING,
    BatchRecord,
    Journal,
    ResultState,
)
from .pacing import PacedLanes, Pacer, type_rate
from .plan import Plan, log_planned, reconcile, record_plan
from .poller import Poller
from .progress import Tracker
from .prune import Pruner
from .quiet_hours import QuietHours
from .registration import NumberConfig, shared_cap
from .report import DroppedRow
from .schedule import schedule
from .sent_counts import SentCounts
from .stopping import cancel, until_stopped
from .submitter import Submitter
from .summary import TO_SEND

__all__ = ["Dispatch"]

log = logging.getLogger("engine.job")

# While events flow, the poller's longest wait is this many times longer.
EVENTS_SLOWDOWN = 10
# Seconds: "no horizon" for a job that is paced only for its quiet hours.
_NO_HORIZON = 1e9


class Dispatch:
    """Sends a job's batches from `sender` and follows them; `send` or `follow`.

    `known` is the journal's batches (a resumed job's); planning adds to it.
    """

    def __init__(self, *, a2p: A2P, journal: Journal, plan: Plan, sender: str,
                 options: JobOptions, tracker: Tracker, stop: asyncio.Event, clock: Clock,
                 quiet: QuietHours | None, since: str, counts: SentCounts | None = None,
                 caps: Mapping[str, int] | None = None,
                 configs: Mapping[str, NumberConfig] | None = None) -> None:
        self.a2p, self.journal, self.plan, self.sender = a2p, journal, plan, sender
        self.counts = counts  # what each number sent each day, for every job
        # Each number's cap a day (`registration.daily_caps`) and SMS configuration.
        self.caps, self.configs = dict(caps or {}), dict(configs or {})
        # Each number's first results, judged before its next batch is posted.
        self.first_results = FirstResults() if options.early_stop else None
        self.early: EarlyStop | None = None  # why the job paused, if it did
        self.judged_late: str | None = None  # the same, found once all was sent
        self._judged: dict[str, asyncio.Event] = {}
        self._first: dict[str, BatchRecord] = {}
        self.options, self.tracker, self.stop, self.clock = options, tracker, stop, clock
        self.quiet = quiet
        self.poller = Poller(a2p=a2p, journal=journal, sender=sender, since=since,
                             base=options.poll_interval, cap=options.max_poll_interval,
                             on_update=self._updated)
        self.submitter = Submitter(a2p=a2p, journal=journal, builder=plan.builder,
                                   sender=sender, since=since,
                                   reconcile_after=options.reconcile_after,
                                   on_submitted=self._submitted)
        self.pacer = self._pacer()
        self.feed = self._feed() if options.events else None
        if self.feed is not None and self.first_results is not None:
            self.feed.on_failure.append(self._told)
        self.fetcher: ResultsFetcher | None = None
        self.since = since
        # What planning the whole file learnt (`record_plan`), once it did.
        self.preview: list[dict[str, Any]] = []
        self.plan_warnings: list[str] = []
        tracker.rates = self.rates
        tracker.waits = self.waits
        self.lanes: PacedLanes | None = None
        self._waits: tuple[float, dict[str, tuple[str | None, float | None, float | None]]] = (
            -1.0, {})

    def rates(self) -> dict[str, float]:
        """Each sender's pace as pacing learnt it (empty: not paced)."""
        return {} if self.pacer is None else {n: p.rate for n, p in self.pacer.senders.items()}

    def waits(self) -> dict[str, tuple[str | None, float | None, float | None]]:
        """Per paced sender: what it waits for (text), the seconds until then, and the
        seconds until its rest is processed through windows and caps (`schedule`).
        Worked out at most once a second: the progress asks on every tick."""
        if self.pacer is None or not self.pacer.senders or self.lanes is None:
            return {}
        when, cached = self._waits
        if time.monotonic() - when < 1.0:
            return cached
        now = self.clock.now()
        paces = self.pacer.senders
        # What each sender has on the server first, then its lane, in order.
        work: list[tuple[str, str | None, int]] = [
            (n, None, p.queued + p.posting) for n, p in paces.items()]
        work += [(n, b.zone, b.messages) for n, lane in self.lanes.lanes.items()
                 for b in list(lane)]
        plans = {p.sender: p for p in schedule(
            work, {n: p.rate for n, p in paces.items()}, start=now, quiet=self.quiet,
            cap=self.options.daily_cap,
            # Processed today: what is queued is in `work` already.
            used_today={n: max(0, p.used - p.queued - p.posting) for n, p in paces.items()})}
        out: dict[str, tuple[str | None, float | None, float | None]] = {}
        for n, pace in paces.items():
            w = pace.waiting
            plan = plans.get(n)
            left = (plan.finish - now if plan is not None and plan.finish is not None
                    and plan.recipients else None)
            out[n] = (w.text() if w else None, max(0.0, w.until - now) if w else None,
                      max(0.0, left) if left is not None else None)
        self._waits = (time.monotonic(), out)
        return out

    @property
    def warnings(self) -> list[str]:
        out = list(self.submitter.notes)
        if found := self.submitter.unrecorded_found:
            out.append(f"{len(found)} batch(es) ({', '.join(map(str, found[:10]))}"
                       f"{', ...' if len(found) > 10 else ''}) were on the server although "
                       "the journal did not record them (a journal older than the server: "
                       "copied without its -wal file, or restored from a backup); adopted, "
                       "not sent again")
        if self.submitter.splits:
            out.append(f"{self.submitter.splits} batch(es) were too large for the server "
                       "(HTTP 413, or a 400 naming the count of messages) and were sent as two "
                       "halves each")
        if self.fetcher is not None:
            out.extend(self.fetcher.warnings)
        if self.judged_late:
            out.append(self.judged_late)
        return out

    # --- sending ------------------------------------------------------------------

    async def send(self, known: dict[int, BatchRecord]) -> None:
        """Plan (unless planned), submit and follow every batch; fetch their results."""
        lanes = self._lanes()
        stale = self.journal.meta("stale")
        if stale and (self.journal.meta("planned") != "complete"
                      or any(r.state in TO_SEND for r in known.values())):
            await self.submitter.unrecorded(self.sender.split(","), stale)
        for rec in known.values():
            self.tracker.batches[rec.seq] = rec
            if rec.state == SUBMITTED:
                self.poller.track(rec)
                self.tracker.submitted(rec)
                if self.pacer is not None:
                    self.pacer.adopt(lanes.sender_of(rec) if lanes else self.sender, rec,
                                     self.clock.now())
        fetching = (asyncio.create_task(self._fetcher(known, refresh=False).run())
                    if self.options.fetch_delivery else None)
        main = asyncio.create_task(self._pipeline(known, lanes))
        try:
            if not await until_stopped(main, self.stop):
                # Two-phase stop: no new batches, no more polling; in-flight POSTs
                # get `drain_timeout`, then are cancelled (their intent is journaled).
                self.poller.close()
                self.poller.open.clear()
                await asyncio.wait({main}, timeout=self.options.drain_timeout)
            if not main.done():
                await cancel(main)
            elif self.stop.is_set() and _only_ours(main.exception()):
                # Requests the stop cut short (a retry not waited for): the job is
                # interrupted, not failed; the journal knows what was sent.
                log.info("stopped: %s", main.exception())
            else:
                main.result()
        finally:
            paused = self.early is not None and main.done() and not main.cancelled()
            if fetching is not None and not paused and (
                    self.stop.is_set() or main.cancelled() or not main.done()
                    or main.exception()):
                await cancel(fetching)
        if fetching is not None and self.fetcher is not None:
            if not fetching.done() and self.early is not None:
                # Paused early: the first results are few, and failed.csv must list them.
                self.fetcher.close()
                await asyncio.wait({fetching}, timeout=self.options.drain_timeout * 10)
            elif not fetching.done():
                # Every batch is sent and followed: let the fetcher finish (unless
                # stopped: the journal has every page fetched so far).
                self.fetcher.close()
                await until_stopped(fetching, self.stop)
            await cancel(fetching)  # (its error, if it failed, is the job's)
        if self.submitter.failures and not self.stop.is_set():  # stopped: resume sends them
            raise JobFailed("; ".join(self.submitter.failures[:5]))
        if stale and not self.stop.is_set():  # every batch sent or found: up to date now
            self.journal.set_meta("stale", "")

    async def follow(self, known: dict[int, BatchRecord]) -> None:
        """`hvsms results`: follow open batches to completion, fetch every result."""
        for rec in known.values():
            if rec.state == SUBMITTED:
                self.poller.track(rec)
        fetcher = self._fetcher(known, refresh=True)
        self.poller.close()

        async def follow() -> None:
            try:
                await self.poller.run()
            finally:
                fetcher.close()

        async def both() -> None:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(follow())
                tg.create_task(fetcher.run())

        main = asyncio.create_task(both())
        await until_stopped(main, self.stop)
        await cancel(main)

    def _fetcher(self, known: dict[int, BatchRecord], *, refresh: bool) -> ResultsFetcher:
        fetcher = self.fetcher = ResultsFetcher(a2p=self.a2p, journal=self.journal,
                                                builder=self.plan.builder, since=self.since,
                                                on_page=self._page)
        self.tracker.progress.results_batches = sum(
            1 for st in fetcher.states.values() if st.complete and st.resolved)
        for rec in known.values():
            fetcher.offer(rec, refresh=refresh)
        return fetcher

    def _feed(self) -> EventFeed:
        """Events for every sender of the job; they wake and slow the poller, prune batches."""
        poller, cap = self.poller, self.options.max_poll_interval

        def nudge(rec: BatchRecord) -> None:
            if rec.batch_id in poller.open:
                poller.confirm()  # completion is confirmed by a poll

        def flowing(yes: bool) -> None:
            # Not when paced: there the polls are the pacer's eyes (timed by our clock).
            poller.cap = cap * EVENTS_SLOWDOWN if yes and self.pacer is None else cap
            if not yes and poller.open:  # its current wait may be the long one: poll now
                poller.confirm()

        feed = EventFeed(client=self.a2p.client, journal=self.journal,
                         senders=self.sender.split(","), open_batch=poller.open.get,
                         nudge=nudge, updated=self._event_progress, flowing=flowing,
                         busy=lambda: bool(poller.open), silence=self.options.events_silence,
                         messages=self.options.fetch_delivery)
        self.submitter.before_post = Pruner(journal=self.journal, builder=self.plan.builder,
                                            opt_outs=feed.opt_outs, sender=self.sender)
        return feed

    def on_message_failure(self, hook: Callable[[MessageFailure], None]) -> None:
        """Call `hook` with each message's final failure as events tell it (the first
        time only): where a stop on number-wide failure codes can listen."""
        if self.feed is not None:
            self.feed.on_failure.append(hook)

    def _pacer(self) -> Pacer | None:
        """Paced submission (`engine.pacing`), unless the options turn it off."""
        opts = self.options
        if (opts.horizon is None and self.quiet is None and opts.daily_cap is None
                and not self.caps):
            return None
        # Quiet hours and caps need paced lanes even without a horizon: a batch is timed.
        horizon = opts.horizon if opts.horizon is not None else _NO_HORIZON
        pacer = Pacer()
        for number in self.sender.split(","):
            rate = opts.rate or type_rate(number, self.a2p.payment_types.get(number))
            pacer.add(number, rate, horizon, learn=opts.rate is None,
                      cap=self.caps.get(number, opts.daily_cap), counts=self.counts,
                      shared=shared_cap(self.configs.get(number)))
        return pacer

    def _lanes(self) -> PacedLanes | None:
        if self.pacer is None:
            return None
        journal, builder = self.journal, self.plan.builder

        async def split(rec: BatchRecord, k: int) -> tuple[BatchRecord, BatchRecord]:
            front, rest = await builder.cut(rec, journal.dropped_lines(rec.seq), k, 0)
            rest.seq = journal.next_seq()  # now: lanes cut at once
            journal.cut(front, rest)
            return front, rest

        self.lanes = PacedLanes(pacer=self.pacer, default_sender=self.sender,
                          submit=self.submitter.submit, split=split, stopped=self.stop.is_set,
                          clock=self.clock, a2p=self.a2p, quiet=self.quiet,
                          find=self.submitter.find,
                          on_probe=self._updated, concurrency=self.options.concurrency,
                          on_wait=self._wait_changed,
                          gate=self._gate if self.first_results is not None else None)
        return self.lanes

    def _wait_changed(self) -> None:
        self._waits = (-1.0, {})  # worked out again now, not from the cache
        self.tracker.tick()

    def _more_to_send(self) -> bool:
        return (self.journal.meta("planned") != "complete"
                or any(b.state in (PLANNED, FAILED) for b in self.journal.batches()))

    async def _gate(self, sender: str, rec: BatchRecord) -> bool:
        """Before a batch is posted: a number's first goes at once, the next waits
        until a batch of the number completed and was judged (`_judge`). True: it
        waited (the lane looks again, a stop included)."""
        first = self._first.setdefault(sender, rec)
        judged = self._judged.setdefault(sender, asyncio.Event())
        if first is rec or judged.is_set():
            return False
        while not judged.is_set() and not self.stop.is_set():
            if first.state not in (SUBMITTING, SUBMITTED):
                # Refused, split, of unknown outcome or never sent: nothing will be
                # judged by it (its halves or a resume may be).
                judged.set()
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):  # (a stop is noticed within a second)
                    await judged.wait()
        return True

    def _told(self, failure: MessageFailure) -> None:
        """A message failed (an event): a number-wide code pauses the job at once."""
        assert self.first_results is not None
        if self.early is not None:
            return
        verdict = self.first_results.told(failure.sender or self.sender, failure.error_code)
        if verdict is not None and self._more_to_send():
            self.early = verdict
            log.info("%s", verdict.line(), extra={"event": "early_stop", **verdict.to_dict()})
            self.stop.set()

    def _judge(self, rec: BatchRecord) -> None:
        """A completed batch: pause the job if its number's first results say so."""
        sender = rec.sender or self.sender
        if self.first_results is not None and self.early is None:
            verdict = self.first_results.add(sender, rec.processed or 0, rec.failed or 0,
                                             parse_codes(rec.error_codes))
            if verdict is not None and self._more_to_send():
                self.early = verdict
                log.info("%s", verdict.line(), extra={"event": "early_stop",
                                                         **verdict.to_dict()})
                self.stop.set()
            elif verdict is not None:  # everything is sent: nothing to pause
                self.judged_late = verdict.line().replace("stopped early", "first results")
        self._judged.setdefault(sender, asyncio.Event()).set()

    async def _pipeline(self, known: dict[int, BatchRecord], lanes: PacedLanes | None) -> None:
        concurrency = self.options.concurrency
        journal = self.journal
        # Unbounded, so the end-of-work markers can always be put; the
        # semaphore is the backpressure that keeps the planner `concurrency` ahead.
        queue: asyncio.Queue[BatchRecord | None] = asyncio.Queue()
        ahead = asyncio.Semaphore(concurrency)

        async def put(rec: BatchRecord) -> None:
            await ahead.acquire()
            queue.put_nowait(rec)

        async def plan() -> None:
            try:
                await self._plan(known, put)
            finally:
                for _ in range(concurrency):
                    queue.put_nowait(None)

        async def submit() -> None:
            while (rec := await queue.get()) is not None:
                ahead.release()
                if not self.stop.is_set():
                    await self.submitter.submit(rec)

        async def submit_all() -> None:
            if lanes is not None:
                await lanes.run(queue, concurrency, ahead.release,
                                lambda: journal.meta("planned") == "complete")
            else:
                await _together(submit, concurrency)
            self.poller.close()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(plan())
            tg.create_task(submit_all())
            tg.create_task(alongside(self.feed, self.poller.run()))

    async def _plan(self, known: dict[int, BatchRecord],
                    put: Callable[[BatchRecord], Awaitable[None]]) -> None:
        """Hand every batch to send to `put`, planning the file unless planned before."""
        journal, tracker = self.journal, self.tracker

        async def emit(rec: BatchRecord, dropped: list[tuple[DroppedRow, str]]) -> None:
            rec = reconcile(journal, known, rec, dropped)
            tracker.planned(rec)
            log_planned(rec)
            if rec.state in TO_SEND:
                await put(rec)

        done = journal.meta("planned") == "complete"
        # Planned before: no need to read the file again. Halves of batches
        # split (413) before a stop are never planned again either way.
        for rec in list(known.values()):
            if rec.state in TO_SEND and (done or rec.seq >= SPLIT_BASE):
                await put(rec)
        if done:
            tracker.planning_done(len(known))
            return
        stats = await self.plan.planner.run(emit, journal.add_dropped, tracker.read,
                                            self.stop.is_set)
        if not self.stop.is_set():
            # Now: paced lanes end when the plan is complete.
            self.preview, self.plan_warnings = record_plan(journal, stats)
            tracker.planning_done()

    # --- what the stages tell -------------------------------------------------------

    def _submitted(self, rec: BatchRecord) -> None:
        log.info("batch %d submitted as %s", rec.seq, rec.batch_id, extra={
            "event": "batch_submitted", "batch": rec.seq, "batch_id": rec.batch_id,
            "accepted": rec.accepted, "rejected": rec.rejected})
        if self.pacer is not None:
            self.pacer.submitted(rec.sender or self.sender, rec, self.clock.now())
        self.tracker.submitted(rec)
        self.poller.track(rec)
        self.tracker.tick()

    def _updated(self, rec: BatchRecord) -> None:
        if self.pacer is not None:
            self.pacer.seen(rec.sender or self.sender, rec, self.clock.now())
        if rec.state == COMPLETED:
            self._judge(rec)
            self.tracker.completed()
            log.info("batch %d completed", rec.seq, extra={
                "event": "batch_completed", "batch": rec.seq, "batch_id": rec.batch_id,
                "delivered": rec.delivered, "failed": rec.failed})
            if self.fetcher is not None:
                self.fetcher.offer(rec)
        self.tracker.processed(self.poller.processed_total())

    def _event_progress(self, rec: BatchRecord) -> None:
        # Progress only: pacing learns a sender's pace from polls, timed by our clock
        # (an event is older than its arrival: on a compressed clock, by minutes).
        self.tracker.processed(self.poller.processed_total())

    def _page(self, rec: BatchRecord, st: ResultState) -> None:
        self.tracker.results_page(st.complete)


async def _together(work: Callable[[], Coroutine[Any, Any, None]], n: int) -> None:
    """`n` copies of `work` at once, in one task group."""
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(work())


def _only_ours(exc: BaseException | None) -> bool:
    """`exc` is one of ours (or a group of only ours)."""
    if exc is None:
        return False
    errors = flatten(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return all(isinstance(e, HvsmsError) for e in errors)


def flatten(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(flatten(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out
