"""A paced job waiting on a slow sender does nothing until something can change:
no lane wakes to look again while the server makes no progress (issue 24).

Counted, not timed: the engine reads its clock (`Clock.now`) whenever it
decides anything about pacing, so a job whose clock is not read while it
waits is not working while it waits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from support import cfg, opts, us_number

from engine.clock import Clock
from engine.emulator import Emulator
from engine.job import Job

TOLL_FREE = "+18885550100"
WAIT = 3.0  # real seconds the job waits with nothing to do


async def test_a_job_waiting_for_progress_does_not_look_again_until_there_is_some(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    path = write_csv([[us_number(i)] for i in range(20)])
    reads = 0

    def now() -> float:
        nonlocal reads
        reads += 1
        return time.time()

    # The server processes nothing while the test runs; the job's fixed pace (not
    # learnt: no probes) and horizon allow 10 in flight, so the second batch waits.
    async with Emulator(cfg(processing_rate=1e-6)) as emu:
        submitted = asyncio.Event()
        job = Job(str(path), text="Hi", sender=TOLL_FREE, credentials=emu.credentials,
                  journal=str(tmp_path / "job.journal"), clock=Clock(now=now),
                  progress=lambda p: submitted.set() if p.batches_submitted else None,
                  options=opts(rate=0.01, horizon=1000.0, poll_interval=60.0,
                               max_poll_interval=60.0, fetch_delivery=False, drain_timeout=0.5))
        run = asyncio.create_task(job.run())
        await asyncio.wait_for(submitted.wait(), 60)
        await asyncio.sleep(0.2)  # the first POST's answer is handled
        before = reads
        await asyncio.sleep(WAIT)
        during = reads - before
        job.stop()
        report = await asyncio.wait_for(run, 60)
        ledger = emu.ledger()
    assert report.status == "interrupted", report.message
    assert ledger["accepted"] == 10  # one batch of the horizon, the other waits
    assert during == 0, f"the clock was read {during} times while nothing could change"
