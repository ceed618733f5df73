"""Submitting planned batches, and reconciling POSTs whose outcome is unknown.

The journal records the intent (`submitting`, with its time) before each POST
and the batch id right after the answer. A POST that may have been processed
(no answer after the body was sent, a 5xx other than 503) is never simply
resent: the batch is marked `uncertain` and reconciled against the server's
own list of the sender's batches created since the intent. Up to 15 of the
batch's recipients, spread over it, are looked up among each candidate's
messages in one request; since a job never holds a number twice, one hit
identifies the batch, whichever recipients the server rejected. A batch the
server still does not show after `reconcile_after` seconds is resent.

This needs one assumption: nobody else sends from the same number, to the
same recipients, in the same window.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence

from .api.a2p import A2P, BatchInfo
from .api.body import StreamBody
from .errors import ApiError, AuthError, BodySizeMismatch, InputChanged, OutcomeUnknown
from .journal import FAILED, PLANNED, SUBMITTED, SUBMITTING, UNCERTAIN, BatchRecord, Journal
from .planner import BodyBuilder
from .report import RejectedRow

__all__ = ["Submitter"]

_COUNT = re.compile(r"\b(at most|exceed\w*|limit|too many|maximum)\b")
log = logging.getLogger("engine.submitter")

MAX_RESENDS = 3


def too_many(exc: ApiError) -> bool:
    """The server refused a batch for its size: 413, or a 400 that names the count
    of messages (a per-request count limit, "at most 10,000 per request")."""
    if exc.status == 413:
        return True
    text = exc.message.lower()
    return exc.status == 400 and "messages" in text and _COUNT.search(text) is not None


class Submitter:
    """Sends a job's planned batches, each exactly once, and records each step in
    the journal (`Journal.record`) before the next: the intent before the POST,
    the batch id or the refusal after it. Several tasks may share one."""

    def __init__(
        self,
        *,
        a2p: A2P,
        journal: Journal,
        builder: BodyBuilder,
        sender: str,
        since: str,
        reconcile_after: float,
        on_submitted: Callable[[BatchRecord], None],
    ) -> None:
        self.a2p = a2p
        self.journal = journal
        self.builder = builder
        self.sender = sender
        self.since = since
        self.reconcile_after = reconcile_after
        self.on_submitted = on_submitted
        self._claim = asyncio.Lock()
        self.reconciled = 0
        self.resent = 0
        self.splits = 0
        self.failures: list[str] = []
        self._absent: set[int] = set()  # of unknown outcome, looked for, not on the server
        self._unrecorded: list[BatchInfo] = []  # on the server, unknown to a resumed journal
        self._adopted: set[str] = set()  # batch ids adopted in this run
        self.unrecorded_found: list[int] = []  # planned batches found among `_unrecorded`
        self.notes: list[str] = []  # for the report: what reconciliation could not settle
        # Called once before a batch's first POST (`engine.prune`: opt-outs told by events).
        self.before_post: Callable[[BatchRecord], Awaitable[None]] | None = None

    async def unrecorded(self, senders: Sequence[str], why: str) -> int:
        """A journal that may be older than the server (`why`: copied, perhaps without
        its `-wal` file; restored from a backup): the senders' batches since the job
        began that it does not know are kept, and each planned batch is looked for
        among them before it is sent. Returns how many there are."""
        known = {b.batch_id for b in self.journal.batches() if b.batch_id}
        listed = 0
        for sender in senders:
            async for cand in self.a2p.list_batches(sender=sender, date_from=self.since):
                listed += 1
                if cand.id not in known and cand.batch_size > 0:
                    self._unrecorded.append(cand)
        if self._unrecorded:
            posts = self.journal.meta("posts") or "0"
            log.warning("the journal may be older than the server (%s); it records %s "
                        "POST(s), and the server lists %d batch(es) of this sender since the "
                        "job began, %d of them unknown to the journal: each batch is looked "
                        "for among those before it is sent",
                        why, posts, listed, len(self._unrecorded))
        return len(self._unrecorded)

    async def _sent_before(self, rec: BatchRecord) -> bool:
        """A planned batch found among the server's batches the journal does not know:
        recorded as sent (adopted), not sent again."""
        cands = [c for c in self._unrecorded
                 if c.id not in self._adopted and c.batch_size <= rec.messages]
        if not cands:
            return False
        samples = await self.builder.sample(rec, self.journal.dropped_lines(rec.seq))
        for cand in cands:
            if await self._holds_any(cand.id, samples):
                self.journal.record(rec, state=SUBMITTING, intent=time.time())
                self._adopt(rec, cand)
                self.unrecorded_found.append(rec.seq)
                return True
        return False

    async def find(self, rec: BatchRecord) -> bool:
        """A batch whose outcome is unknown (found so on resume): True if it is on the
        server (adopted); else it is remembered as not there, to be sent when its turn
        comes (through the same checks as a planned batch)."""
        # The POST may just have gone: the server is given time to list it.
        if await self._reconcile(rec, posted_at=time.monotonic()):
            return True
        if rec.state == SUBMITTING:  # another process's intent: this one's comes next
            self.journal.record(rec, state=UNCERTAIN)
        self._absent.add(rec.seq)
        return False

    async def submit(self, rec: BatchRecord) -> None:
        """Submit (or, when its outcome is unknown, reconcile) one batch."""
        if (rec.state in (SUBMITTING, UNCERTAIN) and rec.seq not in self._absent
                and await self.find(rec)):
            return
        if rec.state == PLANNED and self._unrecorded and await self._sent_before(rec):
            return
        if self.before_post is not None and rec.state in (PLANNED, FAILED):
            await self.before_post(rec)
        for _ in range(MAX_RESENDS + 1):
            skip = self.journal.dropped_lines(rec.seq)
            self.journal.record(rec, state=SUBMITTING, attempts=rec.attempts + 1,
                                intent=time.time())
            posted_at = time.monotonic()
            try:
                info = await self.a2p.create_batch(self._body(rec, skip))
            except BodySizeMismatch as exc:
                # Rebuilt from the file as planned, yet not the planned size.
                more = "larger" if exc.larger else "smaller"
                raise InputChanged(
                    f"a body came out {more} than planned: the input changed") from None
            except OutcomeUnknown as exc:
                log.warning("batch %d: %s", rec.seq, exc)
                self.journal.record(rec, state=UNCERTAIN)
                if await self._reconcile(rec, posted_at=posted_at):
                    return
                self.resent += 1
                continue
            except ApiError as exc:
                if too_many(exc) and rec.messages > 1:
                    await self._split(rec, skip)
                    return
                # Refused: the server did not act on it; a resume sends it again.
                self.journal.record(rec, state=FAILED, status=str(exc)[:500])
                self.failures.append(f"batch {rec.seq} (lines {rec.first_line}-{rec.last_line}): {exc}")
                log.error("batch %d refused: %s", rec.seq, exc)
                if isinstance(exc, AuthError):
                    raise  # every other request would be refused too: stop the job
                return
            await self._accepted(rec, info, skip)
            return
        # Still unknown: left `uncertain`, so a resume reconciles it before anything else.
        self.failures.append(f"batch {rec.seq}: outcome still unknown after {MAX_RESENDS} resends")

    async def _split(self, rec: BatchRecord, skip: set[int]) -> None:
        """Too large for the server (413, or a 400 naming the count): send two halves,
        never the same body again."""
        first, second = await self.builder.halves(rec, skip)
        self.journal.split(rec, first, second)
        self.splits += 1
        log.warning("batch %d (%d bytes) is too large for the server (413): sent as two "
                    "halves, %d and %d", rec.seq, rec.bytes, first.seq, second.seq)
        await self.submit(first)
        await self.submit(second)

    def _body(self, rec: BatchRecord, skip: set[int]) -> Callable[[], StreamBody]:
        return lambda: StreamBody(self.builder.pieces(rec, skip), rec.bytes)

    async def _accepted(self, rec: BatchRecord, info: BatchInfo, skip: set[int]) -> None:
        self.journal.record(
            rec, state=SUBMITTED, batch_id=info.id, accepted=info.batch_size,
            rejected=len(info.rejected), status=info.status, processed=info.processed,
            cost=info.cost,  # a batch processed at once may say its cost already
        )
        if info.rejected:
            lines = await self.builder.lines(rec, skip)
            self.journal.add_rejected(
                RejectedRow(
                    lines[r.index - 1] if 0 < r.index <= len(lines) else 0,
                    r.to, r.error_code, r.description, info.id,
                )
                for r in info.rejected
            )
        self.on_submitted(rec)

    async def _reconcile(self, rec: BatchRecord, posted_at: float) -> bool:
        """Find the batch on the server; True if found and adopted."""
        samples = await self.builder.sample(rec, self.journal.dropped_lines(rec.seq))
        # Give the server time to show the batch in its list.
        await asyncio.sleep(max(0.0, posted_at + self.reconcile_after - time.monotonic()))
        empty = 0
        async with self._claim:
            known = {b.batch_id for b in self.journal.batches() if b.batch_id}
            # The batch's own sender's batches (a pool's batch names its sender).
            async for cand in self.a2p.list_batches(sender=rec.sender or self.sender,
                                                     date_from=self._since(rec)):
                if cand.id in known or cand.batch_size > rec.messages:
                    continue
                if cand.batch_size == 0:
                    empty += 1  # all rejected: nothing to find it by, nothing was sent
                    continue
                if await self._holds_any(cand.id, samples):
                    self._adopt(rec, cand)
                    return True
        if empty:
            # Resending cannot text anyone twice: the copy on the server sent nothing.
            self.notes.append(
                f"batch {rec.seq}: the server may hold an earlier copy of it with every "
                "recipient rejected; it was sent again, and only this copy's rejections count"
            )
        log.warning("batch %d: not on the server; to be sent again", rec.seq)
        return False

    def _adopt(self, rec: BatchRecord, cand: BatchInfo) -> None:
        log.warning("batch %d: found on the server as %s; adopted", rec.seq, cand.id)
        self._adopted.add(cand.id)
        self.reconciled += 1
        self.journal.record(rec, state=SUBMITTED, batch_id=cand.id, accepted=cand.batch_size,
                            rejected=rec.messages - cand.batch_size, status=cand.status,
                            processed=cand.processed)
        if rec.rejected:
            self.notes.append(
                f"batch {rec.seq} (lines {rec.first_line}-{rec.last_line}): its answer was "
                f"lost; {rec.rejected} rejected recipient(s) are counted but cannot be listed"
            )
        self.on_submitted(rec)

    def _since(self, rec: BatchRecord) -> str:
        """Candidates are created after the intent (less 5 minutes for clock skew)."""
        if rec.intent is None:
            return self.since
        t = dt.datetime.fromtimestamp(rec.intent - 300, dt.UTC)
        return max(self.since, t.isoformat(timespec="seconds").replace("+00:00", "Z"))

    async def _holds_any(self, batch_id: str, numbers: Sequence[str]) -> bool:
        async for _ in self.a2p.list_messages(
            batch_id=batch_id, phone_numbers=numbers, date_from=self.since, per_page=1,
            max_pages=1,
        ):
            return True
        return False
