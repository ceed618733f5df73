"""Pacing against the realistic emulator in compressed time: at most the horizon
queued per sender, a stop leaves at most that in flight, a resume finishes it
with every recipient once. Time is the emulator's (the engine is given its clock)."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import Callable
from pathlib import Path

from support import opts, until, us_number

import engine
from engine.clock import Clock
from engine.emulator import CREATE_BATCH, Emulator, EmulatorConfig, FaultConfig, RateLimitConfig
from engine.job import Job
from engine.journal import FAILED, Journal

TOLL_FREE = "+18885550100"  # 8 messages/s
LOCAL = "+16505550100"  # 1 message/s
SCALE = 600.0  # emulated seconds per real second
HORIZON = 120.0  # seconds of each sender's pace: 960 toll-free, 120 local


def _config() -> EmulatorConfig:
    return EmulatorConfig(time_scale=SCALE, rate_limits=RateLimitConfig(enabled=False),
                          receipt_delay=0.0, late_receipt_share=0.0, pending_failure_share=0.0,
                          delivery_failure_share=0.0, daily_cap=None)


def _queued(emu: Emulator) -> dict[str, int]:
    """Messages accepted by the emulator and not yet processed, per sender, now."""
    now = emu.runtime.clock()
    out: dict[str, int] = {}
    for b in emu.runtime.state.batches:
        out[b.sender] = out.get(b.sender, 0) + b.size - b.processed(now)
    return out


def _attempts(journal: Path) -> int:
    """POSTs the job has begun, as its journal records them (before each POST)."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT coalesce(sum(attempts), 0) FROM batches").fetchone()[0])
    finally:
        db.close()


async def _watch(emu: Emulator, peak: dict[str, int]) -> None:
    while True:
        for sender, n in _queued(emu).items():
            peak[sender] = max(peak.get(sender, 0), n)
        await asyncio.sleep(0.005)


