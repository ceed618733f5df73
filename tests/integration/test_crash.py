"""Crash safety: kill -9 at random moments, resume, and every recipient once.

The job runs in a child process against an emulator in another process; the
emulator's ledger is the judge.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from support import us_number

import engine
from engine import JobOptions
from engine.emulator import (
    CREATE_BATCH,
    Emulator,
    EmulatorConfig,
    EmulatorProcess,
    FaultConfig,
    RateLimitConfig,
)
from engine.errors import JournalError

RUNNER = """
import asyncio, sys, engine
opts = engine.JobOptions(max_batch_bytes=6000, concurrency=3, poll_interval=0.05,
                         max_poll_interval=0.3, reconcile_after=0.3,
                         light_limit=10_000)
async def main():
    if len(sys.argv) > 3:
        r = await engine.resume(sys.argv[2])
    else:
        r = await engine.send_bulk(sys.argv[1], text="Hello", journal=sys.argv[2], options=opts,
                                   again=True)  # the same file, once per kill point
    print(r.status, r.counts.accepted, flush=True)
    sys.exit(0 if r.status == "completed" else 1)
asyncio.run(main())
"""


def _env(emu: EmulatorProcess) -> dict[str, str]:
    c = emu.credentials
    return {**os.environ, "RC_SERVER_URL": c.server_url, "RC_APP_CLIENT_ID": c.client_id,
            "RC_APP_CLIENT_SECRET": c.client_secret, "RC_USER_JWT": c.jwt}


def _kill_state(journal: Path) -> str:
    """Where a kill landed: the journal's most delicate batch state at that moment."""
    if not journal.exists():
        return "no journal"
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
        try:
            states = {r[0] for r in db.execute("SELECT DISTINCT state FROM batches")}
            planned = db.execute("SELECT value FROM meta WHERE key='planned'").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return "no journal"
    for state in ("submitting", "uncertain", "planned", "submitted"):
        if state in states:
            return state
    return "completed" if states and planned else "planning"


