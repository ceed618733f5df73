"""A batch the server finds too large (413) is sent as two halves, never again whole."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support import SENDER, cfg, opts, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator
from engine.journal import SPLIT, Journal


async def test_413_splits_the_batch_and_every_recipient_is_sent_once(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    good = [us_number(i) for i in range(600)]
    rows: list[list[str]] = []
    for i, number in enumerate(good):
        rows.append([number, f"code {i}"])
        if i % 97 == 0:
            rows.append(["not a number", "x"])  # dropped rows inside the batches that split
            rows.append([number, "again"])  # a duplicate
    path = write_csv(rows, header=("to", "code"))
    journal = tmp_path / "j.journal"
    async with Emulator(cfg(max_body_bytes=4000)) as emu:
        report = await engine.send_bulk(
            path, text="Your code is {code}", credentials=emu.credentials, journal=journal,
            options=opts(max_batch_bytes=14_000, concurrency=2),
        )
        ledger = emu.ledger()
        counts = emu.state.lookup(good)[SENDER]
    assert report.status == "completed", report.message
    assert ledger["status_counts"].get("413", 0) >= 2  # whole bodies refused, then halves
    assert ledger["duplicates"] == 0 and [n for n in good if counts[n] != 1] == []
    assert report.counts.accepted == report.counts.submitted == len(good)
    assert report.counts.invalid == report.counts.duplicates == 7
    assert len(report.dropped) == 14 and len({d.line for d in report.dropped}) == 14
    assert any("HTTP 413" in w for w in report.warnings)
    with Journal.open(str(journal)) as j:
        batches = j.batches()
    split = [b for b in batches if b.state == SPLIT]
    assert split and all(b.batch_id is None for b in split)
    sent = [b for b in batches if b.state != SPLIT]
    assert sum(b.messages for b in sent) == len(good)
    assert max(b.bytes for b in sent) <= 4000
    assert ledger["largest_body"] == max(b.bytes for b in sent)  # sizes are exact
    assert ledger["requests"][CREATE_BATCH] == len(sent) + len(split)
