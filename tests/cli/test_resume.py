"""SIGINT stops a send cleanly (exit 130, a resume hint); `resume` finishes it.

The emulator runs in its own process so it outlives each hvsms run, and its
ledger shows every recipient accepted exactly once.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from support import submitted_batches, us_number, wait_until

from engine.emulator import (
    CREATE_BATCH,
    EmulatorProcess,
    FaultConfig,
)

from .conftest import Run, base_env, cli_command, emulator_env
from .helpers import Follow, check_reports

N = 3000


def _states(journal: Path) -> list[str]:
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
    try:
        return [str(state) for (state,) in db.execute("SELECT state FROM batches")]
    finally:
        db.close()


def _start(path: Path, journal: Path, env: dict[str, str], workdir: Path,
           *extra: str) -> subprocess.Popen[str]:
    # 8 kB batches (~300 recipients); the slow emulator takes 0.5 s to answer each POST.
    return subprocess.Popen(
        cli_command("send", str(path), "--text", "Hi", "--journal", str(journal), "--yes",
                    "--max-batch-bytes", "8192", "--concurrency", "1", *extra),
        cwd=workdir, env=base_env(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


STOPPING = "stopping; requests in flight finish"


def _interrupt(proc: subprocess.Popen[str], journal: Path, *, after: int,
               signals: int = 1, emulator: EmulatorProcess | None = None) -> tuple[str, str]:
    """SIGINT (`signals` times) once `after` batches are submitted (and, given the
    emulator, a POST is in flight there); the output."""
    follow = Follow(proc)
    try:
        def ready() -> bool:
            assert proc.poll() is None, f"the job ended before it was interrupted: {follow.finish()}"
            if submitted_batches(journal) < after:
                return False
            return emulator is None or CREATE_BATCH in emulator.ledger()["in_flight"]

        wait_until(ready, f"{after} batches submitted")
        for i in range(signals):
            proc.send_signal(signal.SIGINT)
            if i + 1 < signals:
                # Two signals before Python handles the first would count as one.
                follow.wait_for(STOPPING)
        return follow.finish()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_sigint_then_resume_sends_everyone_once(
    slow_emulator: EmulatorProcess, write_csv: Callable[..., Path], workdir: Path, run: Run
) -> None:
    # 200 invalid rows among N valid ones: "valid rows" is what must arrive.
    rows = [[us_number(i)] for i in range(N)] + [["12345"]] * 200
    path = write_csv(rows, name="big.csv")
    journal = workdir / "big.journal"
    env = emulator_env(slow_emulator)
    proc = _start(path, journal, env, workdir)
    out, err = _interrupt(proc, journal, after=2)
    assert proc.returncode == 130, (out, err)
    assert f"hvsms resume {journal}" in out
    assert "Traceback" not in err
    first = check_reports(workdir / "big-report", rejected=[], failed=None)
    assert first["status"] == "interrupted"
    accepted_before = slow_emulator.ledger()["accepted"]
    assert 0 < accepted_before < N

    status = run("status", str(journal))
    assert status.returncode == 0, status.stderr
    assert "no process is following this job" in status.stdout
    flat = "".join(status.stdout.split())  # the table folds long paths
    assert f"hvsmsresume{journal}will" in flat
    # The table says what the journal holds (how far the job got varies; the agreement not).
    states = Counter(_states(journal))
    (batches,) = [line for line in status.stdout.splitlines()
                  if line.split()[:1] == ["batches"]]
    assert f" {sum(states.values())}: " in batches
    for state, count in states.items():
        assert f"{count} {state}" in batches, (state, batches)
    assert f"not yet sent  {N - accepted_before:,}" in status.stdout
    assert f"accepted {accepted_before:,}, rejected 0" in status.stdout
    # Nobody follows the job, so watching it would wait forever: --watch says so and ends.
    watch = run("status", str(journal), "--watch", "--interval", "0.2", timeout=30)
    assert watch.returncode == 0 and "no process is following" in watch.stdout

    slow_emulator.configure(faults=FaultConfig())
    done = run("resume", str(journal), "--yes", env=env)
    assert done.returncode == 0, done.stderr
    report = check_reports(workdir / "big-report", rejected=[], failed=None)
    assert report["status"] == "completed"
    assert report["counts"]["accepted"] == N
    assert report["counts"]["invalid"] == 200
    ledger = slow_emulator.ledger()
    assert ledger["accepted"] == N and ledger["duplicates"] == 0, ledger

    status = run("status", str(journal))
    assert "done: every batch completed" in status.stdout
    assert f"{N:,}" in status.stdout


def test_second_sigint_aborts_at_once_and_resume_still_sends_everyone_once(
    slow_emulator: EmulatorProcess, write_csv: Callable[..., Path], workdir: Path, run: Run
) -> None:
    path = write_csv([[us_number(i)] for i in range(N)], name="big.csv")
    journal = workdir / "big.journal"
    env = emulator_env(slow_emulator)
    # The second POST never answers (until the client hangs up): a stop that waited for
    # requests in flight would wait out the 120 s request timeout, an abort does not.
    slow_emulator.configure(faults=FaultConfig(script={CREATE_BATCH: ("", "hang")}))
    proc = _start(path, journal, env, workdir)
    out, err = _interrupt(proc, journal, after=1, signals=2, emulator=slow_emulator)
    assert proc.returncode == 130, (out, err)
    assert "aborted" in out and f"hvsms resume {journal}" in out
    assert slow_emulator.ledger()["faults"] == {"hang": 1}
    slow_emulator.configure(faults=FaultConfig())
    done = run("resume", str(journal), "--yes", env=env)
    assert done.returncode == 0, done.stderr
    ledger = slow_emulator.ledger()
    assert ledger["accepted"] == N and ledger["duplicates"] == 0, ledger
    report = check_reports(workdir / "big-report", rejected=[], failed=None)
    assert report["counts"]["accepted"] == N


def test_status_of_a_finished_job_and_watch(run: Run, workdir: Path,
                                            write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(i)] for i in range(50)] + [["bad"]])
    done = run("send", str(path), "--text", "Hi", "--journal", "j.journal", "-q")
    assert done.returncode == 0, done.stderr
    status = run("status", "j.journal")
    assert status.returncode == 0, status.stderr
    out = status.stdout
    assert "completed" in out and "50" in out and "1 invalid" in out
    assert "done: every batch completed" in out
    watch = run("status", "j.journal", "--watch", timeout=30)
    assert watch.returncode == 0
    assert "done: every batch completed" in watch.stdout
    assert len(watch.stdout.strip().splitlines()) == 1  # a plain line per change, on a pipe
    report = json.loads((workdir / "j-report" / "report.json").read_text())
    assert report["counts"]["accepted"] == 50


def test_resume_of_a_finished_job_sends_nothing(
    external_emulator: EmulatorProcess, run: Run, workdir: Path,
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(40)])
    env = emulator_env(external_emulator)
    assert run("send", str(path), "--text", "Hi", "--journal", "j.journal", "--yes", "-q",
               env=env).returncode == 0
    posts = external_emulator.ledger()["requests"][CREATE_BATCH]
    again = run("resume", "j.journal", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert external_emulator.ledger()["requests"][CREATE_BATCH] == posts


def test_resume_refuses_batches_left_on_an_earlier_builtin_emulator(
    run: Run, workdir: Path, write_csv: Callable[..., Path]
) -> None:
    path = write_csv([[us_number(i)] for i in range(60_000)], name="big.csv")
    journal = workdir / "big.journal"
    proc = _start(path, journal, {}, workdir)
    out, err = _interrupt(proc, journal, after=2)
    assert proc.returncode == 130, (out, err)
    # No resume command that cannot work: the emulator ended, nothing reached a phone.
    assert "hvsms resume" not in out + err
    assert "nothing reached a phone" in out + err
    done = run("resume", str(journal))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "built-in emulator of an earlier run" in done.stderr
    assert "nothing reached a phone" in done.stderr
