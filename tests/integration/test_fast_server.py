"""A server that processes every batch at once and says so in the POST's answer,
with no `X-Rate-Limit-*` headers (the emulator with instant processing,
`post_shows_progress`, rate limits off): hvsms learns its pace from the first
batch and sends the rest in the fewest, fullest batches (issue 24)."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from support import cfg, us_number

import engine
from engine.emulator import Emulator
from engine.pacing import DEFAULT_HORIZON, THROUGHPUT_BY_TYPE

TOLL_FREE = "+18885550100"


async def test_a_server_that_answers_processed_is_learnt_from_the_first_batch(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    first = int(THROUGHPUT_BY_TYPE["TollFree"] * DEFAULT_HORIZON)  # 4,800: the type's pace
    rows = 4 * first
    path = write_csv([[us_number(i)] for i in range(rows)])
    config = cfg(processing_rate=math.inf, post_shows_progress=True)
    async with Emulator(config) as emu:
        # Default options (50 requests a minute: no headers say otherwise), quick polls.
        report = await engine.send_bulk(
            path, text="Hi", sender=TOLL_FREE, credentials=emu.credentials,
            journal=tmp_path / "job.journal",
            options=engine.JobOptions(fetch_delivery=False, poll_interval=0.05))
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == rows and ledger["duplicates"] == 0
    sizes = sorted((b.messages for b in report.batches), reverse=True)
    # The first batch is what the number's type allows; the answer shows it processed
    # at once, so the rest goes in the fewest batches a request may hold (RingCentral's
    # 10,000 recipients), not three more of the first's size.
    limit = engine.JobOptions().max_batch_messages
    assert limit is not None
    posts = 1 + math.ceil((rows - first) / limit)
    assert ledger["requests"]["createA2PSMS"] == posts, sizes
    assert first in sizes and max(sizes) <= limit and sum(sizes) == rows
    # Their answers said processed: nothing to poll (a poll would spend the API budget
    # the POSTs need); each one's delivery counts are read once.
    polls = {op: ledger["requests"].get(op, 0) for op in ("readA2PBatch", "listA2PBatches")}
    assert polls == {"readA2PBatch": 0, "listA2PBatches": 0}
    assert ledger["requests"]["aggregateA2PSMSStatuses"] == posts
    assert report.counts.processed == rows
