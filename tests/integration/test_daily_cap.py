"""A daily cap per sender, against the compressed-time emulator (which enforces
the same cap and fails whatever passes it): never exceeded, the rest waits for
the next (UTC) day, and the job finishes by itself."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from support import opts, us_number

import engine
from engine.clock import Clock
from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig

TOLL_FREE = "+18885550100"  # 8 messages/s
SCALE = 36_000.0
CAP = 2_000


async def test_a_daily_cap_is_never_exceeded_and_the_rest_goes_the_next_days(
    write_csv: Callable[..., Path],
) -> None:
    rows = 5_000
    path = write_csv([[us_number(i)] for i in range(rows)])
    config = EmulatorConfig(time_scale=SCALE, rate_limits=RateLimitConfig(enabled=False),
                            receipt_delay=0.0, late_receipt_share=0.0, pending_failure_share=0.0,
                            delivery_failure_share=0.0, daily_cap=CAP)
    async with Emulator(config) as emu:
        now = emu.runtime.clock()
        emu.advance((now // 86_400 + 1) * 86_400 - 4 * 3600 - now)  # 20:00 UTC
        report = await engine.send_bulk(
            path, text="Hi", sender=TOLL_FREE, credentials=emu.credentials,
            options=opts(window="any", daily_cap=CAP, poll_interval=0.01,
                         max_poll_interval=0.02),
            clock=Clock(now=emu.runtime.clock, scale=SCALE))
        per_day: Counter[int] = Counter()
        for b in emu.runtime.state.batches:
            at = b.processed_at_many(np.arange(b.size, dtype=np.int64))
            per_day.update((at // 86_400).astype(np.int64).tolist())
    assert report.status == "completed", report.message
    assert report.counts.accepted == rows
    assert report.counts.failed == 0  # nothing past the emulator's cap (SMS-RC-403)
    assert max(per_day.values()) <= CAP
    assert len(per_day) == 3 and sorted(per_day.values())[-2:] == [CAP, CAP]
