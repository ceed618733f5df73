"""The API's limits as documented: 10,000 recipients per request by default, a 400
that names the count splits the batch (like a 413), and a batch whose status ends
`Sent` (the spec's other processed status) is done."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from support import cfg, opts, us_number

import engine
from engine.emulator import Emulator


async def test_a_batch_that_ends_sent_is_done(write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(i)] for i in range(300)])
    async with Emulator(cfg(batch_done_status="Sent")) as emu:
        report = await asyncio.wait_for(engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=opts(max_batch_messages=100)), 60)
    assert report.status == "completed", report.message
    assert report.counts.accepted == 300
    assert {b.status for b in report.batches} == {"Sent"}


async def test_ten_thousand_a_request_by_default(write_csv: Callable[..., Path]) -> None:
    rows = 25_000
    path = write_csv([[us_number(i)] for i in range(rows)])
    async with Emulator(cfg(max_batch_messages=10_000)) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == rows and ledger["status_counts"].get("400", 0) == 0
    sizes = [b.messages for b in report.batches]
    assert max(sizes) == 10_000 and sum(sizes) == rows


async def test_a_400_naming_the_count_splits_the_batch(write_csv: Callable[..., Path]) -> None:
    rows = 1000
    path = write_csv([[us_number(i)] for i in range(rows)])
    async with Emulator(cfg(max_batch_messages=300)) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_messages=None))
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == rows and ledger["duplicates"] == 0
    assert ledger["status_counts"]["400"] >= 1
    assert max(b.accepted for b in report.batches) <= 300
    assert any("400 naming the count" in w for w in report.warnings)
