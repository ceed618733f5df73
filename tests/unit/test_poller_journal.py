"""The poller writes batch state through `Journal.record`: after every poll the
in-memory `BatchRecord` and its journal row say the same (issue 12: one writer)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.api.a2p import A2P, BatchInfo, StatusCounts
from engine.api.http import ApiClient
from engine.errors import ServerError
from engine.journal import COMPLETED, SUBMITTED, SUBMITTING, BatchRecord, Journal
from engine.poller import Poller, refresh_counts

SENDER = "+16505550100"
# The journaled fields of a batch (the rest is planning's in-memory cache).
JOURNALED = [f.name for f in dataclasses.fields(BatchRecord)][:24]


class _Server(A2P):
    """Batches that progress one poll at a time: `rounds[i]` is what poll i shows."""

    def __init__(self, rounds: list[dict[str, tuple[int, str]]], *,
                 statuses_fail: bool = False) -> None:
        super().__init__(ApiClient("http://127.0.0.1:9"))
        self.rounds = rounds
        self.polls = 0
        self.statuses_fail = statuses_fail

    def _info(self, batch_id: str, processed: int, status: str) -> BatchInfo:
        return BatchInfo(id=batch_id, sender=SENDER, batch_size=3, processed=processed,
                         status=status, creation_time="", cost=0.03 if processed == 3 else None)

    async def get_batch(self, batch_id: str) -> BatchInfo:
        (info,) = [b async for b in self.list_batches(sender=SENDER, date_from="")
                   if b.id == batch_id]
        return info

    async def list_batches(self, *, sender: str, date_from: str,
                           statuses: tuple[str, ...] = ()) -> AsyncIterator[BatchInfo]:
        shown = self.rounds[min(self.polls, len(self.rounds) - 1)]
        self.polls += 1
        for batch_id, (processed, status) in shown.items():
            yield self._info(batch_id, processed, status)

    async def statuses(self, *, batch_id: str, date_from: str | None = None) -> StatusCounts:
        if self.statuses_fail:
            raise ServerError(500, None, "statuses unavailable", endpoint="statuses")
        return StatusCounts(delivered=2, delivery_failed=1, failed_codes={"SMS-CAR-411": 1})


def _submitted(journal: Journal, seq: int) -> BatchRecord:
    rec = BatchRecord(seq, seq * 100, seq * 100 + 100, seq * 3, seq * 3, seq * 3 + 2, 3, 100,
                      "+14155550100", "+14155550102")
    journal.add_batch(rec, [])
    journal.record(rec, state=SUBMITTING, attempts=1)
    journal.record(rec, state=SUBMITTED, batch_id=f"b{seq}", accepted=3, rejected=0,
                   processed=0, status="Processing")
    return rec


def _agree(journal: Journal, recs: list[BatchRecord]) -> None:
    rows = {row.seq: row for row in journal.batches()}
    for rec in recs:
        want = {name: getattr(rows[rec.seq], name) for name in JOURNALED}
        assert {name: getattr(rec, name) for name in JOURNALED} == want


def _poller(a2p: A2P, journal: Journal, seen: list[tuple[int, Any]]) -> Poller:
    def on_update(rec: BatchRecord) -> None:
        _agree(journal, [rec])  # at every step, not only at the end
        seen.append((rec.seq, rec.state))

    return Poller(a2p=a2p, journal=journal, sender=SENDER, since="2026-01-01T00:00:00Z",
                  base=0.001, cap=0.005, on_update=on_update)


async def test_after_polling_records_and_journal_rows_agree(tmp_path: Path) -> None:
    with Journal.create(str(tmp_path / "j.journal"), {}) as journal:
        recs = [_submitted(journal, 1), _submitted(journal, 2)]
        server = _Server([{"b1": (1, "Processing"), "b2": (0, "Processing")},
                          {"b1": (3, "Completed"), "b2": (2, "Processing")},
                          {"b2": (3, "Completed")}])
        seen: list[tuple[int, Any]] = []
        poller = _poller(server, journal, seen)
        for rec in recs:
            poller.track(rec)
        poller.close()
        await asyncio.wait_for(poller.run(), 10)
        _agree(journal, recs)
    assert [r.state for r in recs] == [COMPLETED, COMPLETED]
    assert [(r.processed, r.delivered, r.failed, r.cost, r.error_codes) for r in recs] == [
        (3, 2, 1, 0.03, "SMS-CAR-411=1")] * 2
    assert (1, COMPLETED) in seen and (2, SUBMITTED) in seen and (2, COMPLETED) in seen


async def test_a_failed_count_read_leaves_record_and_row_alike(tmp_path: Path) -> None:
    """The batch is processed but its counts cannot be read: neither the record nor
    the row may say more than the other (the poller used to set `processed` first)."""
    with Journal.create(str(tmp_path / "j.journal"), {}) as journal:
        rec = _submitted(journal, 1)
        server = _Server([{"b1": (3, "Completed")}], statuses_fail=True)
        poller = _poller(server, journal, [])
        poller.track(rec)
        poller.close()
        with pytest.raises(ServerError):
            await asyncio.wait_for(poller.run(), 10)
        _agree(journal, [rec])
        assert rec.state == SUBMITTED


async def test_refresh_counts_changes_record_and_row_together(tmp_path: Path) -> None:
    with Journal.create(str(tmp_path / "j.journal"), {}) as journal:
        rec = _submitted(journal, 1)
        server = _Server([])
        info = server._info("b1", 3, "Completed")
        counts = await refresh_counts(server, journal, rec, info, since="2026-01-01T00:00:00Z")
        _agree(journal, [rec])
    assert (counts.delivered, counts.failed, counts.pending) == (2, 1, 0)
    assert rec.state == COMPLETED and rec.error_codes == "SMS-CAR-411=1"
