"""Results share the rate budget with sending and polling: no 429, POSTs not held back."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support import cfg, us_number

import engine
from engine.emulator import RateLimitConfig

from .helpers import final_failed, opts


async def test_results_fetched_within_a_tight_budget_without_a_429(
    write_csv: Callable[..., Path], tmp_path: Path, emulator: Callable[..., object],
) -> None:
    # 30 requests per 3 s: 30 results pages compete with 6 POSTs and the polls.
    limits = RateLimitConfig(light=30, window=3.0, auth=50)
    emu = await emulator(cfg(rate_limits=limits))  # type: ignore[operator]
    source = write_csv([[us_number(i)] for i in range(30_000)])
    report = await engine.send_bulk(
        source, text="Hi", credentials=emu.credentials, journal=tmp_path / "job.journal",
        options=opts(max_batch_messages=5000, light_limit=30, concurrency=2),
    )
    assert report.status == "completed", report.message
    # A page per 1,000 messages of each batch (pacing may cut a first, probing batch).
    pages = sum(-(-b.accepted // 1000) for b in report.batches if b.id)
    assert report.results["complete"] and report.results["pages"] == pages >= 30
    assert report.requests["rate_limited"] == 0
    assert report.requests["statuses"].get("429", 0) == 0
    assert len(report.failed) == final_failed(report)
