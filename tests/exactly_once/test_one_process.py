"""One process per journal, whatever name reaches it: a symlink, a hard link or a
relative path to a running job's journal is refused (exit 2), and the job sends
every recipient once (issue 25, item 2)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from support import cfg, rc_env, submitted_batches, until, us_number

from engine.emulator import CREATE_BATCH, Emulator, FaultConfig
from engine.errors import JournalError
from engine.journal import Journal

RUNNER = """
import asyncio, sys, engine
opts = engine.JobOptions(max_batch_bytes=4096, concurrency=1, poll_interval=0.05,
                         max_poll_interval=0.3, reconcile_after=0.3, horizon=None)
async def main():
    r = await engine.send_bulk(sys.argv[1], text="Hello", journal=sys.argv[2], options=opts)
    print(r.status, r.counts.accepted, flush=True)
    sys.exit(0 if r.status == "completed" else 1)
asyncio.run(main())
"""


async def test_a_link_to_a_running_journal_is_refused(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    numbers = [us_number(i) for i in range(600)]
    path = write_csv([[n] for n in numbers])
    journal = tmp_path / "j.journal"
    (tmp_path / "sub").mkdir()
    symlink, hard = tmp_path / "sub" / "link.journal", tmp_path / "hard.journal"
    config = cfg(faults=FaultConfig(latency=1.0, paths=(CREATE_BATCH,)))
    async with Emulator(config) as emu:
        env = rc_env(emu.credentials)
        first = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, str(path), str(journal), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await until(lambda: submitted_batches(journal) >= 1, "the first batch")
        symlink.symlink_to(journal)
        os.link(journal, hard)
        seconds = []
        for name, cwd in ((str(symlink), None), (str(hard), None),
                          ("../j.journal", str(tmp_path / "sub"))):
            second = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "engine", "resume", name, "--yes", env=env, cwd=cwd,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            seconds.append((name, second))
        results = [(name, *(await p.communicate()), p.returncode) for name, p in seconds]
        _, err = await asyncio.wait_for(first.communicate(), 120)
        ledger = emu.ledger()
        counts = emu.state.lookup(numbers)
    for name, _out, err2, code in results:
        assert code == 2, (name, err2.decode()[-2000:])
        assert "in use by another hvsms process" in err2.decode(), name
    assert first.returncode == 0, err.decode()[-2000:]
    assert ledger["duplicates"] == 0
    assert ledger["accepted"] == len(numbers)
    assert sorted({v for per in counts.values() for v in per.values()}) == [1]


def test_an_intent_of_another_process_is_not_renewed(tmp_path: Path) -> None:
    """`submitting -> submitting` is legal only for the process that wrote the intent."""
    from engine.journal import SUBMITTING, UNCERTAIN, BatchRecord

    path = str(tmp_path / "j.journal")
    with Journal.own(path, lambda: {"source": "x.csv"}) as first:
        rec = BatchRecord(1, 0, 10, 1, 1, 1, 1, 10, "+1", "+1")
        first.add_batch(rec, [])
        first.record(rec, state=SUBMITTING)
        first.record(rec, state=SUBMITTING)  # its own intent: renewed
    with Journal.own(path, dict) as second:
        (rec,) = second.batches()
        with pytest.raises(JournalError, match="illegal state change submitting -> submitting"):
            second.record(rec, state=SUBMITTING)
        second.record(rec, state=UNCERTAIN)  # looked for on the server first
        second.record(rec, state=SUBMITTING)
