"""Lost answers while the server rejects recipients the client let through.

Reconciliation must recognise a stored batch whichever of its recipients the
server rejected: the emulator's ledger is the judge (0 duplicates).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path

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