async def test_a_stop_leaves_at_most_the_horizon_in_flight_and_a_resume_finishes(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    rows = 9_000
    path = write_csv([[us_number(i)] for i in range(rows)])
    journal = tmp_path / "job.journal"
    async with Emulator(_config()) as emu:
        clock = Clock(now=emu.runtime.clock, scale=SCALE)
        options = opts(horizon=HORIZON, poll_interval=0.02, max_poll_interval=0.05)
        peak: dict[str, int] = {}
        watcher = asyncio.create_task(_watch(emu, peak))
        job = Job(str(path), text="Hi", sender=f"{TOLL_FREE},{LOCAL}",
                  credentials=emu.credentials, journal=str(journal), options=options,
                  progress=None, clock=clock)
        attempts_at_stop = 0

        async def stop_later() -> None:
            nonlocal attempts_at_stop
            await clock.sleep(900.0)  # 15 emulated minutes in
            attempts_at_stop = _attempts(journal)
            job.stop()

        stopper = asyncio.create_task(stop_later())
        stopped = await job.run()
        await stopper
        left = _queued(emu)
        ledger = emu.ledger()
        assert stopped.status == "interrupted", stopped.message
        # Nothing beyond the horizon was ever queued, so nothing beyond it is left (the
        # pace is learned: a measure over polls a loaded machine delays is a few % off).
        limit = {TOLL_FREE: 8 * HORIZON, LOCAL: 1 * HORIZON}
        for sender, most in limit.items():
            assert peak.get(sender, 0) <= most * 1.1, (sender, peak)
            assert left.get(sender, 0) <= most * 1.1, (sender, left)
        assert 0 < ledger["accepted"] < rows
        # The stop was prompt: every POST the server got was begun (journaled) before
        # it. Counted, not timed (at 600x a real-time bound is a fraction of a second on
        # a busy machine). Not `==`: a POST journaled just before the stop may still be
        # refused by the client ("not sent: the job is stopping").
        assert emu.ledger()["requests"][CREATE_BATCH] <= attempts_at_stop

        resumed = await engine.resume(journal, credentials=emu.credentials, clock=clock)
        watcher.cancel()
        ledger = emu.ledger()
    assert resumed.status == "completed", resumed.message
    assert (ledger["accepted"], ledger["duplicates"]) == (rows, 0)
    assert resumed.counts.accepted == rows
    for sender, most in limit.items():
        assert peak[sender] <= most * 1.1, (sender, peak)
        assert peak[sender] >= most * 0.5  # and the senders were kept busy


async def test_a_batch_waiting_for_a_post_slot_at_the_stop_stays_planned(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    """`hvsms stop` promises no new batches: the one queued behind a slot is not begun."""
    path = write_csv([[us_number(i)] for i in range(300)])
    journal = tmp_path / "job.journal"
    # One POST at a time, each held 2 s: the next batch waits for the slot meanwhile.
    slow = FaultConfig(latency=2.0, paths=(CREATE_BATCH,))
    async with Emulator(dataclasses.replace(_config(), faults=slow)) as emu:
        job = Job(str(path), text="Hi", sender=TOLL_FREE, credentials=emu.credentials,
                  journal=str(journal), progress=None,
                  options=opts(max_batch_messages=100, concurrency=1, poll_interval=0.02,
                               max_poll_interval=0.05))
        run = asyncio.create_task(job.run())

        async def stop_during_the_first_post() -> None:
            await until(lambda: CREATE_BATCH in emu.ledger()["in_flight"], "the first POST")
            job.stop()

        await stop_during_the_first_post()
        report = await asyncio.wait_for(run, 60)
    assert report.status == "interrupted", report.message
    with Journal.open(str(journal)) as j:
        states = [b.state for b in j.batches()]
    assert states.count(FAILED) == 0, states
    assert _attempts(journal) == 1  # only the POST in flight at the stop was begun


async def test_without_a_horizon_every_batch_goes_at_once(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(2_000)])
    async with Emulator(_config()) as emu:
        report = await engine.send_bulk(
            path, text="Hi", sender=LOCAL, credentials=emu.credentials,
            options=opts(horizon=None, max_batch_messages=500, poll_interval=0.02,
                         max_poll_interval=0.05),
            clock=Clock(now=emu.runtime.clock, scale=SCALE))
        sizes = [b.size for b in emu.runtime.state.batches]
    assert report.status == "completed", report.message
    assert sizes == [500] * 4


async def test_progress_shows_each_senders_pace_and_time_left(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    from engine.cli import _sender_text
    from engine.job import Progress, SenderProgress

    rows = 3_000
    path = write_csv([[us_number(i)] for i in range(rows)])
    seen: list[tuple[SenderProgress, ...]] = []

    def progress(p: Progress) -> None:
        if p.senders:
            seen.append(p.senders)

    async with Emulator(_config()) as emu:
        clock = Clock(now=emu.runtime.clock, scale=SCALE)
        report = await engine.send_bulk(
            path, text="Hi", sender=[TOLL_FREE, LOCAL], credentials=emu.credentials,
            options=opts(horizon=HORIZON, poll_interval=0.02, max_poll_interval=0.05),
            progress=progress, clock=clock)
    assert report.status == "completed", report.message
    last = {sp.number: sp for sp in seen[-1]}
    assert set(last) == {TOLL_FREE, LOCAL}
    assert sum(sp.planned for sp in last.values()) == rows
    assert all(sp.processed == sp.planned and sp.eta == 0 for sp in last.values())
    # Each number's pace is its own, learned from what the server processed.
    assert 6 <= (last[TOLL_FREE].rate or 0) <= 10 and 0.7 <= (last[LOCAL].rate or 0) <= 1.3
    mid = [s for s in seen if all(sp.rate and 0 < sp.processed < sp.planned for sp in s)]
    assert mid, "no snapshot while both numbers were sending"
    sp = mid[0][0]
    assert sp.eta == (sp.planned - sp.processed) / (sp.rate or 1)
    assert _sender_text(sp).startswith(f"{sp.number} {sp.processed:,}/{sp.planned:,} processed, ")
