"""Delivery results: every message's status from the messages list, page by page.

A completed batch's messages are listed 1,000 a page. Each page goes into the
journal in one transaction with the token of the next page, so a job stopped
halfway through goes on from the next page, never from the first. Only what
was not delivered (failed, or still pending) is stored, with its status and
error code; delivered messages are counted. Once a batch's pages are all in,
each stored message is matched to its CSV line by replaying the batch's byte
range of the file (a message is identified by its batch and recipient).

Pages are background requests (`ApiClient.request(background=True)`): they
only use spare room in the rate budget shared with sending and polling, so
they never delay a POST or cause a 429.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .api.a2p import A2P, Message
from .codes import PENDING_CODES
from .errors import ApiError, HvsmsError
from .journal import COMPLETED, FAILED_STATUSES, BatchRecord, Journal, ResultState
from .planner import BodyBuilder

__all__ = ["PageResult", "ResultsFetcher", "classify"]

log = logging.getLogger("engine.delivery")

DELIVERED = "Delivered"
# Results matched to lines per replay of a batch: bounds memory when many are
# undelivered (say, receipts still pending), at the cost of another replay.
RESOLVE_CHUNK = 200_000


@dataclass(frozen=True, slots=True)
class PageResult:
    """What one page of the messages list said (pure)."""

    rows: list[tuple[str, str, str]]  # (recipient, status, error_code) of the undelivered
    delivered: int
    failed: int
    pending: int


def classify(messages: Iterable[Message]) -> PageResult:
    """Count a page's messages and keep the ones not delivered."""
    rows: list[tuple[str, str, str]] = []
    delivered = failed = pending = 0
    for msg in messages:
        status, code = msg.status, msg.error_code
        if status == DELIVERED:
            delivered += 1
            continue
        rows.append((msg.to, status or "Unknown", code))
        if status in FAILED_STATUSES and code not in PENDING_CODES:
            failed += 1
        else:
            pending += 1  # Queued, Sent, or SMS-CAR-104/199: no final status yet
    return PageResult(rows, delivered, failed, pending)


class ResultsFetcher:
    """Fetches the results of completed batches, one batch at a time, as they are offered."""

    def __init__(
        self,
        *,
        a2p: A2P,
        journal: Journal,
        builder: BodyBuilder,
        since: str,
        on_page: Callable[[BatchRecord, ResultState], None] | None = None,
    ) -> None:
        self.a2p = a2p
        self.journal = journal
        self.builder = builder
        self.since = since
        self.on_page = on_page
        self.states = journal.result_states()
        self.pages = 0  # requests made by this fetcher
        self.warnings: list[str] = []
        self._queue: asyncio.Queue[BatchRecord | None] = asyncio.Queue()
        self._offered: set[int] = set()

    def needs(self, rec: BatchRecord) -> bool:
        st = self.states.get(rec.seq)
        return (rec.state == COMPLETED and rec.batch_id is not None
                and (st is None or not (st.complete and st.resolved)))

    def offer(self, rec: BatchRecord, *, refresh: bool = False) -> None:
        """Queue a completed batch; `refresh`: fetch it again if messages were pending."""
        st = self.states.get(rec.seq)
        if refresh and st is not None and st.complete and st.pending:
            self.states[rec.seq] = self.journal.restart_results(rec.seq)
        if rec.seq not in self._offered and self.needs(rec):
            self._offered.add(rec.seq)
            self._queue.put_nowait(rec)

    def close(self) -> None:
        """No more batches will be offered: `run` returns once the queue is done."""
        self._queue.put_nowait(None)

    async def run(self) -> None:
        """Fetch offered batches until closed. A failure ends fetching with a warning:
        the job itself went fine, and `hvsms results` can finish the rest."""
        while (rec := await self._queue.get()) is not None:
            try:
                await self.fetch(rec)
            except HvsmsError as exc:
                self.warnings.append(f"results not complete: batch {rec.seq}: {exc}")
                log.warning("results of batch %d: %s", rec.seq, exc)
                return

    async def fetch(self, rec: BatchRecord) -> None:
        assert rec.batch_id is not None
        st = self.states.get(rec.seq) or ResultState(rec.seq)
        self.states[rec.seq] = st
        restarted = False
        while not st.complete:
            try:
                got = await self.a2p.messages_page(
                    batch_id=rec.batch_id, date_from=self.since, token=st.next_token,
                    background=True,
                )
            except ApiError as exc:
                if st.next_token is None or restarted or not 400 <= exc.status < 500:
                    raise  # (a request not sent because the job stops is no refusal)
                # A page token the server no longer takes: start the batch over.
                log.warning("results of batch %d: %s; fetching them again", rec.seq, exc)
                st = self.states[rec.seq] = self.journal.restart_results(rec.seq)
                restarted = True
                continue
            self.pages += 1
            page = classify(got.messages)
            nxt = got.next_token
            self.journal.add_results_page(st, page.rows, delivered=page.delivered,
                                          failed=page.failed, pending=page.pending,
                                          next_token=nxt)
            log.info("results of batch %d: page %d", rec.seq, st.pages, extra={
                "event": "results_page", "batch": rec.seq, "page": st.pages,
                "delivered": page.delivered, "failed": page.failed, "pending": page.pending,
                "last": nxt is None})
            if self.on_page is not None:
                self.on_page(rec, st)
        listed = st.delivered + st.failed + st.pending
        if rec.accepted is not None and listed != rec.accepted:
            self.warnings.append(f"batch {rec.seq}: the messages list has {listed} messages, "
                                 f"the batch accepted {rec.accepted}")
        if not st.resolved:
            await self._resolve(rec, st)

    async def _resolve(self, rec: BatchRecord, st: ResultState) -> None:
        """Match the batch's stored results to CSV lines by replaying its byte range,
        `RESOLVE_CHUNK` results per pass (usually one: a few percent fail)."""
        after, unmatched = 0, 0
        while chunk := self.journal.unresolved_results(rec.seq, after=after,
                                                       limit=RESOLVE_CHUNK):
            after = chunk[-1][0]
            want: dict[str, list[int]] = {}
            for rowid, number in chunk:
                want.setdefault(number, []).append(rowid)
            pairs = await self._lines(rec, want)
            unmatched += sum(map(len, want.values()))
            self.journal.resolve_results(st, pairs, done=False)
        if unmatched:
            self.warnings.append(f"batch {rec.seq}: {unmatched} listed message(s) match no "
                                 "row of the batch")
        self.journal.resolve_results(st, ())

    async def _lines(self, rec: BatchRecord, want: dict[str, list[int]]) -> list[tuple[int, int]]:
        """(line, rowid) for the wanted recipients of the batch; found ones leave `want`."""
        pairs: list[tuple[int, int]] = []
        b = self.builder
        skip = self.journal.dropped_lines(rec.seq)
        async for block in b.source.blocks(b.header, b.select, start=rec.start, end=rec.stop,
                                           first_line=rec.start_line):
            clean = b.hygiene.clean(block, skip=skip)
            for line, number in zip(clean.lines, clean.numbers, strict=True):
                ids = want.get(number)
                if ids:
                    pairs.append((line, ids.pop(0)))
        return pairs
