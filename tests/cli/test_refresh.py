"""`hvsms status --refresh`: receipts that came after the job end up in its reports."""

from __future__ import annotations

import json
from pathlib import Path

from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig

from .conftest import Run, emulator_env

DAY = 86400.0


def test_a_job_with_pending_receipts_says_so_and_a_refresh_settles_them(
        run: Run, workdir: Path) -> None:
    # The realistic service an hour a second; half the receipts first say
    # SMS-CAR-104 and settle only ten (emulated) days later.
    cfg = EmulatorConfig(time_scale=3600.0, pending_failure_share=0.5,
                         pending_resolve_delay=10 * DAY, daily_cap=None,
                         rate_limits=RateLimitConfig(enabled=False))
    path = workdir / "to.csv"
    path.write_text("to\n" + "".join(f"+1415555{i:04d}\n" for i in range(200)))
    with EmulatorProcess(cfg) as emu:
        env = emulator_env(emu)
        sent = run("send", str(path), "--text", "Hi", "--journal", "job.journal", "--yes",
                   env=env)
        assert sent.returncode == 0, sent.stderr
        assert "still pending" in sent.stdout and "status --refresh job.journal" in sent.stdout
        before = json.loads((workdir / "job-report" / "report.json").read_text())["counts"]
        assert before["pending"] > 50
        assert before["delivered"] + before["failed"] + before["pending"] == 200

        emu.advance(11 * DAY)
        done = run("status", "--refresh", "job.journal", env=env)
    assert done.returncode == 0, done.stderr
    after = json.loads((workdir / "job-report" / "report.json").read_text())["counts"]
    assert after["pending"] == 0
    assert after["delivered"] + after["failed"] == 200
    assert f"{after['delivered']:,} delivered, {after['failed']:,} failed, 0 pending" in (
        done.stdout)
