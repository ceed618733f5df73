"""A batch whose outcome is unknown, re-sent on resume, passes the same quiet-hours
check as a planned one: found not to be on the server at night, it waits for the
morning (issue 25, item 1)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from faults.servers import Forward, Proxy
from support import batch_states, opts, outside_window, until

import engine
from engine.clock import Clock
from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig
from engine.job import Job
from engine.quiet_hours import QuietHours

TOLL_FREE = "+18885550100"  # 8 messages/s
SCALE = 7200.0
EASTERN = ZoneInfo("America/New_York")


def _to(now: float, hour: int) -> float:
    """Seconds from `now` to the next hour:00 in New York."""
    local = dt.datetime.fromtimestamp(now, EASTERN)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += dt.timedelta(days=1)
    return target.timestamp() - now



async def test_a_batch_resent_after_a_hang_waits_for_the_window(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    numbers = [f"+1212200{i:04d}" for i in range(2_000)]  # New York
    path = write_csv([[n] for n in numbers])
    journal = tmp_path / "j.journal"
    hung = asyncio.Event()
    posts = 0

    async def hook(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal posts
        if request.method == "POST" and request.path.endswith("/a2p-sms/batches"):
            posts += 1
            if posts == 2:  # the second POST hangs before the server sees it
                hung.set()
                await asyncio.sleep(3600)
        return None

    config = EmulatorConfig(time_scale=SCALE, rate_limits=RateLimitConfig(enabled=False),
                            receipt_delay=0.0, late_receipt_share=0.0,
                            pending_failure_share=0.0, daily_cap=None)
    options = opts(window="08:00-21:00", rate=8.0, horizon=60.0, reconcile_after=0.2,
                   drain_timeout=0.2, poll_interval=0.01, max_poll_interval=0.02)
    async with Emulator(config) as emu:
        clock = Clock(now=emu.runtime.clock, scale=SCALE)
        emu.advance(_to(emu.runtime.clock(), 20))  # 20:00 in New York
        async with Proxy(emu.url, hook=hook).running() as url:
            job = Job(str(path), text="Hi", sender=TOLL_FREE,
                      credentials=dataclasses.replace(emu.credentials, server_url=url),
                      journal=str(journal), options=options, progress=None, clock=clock)
            run = asyncio.create_task(job.run())
            await until(hung.is_set, "the second POST")
            job.stop()  # as good as a kill -9 here: the intent is journaled, no answer
            first = await run
        assert first.status == "interrupted", first.message
        assert batch_states(journal).get("submitting") == 1
        emu.advance(_to(emu.runtime.clock(), 23))  # resumed at 23:00 in New York
        report = await engine.resume(journal, credentials=emu.credentials, clock=clock)
        outside, total, _ = outside_window(emu, QuietHours())
        counts = emu.state.lookup(numbers)[TOLL_FREE]
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert outside == 0
    assert total == ledger["accepted"] == len(numbers) and ledger["duplicates"] == 0
    assert [n for n in numbers if counts[n] != 1] == []
