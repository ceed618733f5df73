"""`hvsms stop JOURNAL` against a running `hvsms send` (subprocesses, emulator in
its own process): the job stops with at most its horizon queued on the server,
exits 130, and `hvsms resume` finishes it with every recipient once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from support import us_number

from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig
from engine.emulator.config import DEFAULT_SENDERS
from engine.lock import JournalLock

from .conftest import Run, base_env, cli_command, emulator_env

TOLL_FREE = "+18885550100"  # 8 messages/s


def test_stop_leaves_at_most_the_horizon_in_flight_and_resume_finishes(
    run: Run, workdir: Path, write_csv: Callable[..., Path],
) -> None:
    n = 2_000
    path = write_csv([[us_number(i)] for i in range(n)])
    # A toll-free number (8 messages/s to hvsms) and a horizon of 0.5 minutes: 240
    # messages in flight at most. The emulator processes almost nothing, so nothing
    # frees room in the horizon however long the stop takes on a busy machine.
    senders = tuple(s if s.phone_number != TOLL_FREE else replace(s, throughput=0.001)
                    for s in DEFAULT_SENDERS)
    config = EmulatorConfig(rate_limits=RateLimitConfig(enabled=False), daily_cap=None,
                            receipt_delay=0.0, late_receipt_share=0.0, pending_failure_share=0.0,
                            senders=senders)
    with EmulatorProcess(config) as emu:
        env = emulator_env(emu)
        args = ("send", str(path), "--text", "Hi", "--journal", "j.journal", "--yes", "-q",
                "--from", TOLL_FREE, "--horizon", "0.5")
        job = subprocess.Popen(cli_command(*args), cwd=workdir, env=base_env(env),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            while emu.ledger()["accepted"] == 0:
                assert job.poll() is None, job.communicate()
                assert time.monotonic() < deadline, "nothing was sent"
                time.sleep(0.05)
            assert JournalLock.holder(str(workdir / "j.journal")) is not None
            stopped = run("stop", "j.journal", env=env)
            out, err = job.communicate(timeout=60)
        finally:
            if job.poll() is None:
                job.kill()
        assert stopped.returncode == 0, (stopped.stdout, stopped.stderr)
        assert "asked pid" in stopped.stdout and "hvsms resume j.journal" in stopped.stdout
        assert job.returncode == 130, (out, err)
        sent = emu.ledger()["accepted"]
        assert sent == 240  # the horizon filled, and no room freed for more
        status = run("status", "j.journal", env=env)
        assert status.returncode == 0, status.stderr
        assert "schedule (quiet hours: any):" in status.stdout  # an emulator on loopback
        assert f"{TOLL_FREE}" in status.stdout and "8 msg/s" in status.stdout
        again = run("stop", "j.journal", env=env)
        assert again.returncode == 2 and "no hvsms process is running" in again.stderr
        resumed = run("resume", "j.journal", "--yes", "-q", "--horizon", "0", env=env)
        # resume takes no sending options: the job keeps its own (a usage error, nothing sent)
        assert resumed.returncode == 2 and "--horizon" in resumed.stderr, resumed.stderr
        assert emu.ledger()["accepted"] == sent
        emu.configure(processing_rate=100_000.0)  # the rest, quickly
        resumed = run("resume", "j.journal", "--yes", "-q", env=env)
        ledger = emu.ledger()
    assert resumed.returncode == 0, (resumed.stdout, resumed.stderr)
    assert (ledger["accepted"], ledger["duplicates"]) == (n, 0)
