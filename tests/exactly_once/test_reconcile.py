"""Lost answers while the server rejects recipients the client let through.

Reconciliation must recognise a stored batch whichever of its recipients the
server rejected: the emulator's ledger is the judge (0 duplicates).
"""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from support import cfg, opts, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator, FaultConfig


async def test_lost_answers_with_server_side_rejections(write_csv: Callable[..., Path]) -> None:
    n = 20_000
    numbers = [us_number(i) for i in range(n)]
    rnd = random.Random(7)
    refused = set(rnd.sample(numbers, n // 10))  # valid +1 numbers the "carrier" refuses
    path = write_csv([[x] for x in numbers])
    faults = FaultConfig(seed=3, lost_answer_share=0.3, paths=(CREATE_BATCH,))
    async with Emulator(cfg(invalid_numbers=refused, faults=faults)) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=opts(max_batch_bytes=8192, concurrency=3, reconcile_after=0.2),
        )
        ledger = emu.ledger()
        lost = ledger["faults"].get("lost_answer", 0)
    assert report.status == "completed", report.message
    assert lost >= 10  # the situation under test happened often
    assert ledger["duplicates"] == 0, ledger
    assert ledger["accepted"] == n - len(refused)
    assert report.counts.accepted == n - len(refused)
    assert report.reconciled == lost
    assert report.resent_after_check == 0


async def test_lost_answer_of_an_all_rejected_batch_is_counted_once(
    write_csv: Callable[..., Path],
) -> None:
    n = 600
    numbers = [us_number(i) for i in range(n)]
    path = write_csv([[x] for x in numbers])
    faults = FaultConfig(seed=5, lost_answer_share=0.4, paths=(CREATE_BATCH,))
    async with Emulator(cfg(invalid_numbers=set(numbers), faults=faults)) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=opts(max_batch_bytes=2048, concurrency=2, reconcile_after=0.1),
        )
        ledger = emu.ledger()
    assert ledger["faults"].get("lost_answer", 0) >= 2
    assert ledger["accepted"] == 0 and ledger["duplicates"] == 0
    assert report.status == "completed", report.message
    assert report.counts.rejected == n and len(report.rejected) == n
    assert sorted(r.line for r in report.rejected) == list(range(2, n + 2))
    notes = [w for w in report.warnings if "every recipient rejected" in w]
    assert len(notes) == report.resent_after_check == ledger["faults"]["lost_answer"]


def test_sample_positions_spread_over_the_batch() -> None:
    from engine.planner import sample_positions

    assert sample_positions(3, 15) == [0, 1, 2]
    picks = sample_positions(1000, 15)
    assert len(picks) == 15 and picks[0] == 0 and picks[-1] == 999
    gaps = {b - a for a, b in itertools.pairwise(picks)}
    assert max(gaps) - min(gaps) <= 1


async def test_a_batch_still_unknown_after_the_resends_is_uncertain_everywhere(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    """Memory and journal agree: the report and the journal both say `uncertain`."""
    from aiohttp import web
    from faults.servers import Forward, Proxy

    from engine.journal import Journal

    async def not_a_batch(request: web.Request, forward: Forward) -> web.Response | None:
        # A 2xx that is not a batch: it may have been stored, so it is never simply resent.
        if request.method == "POST" and request.path.endswith("/batches"):
            await request.read()
            return web.Response(status=200, text="<html>maintenance</html>")
        return None

    path = write_csv([[us_number(i)] for i in range(30)])
    journal = tmp_path / "j.journal"
    async with Emulator(cfg()) as emu, Proxy(emu.url, hook=not_a_batch).running() as url:
        via = dataclasses.replace(emu.credentials, server_url=url)
        report = await engine.send_bulk(path, text="Hi", credentials=via, journal=journal,
                                        options=opts(reconcile_after=0.05))
        ledger = emu.ledger()
    assert report.status == "failed" and "outcome still unknown" in report.message
    assert ledger["accepted"] == 0
    assert [b.status for b in report.batches] == ["uncertain"]
    with Journal.open(str(journal)) as j:
        assert [b.state for b in j.batches()] == ["uncertain"]


def test_the_journal_refuses_an_illegal_state_change(tmp_path: Path) -> None:
    from engine.errors import JournalError
    from engine.journal import COMPLETED, SUBMITTED, BatchRecord, Journal, legal

    assert legal("planned", "submitting") and legal("uncertain", "submitted")
    assert not legal("completed", "submitting") and not legal("planned", "submitted")
    with Journal.create(str(tmp_path / "j.journal"), {}) as j:
        rec = BatchRecord(1, 0, 10, 2, 2, 3, 2, 10, "+14155550100", "+14155550101")
        j.add_batch(rec, [])
        with pytest.raises(JournalError, match="illegal state change planned -> completed"):
            j.record(rec, state=COMPLETED)
        assert rec.state == "planned"  # memory follows the journal, never leads it
        with pytest.raises(ValueError, match="not a batch field"):
            j.record(rec, **{"state=state, batch_id": SUBMITTED})