def _sending_time(path: Path, journal: Path, env: dict[str, str]) -> float:
    """Seconds from the journal's creation to the end of an uninterrupted run."""
    child = subprocess.Popen([sys.executable, "-c", RUNNER, str(path), str(journal)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while not journal.exists() and child.poll() is None:
        time.sleep(0.005)
    began = time.monotonic()
    child.communicate(timeout=120)
    assert child.returncode == 0
    return time.monotonic() - began


@pytest.mark.slow
def test_kill_at_random_moments_then_resume(
    write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    # A fixed seed, so a failure replays; HVSMS_KILL_SEED explores other kill points.
    seed = int(os.environ.get("HVSMS_KILL_SEED", "20261204"))
    print(f"kill-point seed: {seed} (set HVSMS_KILL_SEED to try others)")
    rnd = random.Random(seed)
    n = 1500
    numbers = [us_number(i) for i in range(n)]
    refused = set(random.Random(1).sample(numbers, n // 10))  # the server rejects these
    path = write_csv([[x] for x in numbers])
    cfg = EmulatorConfig.fast(
        processing_rate=4000,
        invalid_numbers=refused,
        rate_limits=RateLimitConfig(enabled=False),
        faults=FaultConfig(seed=seed, latency=0.15, latency_jitter=0.1, paths=(CREATE_BATCH,)),
    )
    points = 20
    landed: Counter[str] = Counter()
    with EmulatorProcess(cfg) as emu:
        env = _env(emu)
        span = _sending_time(path, tmp_path / "calibration.journal", env)
        emu.reset()
        for k in range(points):
            emu.reset()
            journal = tmp_path / f"job{k}.journal"
            child = subprocess.Popen([sys.executable, "-c", RUNNER, str(path), str(journal)],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            # Most kills land while the job works: after the journal exists, within
            # the time an uninterrupted run takes from there; a few land later.
            while not journal.exists() and child.poll() is None:
                time.sleep(0.005)
            delay = rnd.uniform(0.0, span) if k % 5 else rnd.uniform(0.0, 3 * span)
            try:
                child.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                child.send_signal(signal.SIGKILL)
                child.wait()
            state = _kill_state(journal) if child.returncode == -signal.SIGKILL else "finished"
            landed[state] += 1
            # One resume must finish the job: a second try would hide a resume that fails.
            if not journal.exists():  # killed before the journal was created
                args = [str(path), str(journal)]
            else:
                args = [str(path), str(journal), "resume"]
            done = subprocess.run([sys.executable, "-c", RUNNER, *args], env=env,
                                  capture_output=True, text=True, timeout=120, check=False)
            where = f"point {k} (delay {delay:.2f}s, killed in {state})"
            assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
            ledger = emu.ledger()
            assert ledger["accepted"] == n - len(refused), f"{where}: {ledger}"
            assert ledger["duplicates"] == 0, f"{where}: {ledger}"
        print(f"{points} kill points, landed in: {dict(landed)}; every run ended with "
              f"{n - len(refused)} accepted, 0 duplicates")
    assert landed["submitting"] >= 2, dict(landed)


async def test_lost_answers_are_reconciled_not_resent(write_csv: Callable[..., Path]) -> None:
    n = 2000
    path = write_csv([[us_number(i)] for i in range(n)])
    faults = FaultConfig(seed=11, lost_answer_share=0.35, paths=(CREATE_BATCH,))
    async with Emulator(EmulatorConfig.fast(faults=faults, rate_limits=RateLimitConfig(enabled=False))) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=JobOptions(max_batch_bytes=2048, concurrency=3, poll_interval=0.05,
                               max_poll_interval=0.3, reconcile_after=0.2,
                               light_limit=10_000),
        )
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["faults"].get("lost_answer", 0) > 3
    assert ledger["accepted"] == n and ledger["duplicates"] == 0
    assert report.reconciled == ledger["faults"]["lost_answer"]
    assert report.counts.accepted == n


async def test_dropped_connections_before_handling_are_resent(
    write_csv: Callable[..., Path],
) -> None:
    n = 1000
    path = write_csv([[us_number(i)] for i in range(n)])
    faults = FaultConfig(seed=5, drop_share=0.3, paths=(CREATE_BATCH,))
    async with Emulator(EmulatorConfig.fast(faults=faults, rate_limits=RateLimitConfig(enabled=False))) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=JobOptions(max_batch_bytes=2048, poll_interval=0.05, max_poll_interval=0.3,
                               reconcile_after=0.2, light_limit=10_000),
        )
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == n and ledger["duplicates"] == 0


async def test_changed_file_on_resume_is_refused(
    write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_csv([[us_number(i)] for i in range(50)])
    journal = tmp_path / "j.journal"
    async with Emulator(EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False))) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials, journal=journal,
            options=JobOptions(poll_interval=0.05, light_limit=10_000),
        )
        assert report.status == "completed"
        with path.open("a") as f:
            f.write(us_number(999) + "\n")
        with pytest.raises(JournalError, match="changed"):
            await engine.resume(journal, credentials=emu.credentials)
        assert emu.ledger()["accepted"] == 50


async def test_newer_journal_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    journal = tmp_path / "new.journal"
    db = sqlite3.connect(journal)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="newer"):
        await engine.resume(journal)


async def test_resume_of_a_fully_submitted_job_only_polls(
    write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_csv([[us_number(i)] for i in range(300)])
    journal = tmp_path / "j.journal"
    async with Emulator(EmulatorConfig.fast(processing_rate=50,
                                       rate_limits=RateLimitConfig(enabled=False))) as emu:
        job = engine.job.Job(str(path), text="Hi", sender=None, credentials=emu.credentials,
                             journal=str(journal), options=JobOptions(max_batch_bytes=2048,
                             poll_interval=0.05, light_limit=10_000), progress=None)

        def stop_when_all_sent(p: engine.Progress) -> None:
            if p.planning_done and p.batches_submitted == p.batches_planned:
                job.stop()

        job.progress_cb = stop_when_all_sent
        first = await job.run()
        assert first.status == "interrupted"
        posts = emu.ledger()["requests"]["createA2PSMS"]
        emu.configure(processing_rate=1e9)
        report = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["requests"]["createA2PSMS"] == posts  # nothing sent again
    assert ledger["accepted"] == 300 and ledger["duplicates"] == 0
