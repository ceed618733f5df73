"""Files that hold phone numbers are the owner's alone: mode 0600 (directories 0700).

Checked under a umask of 0, so nothing depends on the caller's umask: the
journal and its -wal/-shm side files (seen while the job runs), the report
files the CLI writes, a report file that already existed with wider rights,
and the temporary journal a failed job keeps.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import engine
from engine.emulator import CREATE_BATCH, Emulator, EmulatorConfig, FaultConfig, RateLimitConfig
from engine.output import write_reports

_STRIP = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _recipients(path: Path, n: int = 200) -> Path:
    path.write_text("to\n" + "".join(f"+1415555{i:04d}\n" for i in range(n)) + "12\n")
    return path


def _cli(*args: str, cwd: Path, temp: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env["TMPDIR"] = str(temp)
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=60, check=False, umask=0)


def test_cli_journal_and_reports_are_private_under_umask_0(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    source = _recipients(tmp_path / "recipients.csv")
    done = _cli("send", str(source), "--text", "Hi", "--journal", "job.journal",
                "--report", "out", cwd=tmp_path, temp=temp)
    assert done.returncode == 0, done.stderr
    files = [tmp_path / "job.journal", *sorted((tmp_path / "out").iterdir())]
    assert {p.name for p in files} >= {"job.journal", "report.json", "rejected.csv",
                                        "dropped.csv", "failed.csv"}
    for p in files:
        assert _mode(p) == 0o600, (p, oct(_mode(p)))
    for side in tmp_path.glob("job.journal-*"):
        assert _mode(side) == 0o600, side
    assert _mode(tmp_path / "out") == 0o700
    # The dry run writes reports too.
    done = _cli("send", str(source), "--text", "Hi", "--dry-run", "--report", "plan",
                cwd=tmp_path, temp=temp)
    assert done.returncode == 0, done.stderr
    for p in (tmp_path / "plan").iterdir():
        assert _mode(p) == 0o600, p


def test_existing_report_files_are_narrowed_to_0600(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("report.json", "dropped.csv", "rejected.csv"):
        (out / name).write_text("old")
        (out / name).chmod(0o644)
    report = engine.JobReport(source="x.csv", status="completed")
    for p in write_reports(report, out):
        assert _mode(p) == 0o600, p


async def test_journal_and_its_wal_and_shm_are_private_while_the_job_runs(
    tmp_path: Path,
) -> None:
    source = _recipients(tmp_path / "recipients.csv")
    journal = tmp_path / "job.journal"
    modes: dict[str, int] = {}

    def look(_: engine.Progress) -> None:
        for p in (journal, Path(f"{journal}-wal"), Path(f"{journal}-shm")):
            if p.exists():
                modes[p.name] = _mode(p)

    cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False))
    with umask(0):
        async with Emulator(cfg) as emu:
            report = await engine.send_bulk(
                source, text="Hi", credentials=emu.credentials, journal=journal,
                options=engine.JobOptions(max_batch_bytes=2048, poll_interval=0.05,
                                          light_limit=10_000),
                progress=look)
    assert report.status == "completed", report.message
    assert modes == {"job.journal": 0o600, "job.journal-wal": 0o600, "job.journal-shm": 0o600}


async def test_a_kept_journal_is_private(tmp_path: Path, state_dir: Path) -> None:
    """A job without a journal path keeps its own in the state directory: 0600 in 0700."""
    source = _recipients(tmp_path / "recipients.csv", 20)
    cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False),
                         faults=FaultConfig(error_503_share=1.0, retry_after_503=0.01,
                                            paths=(CREATE_BATCH,)))
    with umask(0):
        async with Emulator(cfg) as emu:
            report = await engine.send_bulk(
                source, text="Hi", credentials=emu.credentials,
                options=engine.JobOptions(max_retries=1, light_limit=10_000))
    assert report.status == "failed" and report.journal is not None
    kept = Path(report.journal)
    assert kept.parent == state_dir / "jobs"
    assert _mode(kept) == 0o600 and _mode(kept.parent) == 0o700
    assert _mode(Path(f"{kept}-lock")) == 0o600
