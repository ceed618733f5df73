"""Two processes on one journal, and the same command run twice.

`hvsms` runs as a subprocess against an emulator in its own process, so the
emulator outlives each run and its ledger says who was texted how often.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from support import us_number

import engine
from engine.emulator import (
    CREATE_BATCH,
    EmulatorProcess,
)
from engine.errors import JournalLocked
from engine.lock import JournalLock

from .conftest import Run, base_env, cli_command, emulator_env


def _wait_for_holder(journal: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while JournalLock.holder(str(journal)) is None:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the first process never took the journal"
        time.sleep(0.02)


def test_second_process_on_a_journal_exits_2_and_nobody_is_texted_twice(
    slow_emulator: EmulatorProcess, run: Run, workdir: Path, write_csv: Callable[..., Path],
) -> None:
    n = 3000
    path = write_csv([[us_number(i)] for i in range(n)])
    env = emulator_env(slow_emulator)
    args = ("send", str(path), "--text", "Hi", "--journal", "j.journal", "--yes", "-q",
            "--max-batch-bytes", "8192", "--concurrency", "1")  # ~12 POSTs of 0.5 s each
    first = subprocess.Popen(cli_command(*args), cwd=workdir, env=base_env(env),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_holder(workdir / "j.journal", first)
        second = run(*args, env=env)
        resumed = run("resume", "j.journal", "--yes", "-q", env=env)
        status = run("status", "j.journal")
        out, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode == 2, (second.stdout, second.stderr)
    assert "in use by another hvsms process (pid " in second.stderr
    assert f"pid {first.pid} on " in second.stderr
    assert resumed.returncode == 2 and "in use by another hvsms process" in resumed.stderr
    assert status.returncode == 0 and f"pid {first.pid}" in status.stdout  # read, not waited
    assert first.returncode == 0, (out, err)
    ledger = slow_emulator.ledger()
    assert ledger["duplicates"] == 0 and ledger["accepted"] == n


async def test_library_raises_journal_locked(
    write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_csv([[us_number(i)] for i in range(10)])
    journal = tmp_path / "j.journal"
    lock = JournalLock(str(journal))
    lock.acquire()  # as another process would (flock is per open file, so this counts)
    try:
        with pytest.raises(JournalLocked, match="in use by another hvsms process"):
            await engine.send_bulk(path, text="Hi", journal=journal)
    finally:
        lock.release()
    assert not journal.exists()  # refused before anything was created


def test_same_command_twice_without_journal_is_refused_unless_again(
    external_emulator: EmulatorProcess, run: Run, write_csv: Callable[..., Path],
    state_dir: Path,
) -> None:
    n = 200
    path = write_csv([[us_number(i)] for i in range(n)])
    env = emulator_env(external_emulator)
    first = run("send", str(path), "--text", "Hi", "--yes", "-q", env=env)
    assert first.returncode == 0, first.stderr
    journals = list((state_dir / "jobs").glob("*.journal"))
    assert len(journals) == 1  # kept in the state directory, not a temporary one
    assert journals[0].stat().st_mode & 0o777 == 0o600
    second = run("send", str(path), "--text", "Hi", "--yes", "-q", env=env)
    assert second.returncode == 2, (second.stdout, second.stderr)
    assert "already sent with the same text" in second.stderr
    assert str(journals[0]) in second.stderr and "--again" in second.stderr
    assert external_emulator.ledger()["accepted"] == n  # nothing sent the second time
    other_text = run("send", str(path), "--text", "Hello", "--yes", "-q", env=env)
    assert other_text.returncode == 0, other_text.stderr  # another message is another job
    again = run("send", str(path), "--text", "Hi", "--yes", "-q", "--again", env=env)
    assert again.returncode == 0, again.stderr
    assert external_emulator.ledger()["accepted"] == 3 * n


def test_existing_journal_with_other_settings_is_refused(
    external_emulator: EmulatorProcess, run: Run, write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(50)])
    env = emulator_env(external_emulator)
    done = run("send", str(path), "--text", "Hi", "--journal", "j.journal", "--yes", "-q",
               env=env)
    assert done.returncode == 0, done.stderr
    other = run("send", str(path), "--text", "Bye", "--journal", "j.journal", "--yes",
                "--max-batch-bytes", "4096", env=env)
    assert other.returncode == 2, (other.stdout, other.stderr)
    assert "text: 'Hi' in the journal, 'Bye' now" in other.stderr
    assert "max_batch_bytes:" in other.stderr and "hvsms resume j.journal" in other.stderr
    assert external_emulator.ledger()["accepted"] == 50


def test_finished_job_sent_again_says_nothing_left_without_asking(
    external_emulator: EmulatorProcess, run: Run, write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(50)])
    env = emulator_env(external_emulator)
    assert run("send", str(path), "--text", "Hi", "--journal", "j.journal", "--yes", "-q",
               env=env).returncode == 0
    posts = external_emulator.ledger()["requests"][CREATE_BATCH]
    # No --yes and stdin is not a terminal: a real send would be refused; this one asks nothing.
    again = run("send", str(path), "--text", "Hi", "--journal", "j.journal", env=env)
    assert again.returncode == 0, again.stderr
    assert "nothing left to send" in again.stdout and "Send " not in again.stdout
    resumed = run("resume", "j.journal", env=env)
    assert resumed.returncode == 0 and "nothing left to send" in resumed.stdout
    assert external_emulator.ledger()["requests"][CREATE_BATCH] == posts


def test_finished_job_on_the_builtin_emulator_is_done(
    run: Run, workdir: Path, write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(20)])
    first = run("send", str(path), "--text", "Hi", "--journal", "j.journal")
    assert first.returncode == 0, first.stderr
    for args in (("send", str(path), "--text", "Hi", "--journal", "j.journal"),
                 ("resume", "j.journal")):
        again = run(*args)
        assert again.returncode == 0, (args, again.stdout, again.stderr)
        assert "nothing left to send" in again.stdout
        assert "can never be completed" not in again.stderr
    status = run("status", "j.journal", "--watch")
    assert status.returncode == 0 and "done: every batch completed" in status.stdout
