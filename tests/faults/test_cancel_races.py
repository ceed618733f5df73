"""A stopping job must stop: cancellation is never swallowed by a task that waits for work.

When a job fails (say the reader meets an unclosed quote while batches are in
flight) its TaskGroup cancels the poller once. If the poller swallows that
cancellation it keeps waiting for batches no one will ever hand it, and
`send_bulk` never returns. Seen as an occasional hang (2 runs in 6) of a job
whose file went bad on line 300,002; reproduced here deterministically.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from engine.api.a2p import BatchInfo
from engine.journal import BatchRecord, Journal
from engine.poller import Poller


class _NeverDone:
    """A2P stand-in whose batch is always still processing."""

    async def get_batch(self, batch_id: str) -> BatchInfo:
        return BatchInfo(id=batch_id, sender="+16505550100", batch_size=10, processed=1,
                         status="Processing", creation_time="", cost=None)

    async def list_batches(self, **_: Any) -> Any:
        yield await self.get_batch("b1")


async def test_poller_cancelled_as_it_is_woken_stops(tmp_path: Path) -> None:
    journal = Journal.create(str(tmp_path / "j.journal"), {"source": "x.csv"})
    try:
        poller = Poller(a2p=_NeverDone(), journal=journal, sender="+16505550100",  # type: ignore[arg-type]
                        since="2026-01-01T00:00:00Z", base=30.0, cap=60.0,
                        on_update=lambda rec: None)
        poller.track(BatchRecord(seq=1, start=0, stop=1, start_line=2, first_line=2,
                                 last_line=2, messages=10, bytes=100, first_to="+1",
                                 last_to="+1", batch_id="b1", accepted=10))
        task = asyncio.create_task(poller.run())
        for _ in range(5):
            await asyncio.sleep(0)  # the poller now waits (30 s) for a wake or its interval
        poller.close()  # wakes it (close or track: the same event)...
        await asyncio.sleep(0)  # ...the wait completes...
        task.cancel()  # ...and the TaskGroup cancels it in the same iteration
        done, _ = await asyncio.wait({task}, timeout=2)
        if not done:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert done, "the poller swallowed its cancellation and kept running"
        assert task.cancelled()
    finally:
        journal.close()
