"""Recipients who opt out during a job stay out of the batches not yet posted.

An opt-out event (`engine.events`) names a sender and a recipient. Before a
batch of that sender is first posted, its rows with that number become
dropped rows (`opted_out`, with their line, as the plan's own opt-outs are)
and the batch is shrunk in the journal to the exact body that will be sent.
A batch is looked at again only when new opt-outs arrived since it was last
looked at. A batch whose every recipient opted out is sent as it is: the
service refuses those messages itself (SMS-RC-413), and an empty batch is not
a request the API takes.
"""

from __future__ import annotations

import logging

from .events import LiveOptOuts
from .journal import BatchRecord, Journal
from .planner import BodyBuilder
from .report import DroppedRow

__all__ = ["OPTED_OUT_LIVE", "Pruner"]

log = logging.getLogger("engine.events")

OPTED_OUT_LIVE = "opted out during the job"


class Pruner:
    """`await pruner(rec)` before a batch's first POST (`Submitter.before_post`)."""

    def __init__(self, *, journal: Journal, builder: BodyBuilder, opt_outs: LiveOptOuts,
                 sender: str) -> None:
        self.journal, self.builder, self.opt_outs = journal, builder, opt_outs
        self.sender = sender
        self.pruned = 0  # rows kept out so far
        self._checked: dict[int, int] = {}  # seq -> opt-out version it was checked at

    async def __call__(self, rec: BatchRecord) -> None:
        numbers = self.opt_outs.of(rec.sender or self.sender)
        if not numbers or self._checked.get(rec.seq) == self.opt_outs.version:
            return
        self._checked[rec.seq] = self.opt_outs.version
        skip = self.journal.dropped_lines(rec.seq)
        found = await self.builder.without(rec, skip, numbers)
        if found is None:
            return
        rows, shrunk = found
        self.journal.add_dropped((DroppedRow(line, number, OPTED_OUT_LIVE), "opted_out")
                                 for line, number in rows)
        self.journal.record(rec, messages=shrunk.messages, bytes=shrunk.bytes,
                            first_to=shrunk.first_to, last_to=shrunk.last_to)
        self.pruned += len(rows)
        log.info("batch %d: %d recipient(s) opted out during the job, kept out", rec.seq,
                 len(rows), extra={"event": "opted_out_pruned", "batch": rec.seq,
                                   "rows": len(rows)})
