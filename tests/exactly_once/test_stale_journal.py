"""A journal younger than the server: a copy of a killed job's journal without its
`-wal` file, or one restored from a backup taken before the last POSTs. The resume
finds on the server what the journal does not record, and sends nothing twice
(issue 25, item 4)."""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import cfg, rc_env, submitted_batches, until, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator, FaultConfig

RUNNER = """
import asyncio, sys, engine
opts = engine.JobOptions(max_batch_bytes=4096, concurrency=1, poll_interval=0.05,
                         max_poll_interval=0.3, reconcile_after=0.3, horizon=None)
async def main():
    await engine.send_bulk(sys.argv[1], text="Hello", journal=sys.argv[2], options=opts)
asyncio.run(main())
"""


def _backup(journal: Path, to: Path) -> None:
    """A consistent copy of the live journal (SQLite's online backup)."""
    src = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    dst = sqlite3.connect(to)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


@pytest.mark.parametrize("how", ["copy without -wal", "backup"])
async def test_a_stale_journal_sends_nothing_twice(
    write_csv: Callable[..., Path], tmp_path: Path, how: str,
) -> None:
    numbers = [us_number(i) for i in range(1_000)]
    path = write_csv([[n] for n in numbers])
    journal = tmp_path / "j.journal"
    config = cfg(faults=FaultConfig(latency=0.1, paths=(CREATE_BATCH,)))
    async with Emulator(config) as emu:
        env = rc_env(emu.credentials)
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, str(path), str(journal), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        if how == "backup":
            await until(lambda: submitted_batches(journal) >= 2, "two batches")
            _backup(journal, tmp_path / "backup.journal")
        await until(lambda: submitted_batches(journal) >= 5, "five batches")
        child.send_signal(signal.SIGKILL)
        await child.wait()
        if how == "backup":  # restored in its place
            stale = journal
            for side in ("-wal", "-shm"):
                Path(f"{journal}{side}").unlink(missing_ok=True)
            shutil.copy(tmp_path / "backup.journal", stale)
        else:
            stale = tmp_path / "stale.journal"
            shutil.copy(journal, stale)  # the file alone: what the -wal holds is missing
        assert submitted_batches(stale) < 5
        before = emu.ledger()["accepted"]
        report = await engine.resume(stale, credentials=emu.credentials)
        ledger = emu.ledger()
        counts = emu.state.lookup(numbers)
    assert before > 0
    assert report.status == "completed", report.message
    assert ledger["duplicates"] == 0
    assert ledger["accepted"] == len(numbers)
    assert sorted({v for per in counts.values() for v in per.values()}) == [1]
    assert any("although the journal did not record them" in w for w in report.warnings)
