"""Pacing: at most a short horizon of messages queued on the server per sender.

RingCentral processes a sender's batches in order at the number's pace
(toll-free about 8 messages/s, local 1/s, as RingCentral announced), and no
batch can be cancelled. So hvsms keeps, per sender, at most `horizon` seconds
of that sender's throughput accepted but not yet processed, and submits the
next batch (a planned batch, or the front part of one, cut to size) as the
server drains the last. A stop, whatever its kind, leaves at most the horizon
in flight; a resume carries on from the journal.

The throughput starts from the number's type (or `JobOptions.rate`) and is
then learned from the `processedCount`s the poller sees: over a stretch where
the sender never ran dry, processed / elapsed is its pace; a sender that
drained everything it was given is at least that fast. A fast sender (the
emulator's) is learned from its first, small batch (from the POST's answer when
that already shows it processed, else from a probe soon after), after which
batches are the fewest and fullest again.

A lane that may not send waits for an event that can change that (progress,
an answer, a new batch, a stop) or for the clock time it named (a window
opening, midnight for a cap); nothing wakes it in between.

`SenderPace` and `Pacer` are pure (time is passed in); `PacedLanes` does the
waiting and submitting, one lane (task) per sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .api.a2p import A2P
from .clock import Clock
from .errors import ApiError
from .journal import FAILED, PLANNED, BatchRecord
from .quiet_hours import QuietHours
from .senders import is_toll_free
from .sent_counts import SentCounts, day_of

__all__ = ["DEFAULT_HORIZON", "THROUGHPUT_BY_TYPE", "PacedLanes", "Pacer", "SenderPace",
           "Wait", "type_rate"]

log = logging.getLogger("engine.pacing")

# Seconds of a sender's throughput kept queued on the server (issue: 10 minutes).
DEFAULT_HORIZON = 600.0
# Messages per second by the number's `paymentType` (RingCentral's announcement
# of the batch API, community article 89856: toll-free 8/s, local 10DLC 1/s).
THROUGHPUT_BY_TYPE: Mapping[str, float] = {"TollFree": 8.0, "Local": 1.0}
# A pace is measured over at least this many clock seconds of a busy sender (long
# against the poll interval: what a poll reads is up to one interval old), and
# each measurement moves the pace a quarter of the way (smoothing the noise).
MIN_WINDOW = 600.0
LEARN_WEIGHT = 0.25
# A sender that drained what it had is taken to be faster only when it was at
# least this many times faster than believed (the emulator's fast senders): a
# little faster is timing noise, and believing it would queue past the horizon.
FASTER = 2.0
# Quiet hours: a batch is timed to end this long before its window closes, at a pace
# this much slower than believed (a learned pace is an estimate).
CLOSING_MARGIN = 60.0
SLOWER = 1.1
# ... and is not cut smaller than this near the close (all that is left may be).
MIN_BATCH = 10
# Processing begins once a POST is answered: its time counts this many times over
# (the next may be slower), the worst recent one forgotten a tenth each POST.
POST_MARGIN = 2.0
POST_DECAY = 0.9
# Clock seconds a POST's round trip is taken to last at least (a clock's resolution).
MIN_ELAPSED = 1e-3
# Real seconds after a first batch when its sender is looked at, to learn a fast pace.
PROBES = (0.01, 0.05, 0.25)


def type_rate(number: str, payment_type: str | None) -> float:
    """Messages/s of a number by its type (by its area code when the type is unknown)."""
    if payment_type is not None and payment_type in THROUGHPUT_BY_TYPE:
        return THROUGHPUT_BY_TYPE[payment_type]
    return THROUGHPUT_BY_TYPE["TollFree" if is_toll_free(number) else "Local"]


@dataclass(slots=True)
class SenderPace:
    """One sender's queue on the server and its pace (pure: time is passed in)."""

    number: str
    rate: float  # messages per second
    horizon: float  # seconds of `rate` allowed in flight
    learn: bool = True
    queued: int = 0  # accepted, not yet processed
    posting: int = 0  # in POSTs not answered yet
    processed: int = 0
    learned: bool = False
    max_queued: int = 0
    catching_up: bool = False  # resumed: the next progress seen is not a measure
    post_time: float = 0.0  # clock seconds a POST takes to be answered (recent worst)
    cap: int | None = None  # most messages processed per UTC day
    day: int | None = None  # the UTC day `used` counts
    used: int = 0  # messages that may be processed that day (sent or still queued)
    # The machine's counts (`engine.sent_counts`): then `used` is what every job,
    # this one's earlier runs included, sent from this number that day.
    counts: SentCounts | None = None
    # A count shared with other numbers (key, cap a day): LowVolume's account-wide 6,000.
    shared: tuple[str, int] | None = None
    _shared_room: int = 0
    _mark: tuple[float, int] | None = None  # (time, processed) since the sender was busy
    waiting: Wait | None = None  # why the lane sends nothing now (None: it may, or the server)

    @property
    def capacity(self) -> int:
        """Most messages this sender may have in flight."""
        return max(1, int(self.rate * self.horizon))

    def want(self, remaining: int) -> int:
        """How many of `remaining` messages to submit now (0: wait for the server).

        The next batch goes when at least half the horizon (or all that is
        left) fits, so the sender never runs dry and batches are not tiny."""
        room = self.capacity - self.queued - self.posting
        if remaining <= 0 or room < min(remaining, max(1, self.capacity // 2)):
            return 0
        return min(remaining, room)

    def cap_room(self, now: float) -> tuple[int, float]:
        """Messages the daily cap still allows today, and when today ends (UTC).

        A new day starts with what is still queued (it is processed that day
        or later); every batch sent that day is counted in full and timed to
        be processed before midnight, so no day ever exceeds the cap."""
        day = day_of(now)
        if day != self.day:
            carry = self.queued + self.posting
            if self.counts is not None and self.day is not None and carry:
                self.counts.add(self.number, day, carry)  # processed after midnight
            self.day, self.used = day, carry
            self._read(day)
        cap = self.cap if self.cap is not None else 1 << 62
        if self.shared is not None:
            cap = min(cap, self.used + self._shared_room)
        return cap - self.used, (day + 1) * 86_400.0

    def _read(self, day: int) -> None:
        """What every job counted for the day (read again after each `take`: another
        job's sends show up then, and `take` itself never counts past the cap)."""
        if self.counts is None:
            return
        self.used = self.counts.sent(self.number, day)
        if self.shared is not None:
            self._shared_room = self.shared[1] - self.counts.sent(self.shared[0], day)

    def take(self, now: float, want: int) -> tuple[int, int]:
        """Count `want` messages about to be posted: (day, how many the cap let
        through; another job may have taken part of the day since `cap_room`)."""
        day = day_of(now)
        self.cap_room(now)
        if self.counts is not None:
            got = self.counts.reserve(self.number, day, want, self.cap, self.shared)
            self._read(day)
        else:
            got = want if self.cap is None else max(0, min(want, self.cap - self.used))
            self.used += got
        return day, got

    def give_back(self, day: int, count: int) -> None:
        """Messages counted by `take` that were not sent after all."""
        if self.counts is not None:
            self.counts.release(self.number, day, count, self.shared)
            if day == self.day:
                self._read(day)
        elif day == self.day:
            self.used -= count

    def submitted(self, now: float, accepted: int) -> None:
        if accepted <= 0:
            return
        if self.queued <= 0 or self._mark is None:
            self._mark = (now, self.processed)
        self.queued += accepted
        self.max_queued = max(self.max_queued, self.queued)

    @property
    def lead(self) -> float:
        """Clock seconds before a deadline (a window's close, midnight) by which a batch
        picked now is planned to be processed: the margin, and the time from a pick to
        the server's answer (a cut, a POST slot, the upload: processing begins only
        once the server has the batch)."""
        return CLOSING_MARGIN + POST_MARGIN * self.post_time

    def posted(self, elapsed: float) -> None:
        """A batch was accepted `elapsed` clock seconds after it was picked."""
        self.post_time = max(elapsed, self.post_time * POST_DECAY)

    def answered(self, elapsed: float, done: int) -> None:
        """A POST's answer already showed `done` of its messages processed, `elapsed`
        after the POST began (a server that processes at once): the sender is at
        least that fast. Learnt from the first batch, so the next ones are full."""
        if not self.learn or done <= 0:
            return
        pace = done / max(elapsed, MIN_ELAPSED)
        if pace > FASTER * self.rate:
            self.rate, self.learned = pace, True

    def progressed(self, now: float, done: int) -> None:
        """`done` more messages processed, seen at `now`."""
        if done <= 0:
            return
        self.processed += done
        self.queued = max(0, self.queued - done)
        if self.catching_up:
            self.catching_up = False
            self._mark = (now, self.processed) if self.queued else None
            return
        if self._mark is None:
            return
        since, before = self._mark
        elapsed, count = now - since, self.processed - before
        if not self.learn or elapsed <= 0:
            return
        if self.queued == 0:
            # Drained within the stretch: at least this fast.
            if count / elapsed > FASTER * self.rate:
                self.rate, self.learned = count / elapsed, True
            self._mark = None
        elif elapsed >= MIN_WINDOW:
            # Busy all along: this is its pace.
            self.rate += LEARN_WEIGHT * (count / elapsed - self.rate)
            self.learned = True
            self._mark = (now, self.processed)


@dataclass(frozen=True, slots=True)
class Wait:
    """Why a paced sender sends nothing now, and until when (epoch seconds, the job's
    clock): its daily cap (`cap`), or its recipients' window (`window`, `zone`: their
    quiet-hours key)."""

    kind: str
    until: float
    zone: str | None = None

    def text(self) -> str:
        """'at its daily cap until 00:00 UTC', 'waiting for 08:00 in America/New_York'."""
        if self.kind == "cap":
            at = dt.datetime.fromtimestamp(self.until, dt.UTC).strftime("%H:%M")
            return f"at its daily cap until {at} UTC"
        zone = (self.zone or "").split("|", 1)[0].split("+", 1)[0]
        try:
            at = dt.datetime.fromtimestamp(self.until, ZoneInfo(zone)).strftime("%H:%M")
        except (ZoneInfoNotFoundError, ValueError):
            zone, at = "UTC", dt.datetime.fromtimestamp(self.until, dt.UTC).strftime("%H:%M")
        return f"waiting for {at} in {zone}"


@dataclass(slots=True)
class Pacer:
    """Every sender's pace, and what the poller has seen of each batch."""

    senders: dict[str, SenderPace] = field(default_factory=dict)
    _seen: dict[str, int] = field(default_factory=dict)  # batch id -> processed
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def add(self, number: str, rate: float, horizon: float, *, learn: bool,
            cap: int | None = None, counts: SentCounts | None = None,
            shared: tuple[str, int] | None = None) -> SenderPace:
        pace = self.senders[number] = SenderPace(number, rate, horizon, learn=learn, cap=cap,
                                                 counts=counts, shared=shared)
        return pace

    def submitted(self, sender: str, rec: BatchRecord, now: float) -> None:
        """A batch the server accepted just now."""
        if rec.batch_id is None or rec.batch_id in self._seen:
            return
        done = rec.processed or 0
        self._seen[rec.batch_id] = done
        self.senders[sender].submitted(now, (rec.accepted or 0) - done)

    def adopt(self, sender: str, rec: BatchRecord, now: float) -> None:
        """A batch of an earlier run, still on the server (a resume). What the journal
        says it processed is old news: the progress first seen next is not a pace."""
        if rec.batch_id is None or rec.batch_id in self._seen:
            return
        self.submitted(sender, rec, now)
        pace = self.senders[sender]
        pace._mark, pace.catching_up = None, True

    def answered(self, sender: str, rec: BatchRecord, started: float, now: float) -> None:
        """The POST of `rec`, begun at `started`, was answered by `now`."""
        if rec.batch_id is not None and rec.processed:
            self.senders[sender].answered(now - started, rec.processed)
            self.changed.set()

    def seen(self, sender: str, rec: BatchRecord, now: float) -> None:
        """The poller's (or a probe's) latest `processedCount` of a batch."""
        if rec.batch_id is None or rec.batch_id not in self._seen:
            return
        done = (rec.processed or 0) - self._seen[rec.batch_id]
        if done > 0:
            self._seen[rec.batch_id] = rec.processed or 0
            self.senders[sender].progressed(now, done)
            self.changed.set()


Submit = Callable[[BatchRecord], Awaitable[None]]
Find = Callable[[BatchRecord], Awaitable[bool]]
Split = Callable[[BatchRecord, int], Awaitable[tuple[BatchRecord, BatchRecord]]]


class PacedLanes:
    """Submits each sender's batches in order, as its pace allows (one task per sender).

    A batch larger than what the sender may take now is cut: its front part
    is sent, the rest waits at the front of the lane. Cuts are made once
    every batch is planned (so a resume never plans differently)."""

    def __init__(
        self, *, pacer: Pacer, default_sender: str, submit: Submit, split: Split,
        stopped: Callable[[], bool], clock: Clock, a2p: A2P | None = None,
        on_probe: Callable[[BatchRecord], None] | None = None, concurrency: int = 1,
        quiet: QuietHours | None = None, find: Find | None = None,
        on_wait: Callable[[], None] | None = None,
        gate: Callable[[str, BatchRecord], Awaitable[bool]] | None = None,
    ) -> None:
        self.pacer = pacer
        self.on_wait = on_wait  # a lane began or ended waiting for a window or its cap
        self.default_sender = default_sender
        self.submit = submit
        self.split = split
        self.stopped = stopped
        self.clock = clock
        self.a2p = a2p
        self.on_probe = on_probe
        self.quiet = quiet
        self.find = find
        # Asked before a planned batch is posted: True if it waited (look again).
        self.gate = gate
        self.lanes: dict[str, deque[BatchRecord]] = {}
        self.planned = False  # every batch planned: cuts allowed
        self._ended = False
        self._arrived = asyncio.Event()
        self._probes: set[asyncio.Task[None]] = set()
        self._probed: set[str] = set()
        # Per sender, batches of unknown outcome to look for on the server first.
        self._to_find: dict[str, list[BatchRecord]] = {}
        self._posts = asyncio.Semaphore(concurrency)  # POSTs at once, over every lane
        self._tg: asyncio.TaskGroup | None = None

    def sender_of(self, rec: BatchRecord) -> str:
        return rec.sender or self.default_sender

    async def run(self, queue: asyncio.Queue[BatchRecord | None], ends: int,
                  taken: Callable[[], None], planned: Callable[[], bool]) -> None:
        """Take batches from `queue` (until `ends` end markers) into the lanes."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            tasks: dict[str, asyncio.Task[None]] = {}
            while ends:
                rec = await queue.get()
                if rec is None:
                    ends -= 1
                    continue
                taken()
                sender = self.sender_of(rec)
                self.lanes.setdefault(sender, deque()).append(rec)
                if _unknown(rec):
                    self._to_find.setdefault(sender, []).append(rec)
                if sender not in tasks:
                    tasks[sender] = tg.create_task(self._lane(sender))
                self._arrived.set()
                self.pacer.changed.set()  # a lane waiting on other hours may take it
            self.planned = planned()
            self._ended = True
            self._arrived.set()
            self.pacer.changed.set()
        for task in self._probes:
            task.cancel()

    async def _lane(self, sender: str) -> None:
        lane = self.lanes[sender]
        pace = self.pacer.senders[sender]
        while not self.stopped():
            if not lane:
                if self._ended:
                    return
                self._arrived.clear()
                await self._arrived.wait()
                continue
            looking = self._to_find.get(sender)
            if looking and self.find is not None:
                # Its outcome is unknown (a resume): looked for on the server before
                # anything else; not there, it goes when the same checks as any allow.
                unknown = looking.pop(0)
                if await self.find(unknown):
                    lane.remove(unknown)
                elif pace.counts is not None and unknown.intent is not None:
                    # Not on the server: what the process that meant to post it counted
                    # for it is given back; it is counted again when it goes.
                    pace.give_back(day_of(self._on_clock(unknown.intent)), unknown.messages)
                continue
            before = pace.waiting
            picked = self.clock.now()
            pick = self._pick(lane, pace, picked)
            if pace.waiting != before and self.on_wait is not None:
                self.on_wait()
            if isinstance(pick, float):
                await self._wait(pick)
                continue
            i, n = pick
            rec = lane[i]
            if n < rec.messages and not self.planned:
                await self._wait(math.inf)
                continue
            if self.gate is not None and await self.gate(sender, rec):
                continue
            await self._posts.acquire()
            if self.stopped():  # stopped while waiting for the slot: not begun, stays planned
                self._posts.release()
                return
            # Counted once the POST is next (not while waiting for the slot): a kill
            # leaves no count for messages that were never posted.
            day, got = pace.take(self.clock.now(), n)
            if got < n:  # another job took part of the day meanwhile: look again
                self._posts.release()
                pace.give_back(day, got)
                continue
            if n < rec.messages:
                rec, lane[i] = await self.split(rec, n)
            else:
                del lane[i]
            pace.posting += rec.messages
            assert self._tg is not None
            self._tg.create_task(self._post(rec, pace, picked, day))

    def _on_clock(self, epoch: float) -> float:
        """A time of the system clock (a journal's intent) on the job's clock."""
        return self.clock.now() - (time.time() - epoch) * self.clock.scale

    async def _post(self, rec: BatchRecord, pace: SenderPace, picked: float, day: int) -> None:
        started = self.clock.now()
        try:
            await self.submit(rec)
        finally:
            pace.posting -= rec.messages
            self._posts.release()
            self.pacer.changed.set()
            if rec.state in (PLANNED, FAILED):  # not sent (refused, or never begun)
                pace.give_back(day, rec.messages)
        sender, now = pace.number, self.clock.now()
        pace.posted(now - picked)  # a cut and a wait for a POST slot delay processing too
        self.pacer.answered(sender, rec, started, now)
        if (pace.learn and not pace.learned and sender not in self._probed
                    and rec.batch_id is not None and self.a2p is not None):
            self._probed.add(sender)
            task = asyncio.create_task(self._probe(rec))
            self._probes.add(task)
            task.add_done_callback(self._probes.discard)

    def _pick(self, lane: deque[BatchRecord], pace: SenderPace, now: float
              ) -> tuple[int, int] | float:
        """Which batch of the lane to send now, and how many of its messages; or, when
        none may go, the clock time to look again (inf: when the server progresses).

        Batches go in order, except that one whose recipients may not be reached
        while it would be processed waits and lets later ones (other hours) by.
        With quiet hours a batch goes only while its recipients' window is open,
        cut so that its expected processing (after what the sender has queued,
        at its pace) ends before the window closes."""
        again, again_zone = math.inf, None
        pace.waiting = None
        seen: set[str | None] = set()
        for i, rec in enumerate(lane):
            if rec.zone in seen:
                continue
            seen.add(rec.zone)
            # One of unknown outcome that is not on the server goes whole, or waits.
            whole = rec.messages if _unknown(rec) else 1
            n = pace.want(rec.messages)
            if whole > 1 and n < whole and pace.queued + pace.posting == 0:
                n = whole  # larger than the horizon (a slower pace than it was sent at)
            if n < whole:
                return math.inf  # the sender is full: every batch waits for progress
            backlog = (pace.queued + pace.posting) / pace.rate
            if pace.cap is not None:
                room, midnight = pace.cap_room(now)
                n = min(n, room)
                if pace.cap < pace.rate * 86_400:
                    # The cap can bind within a day at this pace: a batch is timed to be
                    # processed before midnight (so what a day counts is that day's).
                    n = min(n, int(((midnight - now - pace.lead) / SLOWER - backlog)
                                   * pace.rate))
                if n < max(whole, min(rec.messages, MIN_BATCH)):
                    pace.waiting = Wait("cap", midnight)
                    return midnight  # the cap (or the day) is used up: every batch waits
            if self.quiet is None or rec.zone is None:
                return i, n
            span = self.quiet.open_span(rec.zone, now)
            if span is None:
                opens = self.quiet.next_open(rec.zone, now)
            else:
                fits = int(((span[1] - now - pace.lead) / SLOWER - backlog) * pace.rate)
                if fits >= max(whole, min(n, MIN_BATCH)):
                    return i, min(n, fits)
                opens = self.quiet.next_open(rec.zone, span[1])
            if opens is not None and opens < again:
                again, again_zone = opens, rec.zone
        if again_zone is not None:
            pace.waiting = Wait("window", again, again_zone)
        return again

    async def _wait(self, until: float = math.inf) -> None:
        """Until something that can change a pick happens (`pacer.changed`: progress
        seen, a POST answered, a batch arrived, planning ended, a stop) or the clock
        reads `until`. Nothing else wakes a lane: a waiting job costs no CPU."""
        self.pacer.changed.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.clock.timeout(until)):
                await self.pacer.changed.wait()

    async def _probe(self, rec: BatchRecord) -> None:
        """Look at a sender's first batch soon after: a fast sender is learned at once."""
        assert self.a2p is not None and rec.batch_id is not None
        for delay in PROBES:
            await asyncio.sleep(delay)
            try:
                info = await self.a2p.get_batch(rec.batch_id)
            except ApiError:
                return
            rec.processed, rec.status = max(rec.processed or 0, info.processed), info.status
            if self.on_probe is not None:
                self.on_probe(rec)
            if info.completed or self.pacer.senders[self.sender_of(rec)].learned:
                return


def _unknown(rec: BatchRecord) -> bool:
    """Its POST's outcome is unknown (it may be on the server): never cut."""
    return rec.state not in (PLANNED, FAILED)
