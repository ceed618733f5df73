"""A job sent from a sender pool, against the emulator over loopback: each
recipient once, from its own sticky number, in batches of one sender each;
stopped and resumed, with lost answers, and on a journal older than pools."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from support import cfg, opts, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator, FaultConfig
from engine.job import Job, sender_pool

POOL = ("+16505550100", "+16505550101", "+18885550100")
ROWS = 3_000


def _numbers() -> list[str]:
    return [us_number(i) for i in range(ROWS)]


def _file(write_csv: Callable[..., Path]) -> Path:
    numbers = _numbers()
    # Dirty rows between the good ones: duplicates and nonsense, dropped by hygiene.
    rows = [[n] for n in numbers[:1500]] + [[numbers[3]], ["555-12"]] * 5 + [
        [n] for n in numbers[1500:]]
    return write_csv(rows)


def _senders_of(emu: Emulator, numbers: list[str]) -> dict[str, str]:
    """Which sender the emulator saw each number from (each exactly once)."""
    seen = emu.lookup(numbers)
    out: dict[str, str] = {}
    for sender, counts in seen.items():
        for number, n in counts.items():
            if n:
                assert n == 1, (sender, number, n)
                assert number not in out, number
                out[number] = sender
    return out


async def test_each_recipient_once_from_its_sticky_sender_in_batches_of_one_sender(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    path = _file(write_csv)
    numbers = _numbers()
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", sender=list(POOL),
                                        credentials=emu.credentials,
                                        journal=tmp_path / "a.journal",
                                        options=opts(max_batch_messages=400))
        first = _senders_of(emu, numbers)
        ledger = emu.ledger()
        stored = [(b.sender, b.size) for b in emu.runtime.state.batches]
    assert report.status == "completed", report.message
    c = report.counts
    assert (c.read, c.accepted, c.duplicates, c.invalid) == (ROWS + 10, ROWS, 5, 5)
    assert ledger["duplicates"] == 0
    assert report.sender == ",".join(POOL)
    expected = sender_pool(",".join(POOL), False)
    assert expected is not None
    assert first == {n: expected.sender_of(n) for n in numbers}
    per_sender = {s: sum(n for b, n in stored if b == s) for s in POOL}
    # Shared by pace: toll-free 8/s, the two local numbers 1/s each.
    assert 2200 < per_sender[POOL[2]] < 2600 and all(
        200 < per_sender[s] < 400 for s in POOL[:2]), per_sender
    assert all(n <= 400 for _, n in stored)

    # The same pool in another order, another run, another server: the same senders.
    async with Emulator(cfg()) as emu:
        again = await engine.send_bulk(path, text="Hi", sender=",".join(reversed(POOL)),
                                       credentials=emu.credentials,
                                       journal=tmp_path / "b.journal",
                                       options=opts(max_batch_messages=700), again=True)
        assert again.status == "completed", again.message
        assert _senders_of(emu, numbers) == first


async def test_a_pool_stopped_midway_resumes_with_every_recipient_once(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    path = _file(write_csv)
    journal = tmp_path / "job.journal"
    # Lost answers on a quarter of the POSTs: each is reconciled against its own
    # sender's batches, never resent blindly.
    faults = FaultConfig(seed=5, lost_answer_share=0.25, paths=(CREATE_BATCH,))
    async with Emulator(cfg(faults=faults)) as emu:
        options = opts(max_batch_messages=150, concurrency=2, reconcile_after=0.05)
        job: Job | None = None

        def stop_after_a_few(p: engine.Progress) -> None:
            if p.batches_submitted >= 6 and job is not None:
                job.stop()

        job = Job(str(path), text="Hi", sender=",".join(POOL), credentials=emu.credentials,
                  journal=str(journal), options=options, progress=stop_after_a_few)
        stopped = await job.run()
        assert stopped.status == "interrupted", stopped.message
        assert 0 < emu.ledger()["accepted"] < ROWS
        resumed = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
        who = _senders_of(emu, _numbers())
    assert resumed.status == "completed", resumed.message
    assert ledger["duplicates"] == 0
    assert ledger["accepted"] == ROWS == resumed.counts.accepted
    # Every lost answer was found on the server (by the job or, stopped first, its resume).
    assert resumed.reconciled + stopped.reconciled == ledger["faults"]["lost_answer"] > 0
    pool = sender_pool(",".join(POOL), False)
    assert pool is not None
    assert all(pool.sender_of(n) == s for n, s in who.items())


async def test_a_journal_from_before_pools_opens_and_resumes(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    path = write_csv([[us_number(i)] for i in range(600)])
    journal = tmp_path / "old.journal"
    async with Emulator(cfg()) as emu:
        job: Job | None = None

        def stop_early(p: engine.Progress) -> None:
            if p.batches_submitted >= 1 and job is not None:
                job.stop()

        job = Job(str(path), text="Hi", sender=POOL[0], credentials=emu.credentials,
                  journal=str(journal), options=opts(max_batch_messages=100, concurrency=1),
                  progress=stop_early)
        assert (await job.run()).status == "interrupted"
        db = sqlite3.connect(journal)  # as an hvsms without sender pools wrote it
        db.execute("ALTER TABLE batches DROP COLUMN sender")
        db.commit()
        db.close()
        resumed = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
    assert resumed.status == "completed", resumed.message
    assert (ledger["accepted"], ledger["duplicates"]) == (600, 0)


async def test_from_all_sends_from_every_a2p_number_of_the_account(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(300)])
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", sender="all",
                                        credentials=emu.credentials,
                                        options=opts(match_area_code=True))
        senders = {b.sender for b in emu.runtime.state.batches}
    assert report.status == "completed", report.message
    # The emulator's account: two local and one toll-free A2P number (and a plain SMS one).
    assert senders == set(POOL)
    assert report.sender == ",".join(POOL)  # in the account's order
