"""Quiet hours against the compressed-time emulator: a job that meets the night
waits, nothing is processed outside a recipient's window, and it carries on by
itself in the morning. The engine runs on the emulator's clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

from support import opts, outside_window

import engine
from engine.clock import Clock
from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig
from engine.quiet_hours import QuietHours

LOCAL = "+16505550100"  # 1 message/s
SCALE = 7200.0
PACIFIC, EASTERN = ZoneInfo("America/Los_Angeles"), ZoneInfo("America/New_York")


def _config() -> EmulatorConfig:
    return EmulatorConfig(time_scale=SCALE, rate_limits=RateLimitConfig(enabled=False),
                          receipt_delay=0.0, late_receipt_share=0.0, pending_failure_share=0.0,
                          daily_cap=None)


def _to(now: float, zone: ZoneInfo, hour: int, minute: int) -> float:
    """Seconds from `now` to the next hour:minute in `zone`."""
    local = dt.datetime.fromtimestamp(now, zone)
    target = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= local:
        target += dt.timedelta(days=1)
    return target.timestamp() - now


async def test_a_job_that_meets_the_night_waits_and_goes_on_in_the_morning(
    write_csv: Callable[..., Path],
) -> None:
    pacific = [f"+1415200{i:04d}" for i in range(4_000)]
    eastern = [f"+1212200{i:04d}" for i in range(400)]
    rows = [[n] for pair in zip(pacific[:400], eastern, strict=True) for n in pair]
    path = write_csv(rows + [[n] for n in pacific[400:]])
    async with Emulator(_config()) as emu:
        # 20:00 in California, 23:00 in New York: an hour left for the first (at
        # 1 a second, not enough), the night already for the second.
        emu.advance(_to(emu.runtime.clock(), PACIFIC, 20, 0))
        start = emu.runtime.clock()
        report = await engine.send_bulk(
            path, text="Hi", sender=LOCAL, credentials=emu.credentials,
            # The number's own pace, not learned: at this scale a stall of the machine
            # is minutes of the clock, too noisy to measure a pace over (see test_pacing).
            options=opts(window="08:00-21:00", poll_interval=0.01, max_poll_interval=0.02,
                         rate=1.0),
            clock=Clock(now=emu.runtime.clock, scale=SCALE))
        outside, total, times = outside_window(emu, QuietHours())
        end = emu.runtime.clock()
    assert report.status == "completed", report.message
    assert total == report.counts.accepted == 4_400
    assert outside == 0
    ordered = sorted(times)
    evening = [t for t in ordered if t - start < 3 * 3600]
    # California's last hour at 1 a second, less the start (planning, login: a
    # tenth of a real second is 12 minutes here).
    assert 300 <= len(evening) <= 3_600
    morning = ordered[len(evening)]
    assert dt.datetime.fromtimestamp(morning, EASTERN).hour == 8  # New York first, at 8
    # By itself, the same morning: the last message processed before 10:00 in
    # California (the job's own end adds its last poll, which a loaded machine
    # stretches at this scale).
    assert ordered[-1] - start < 14 * 3600
    assert end >= ordered[-1]
    assert any("quiet hours: 08:00-21:00" in w for w in report.warnings)


async def test_window_any_sends_at_night_and_an_emulator_is_not_held_by_default(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[f"+1415200{i:04d}"] for i in range(300)])
    async with Emulator(_config()) as emu:
        emu.advance(_to(emu.runtime.clock(), PACIFIC, 2, 0))  # 02:00 in California
        clock = Clock(now=emu.runtime.clock, scale=SCALE)
        start = emu.runtime.clock()
        for window in ("any", None):  # None: off on an emulator on loopback
            report = await engine.send_bulk(
                path, text="Hi", sender=LOCAL, credentials=emu.credentials, again=True,
                options=opts(window=window, poll_interval=0.01, max_poll_interval=0.02),
                clock=clock)
            assert report.status == "completed", report.message
        assert emu.runtime.clock() - start < 2 * 3600  # 600 messages at 1/s, not the morning
