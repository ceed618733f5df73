"""Caps that survive: what a number sent today is counted for every job on this
machine (the state directory), so neither a stop, a kill -9 and a resume, nor a
second job on the same number, takes the number past its daily cap.

The kill tests run hvsms in child processes against an emulator in this one, on
the real (UTC) clock: the whole test runs within one day of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from support import SENDER, cfg, opts, until, us_number

import engine
from engine.clock import Clock
from engine.emulator import CREATE_BATCH, Emulator, EmulatorConfig, FaultConfig, RateLimitConfig

TOLL_FREE = "+18885550100"


def _today(emu: Emulator, sender: str = SENDER) -> int:
    """What the emulator's ledger says `sender` sent today (UTC)."""
    today = dt.datetime.now(dt.UTC).date().isoformat()
    per_day: dict[str, dict[str, int]] = emu.ledger()["per_day"]
    return per_day.get(sender, {}).get(today, 0)


def _slow_posts() -> EmulatorConfig:
    """Every POST takes a moment, so a test can stop a job between its batches."""
    return cfg(faults=FaultConfig(latency=0.25, paths=(CREATE_BATCH,)))


def _env(emu: Emulator) -> dict[str, str]:
    c = emu.credentials
    return {**os.environ, "RC_SERVER_URL": c.server_url, "RC_APP_CLIENT_ID": c.client_id,
            "RC_APP_CLIENT_SECRET": c.client_secret, "RC_USER_JWT": c.jwt,
            "PYTHONUNBUFFERED": "1"}


_CHILDREN: list[asyncio.subprocess.Process] = []


async def _hvsms(emu: Emulator, *args: str) -> asyncio.subprocess.Process:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", *args, env=_env(emu),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    _CHILDREN.append(child)
    return child


@pytest.fixture(autouse=True)
async def _no_child_left() -> AsyncIterator[None]:
    """A failing test leaves no hvsms process behind (one waits for midnight)."""
    yield
    while _CHILDREN:
        child = _CHILDREN.pop()
        if child.returncode is None:
            child.kill()
            await child.wait()


async def _until_sent(emu: Emulator, child: asyncio.subprocess.Process, at_least: int) -> None:
    """Until the number sent `at_least` today, or the child ended (sent all it would)."""
    await until(lambda: _today(emu) >= at_least or child.returncode is not None,
                f"{at_least} sent", timeout=120)


async def _end(child: asyncio.subprocess.Process, sig: int) -> None:
    if child.returncode is None:
        child.send_signal(sig)
    await asyncio.wait_for(child.wait(), 60)


@pytest.mark.slow
async def test_kill_and_resume_the_same_day_keeps_the_daily_cap(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    cap, rows = 5000, 8000
    path = write_csv([[us_number(i)] for i in range(rows)])
    journal = str(tmp_path / "j.journal")
    flags = ("--daily-cap", str(cap), "--max-batch-messages", "500", "--concurrency", "1",
             "--window", "any")
    async with Emulator(_slow_posts()) as emu:
        first = await _hvsms(emu, "send", str(path), "--text", "Hi", "--journal", journal,
                             "--yes", *flags)
        await _until_sent(emu, first, 3000)
        await _end(first, signal.SIGKILL)
        killed_at = _today(emu)
        resumed = await _hvsms(emu, "resume", journal, "--yes")
        await _until_sent(emu, resumed, cap)
        await _end(resumed, signal.SIGTERM)
        sent = _today(emu)
    assert 3000 <= killed_at < cap
    assert sent == cap  # the rest waits for tomorrow


@pytest.mark.slow
async def test_stop_kill_and_sigterm_with_resumes_keep_a_daily_cap_of_3000(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    """12,000 recipients, --daily-cap 3000, one UTC day: stop (SIGINT), kill -9 and
    SIGTERM, each followed by a resume: the number sends 3,000 that day, no more."""
    cap, rows = 3000, 12_000
    path = write_csv([[us_number(i)] for i in range(rows)])
    journal = str(tmp_path / "j.journal")
    async with Emulator(_slow_posts()) as emu:
        child = await _hvsms(emu, "send", str(path), "--text", "Hi", "--journal", journal,
                             "--yes", "--daily-cap", str(cap), "--max-batch-messages", "200",
                             "--concurrency", "1", "--window", "any")
        for at_least, sig in ((800, signal.SIGINT), (1600, signal.SIGKILL),
                              (2400, signal.SIGTERM)):
            await _until_sent(emu, child, at_least)
            await _end(child, sig)
            child = await _hvsms(emu, "resume", journal, "--yes")
        await _until_sent(emu, child, cap)
        await _end(child, signal.SIGTERM)
        sent = _today(emu)
        accepted = emu.ledger()["accepted"]
    assert sent == accepted == cap


async def test_two_jobs_on_one_number_at_once_share_its_daily_cap(
    write_csv: Callable[..., Path],
) -> None:
    cap, scale = 3000, 36_000.0
    files = [write_csv([[us_number(i + k * 10_000)] for i in range(2500)], name=f"{k}.csv")
             for k in range(2)]
    config = EmulatorConfig(time_scale=scale, rate_limits=RateLimitConfig(enabled=False),
                            receipt_delay=0.0, late_receipt_share=0.0, pending_failure_share=0.0,
                            delivery_failure_share=0.0, daily_cap=None)
    async with Emulator(config) as emu:
        now = emu.runtime.clock()
        emu.advance((now // 86_400 + 1) * 86_400 - 4 * 3600 - now)  # 20:00 UTC
        clock = Clock(now=emu.runtime.clock, scale=scale)

        async def job(path: Path) -> Any:
            return await engine.send_bulk(
                path, text="Hi", sender=TOLL_FREE, credentials=emu.credentials, clock=clock,
                options=opts(window="any", daily_cap=cap, poll_interval=0.01,
                             max_poll_interval=0.02, max_batch_messages=500))

        reports = await asyncio.gather(*(job(f) for f in files))
        per_day = emu.ledger()["per_day"][TOLL_FREE]
    assert [r.status for r in reports] == ["completed", "completed"]
    assert sum(r.counts.accepted for r in reports) == 5000
    assert max(per_day.values()) == cap  # never more, and the first day to the full
    assert sum(per_day.values()) == 5000
