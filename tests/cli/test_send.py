"""`hvsms send` on the built-in emulator: exit codes, output, report files."""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
from support import us_number

from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig
from engine.emulator.reject import carrier_rejects

from .conftest import SAMPLES, Run, emulator_env, read_csv
from .helpers import CONTROL, check_reports, csv_header

EMULATOR_LINE = "Nothing leaves this machine."


def test_send_sample_on_the_builtin_emulator(run: Run, workdir: Path) -> None:
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hello from hvsms",
               "--report", "out")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(EMULATOR_LINE) == 1
    assert "job completed" in done.stdout
    report = check_reports(workdir / "out", rejected=[], failed=None)
    assert report["status"] == "completed" and report["emulator"] is True
    assert report["counts"]["read"] == 20
    assert report["counts"]["accepted"] == 20
    assert report["journal"] is None  # the temporary journal is gone once completed
    assert csv_header(workdir / "out" / "rejected.csv") == [
        "line", "number", "error_code", "description"]
    assert csv_header(workdir / "out" / "dropped.csv") == ["line", "value", "reason"]
    assert (workdir / "out" / "failed.csv").exists()


def test_dirty_sample_every_row_accounted_for(run: Run, workdir: Path) -> None:
    done = run("send", str(SAMPLES / "dirty.csv"), "--text", "Hello from hvsms")
    assert done.returncode == 0, done.stderr
    (out,) = workdir.glob("hvsms-report-*")  # the default report directory
    report = check_reports(out, rejected=[], failed=None)
    c = report["counts"]
    assert c["invalid"] == 3  # two bad numbers and the row with too many fields
    assert c["duplicates"] == 2
    assert c["too_long"] == 1
    assert c["accepted"] == 5
    reasons = {int(r["line"]): r["reason"] for r in report["dropped"]}
    assert "duplicate of line 2" in reasons[6]
    assert "1000" in reasons[10]


def test_personalised_sample(run: Run, workdir: Path) -> None:
    done = run("send", str(SAMPLES / "personalised.csv"),
               "--text", "Hi {name}, your code is {code}", "--report", "out")
    assert done.returncode == 0, done.stderr
    report = check_reports(workdir / "out", rejected=[], failed=None)
    assert report["counts"]["accepted"] == 12


def test_dry_run_sends_nothing_and_needs_no_credentials(run: Run, workdir: Path) -> None:
    # Credentials for a server that is not there: the dry run plans anyway (it would
    # plan with the real senders had it logged in) and says why it could not.
    env = {"RC_SERVER_URL": "http://127.0.0.1:9", "RC_APP_CLIENT_ID": "id-1234",
           "RC_APP_CLIENT_SECRET": "secret-1234", "RC_USER_JWT": "jwt-1234"}
    done = run("send", str(SAMPLES / "dirty.csv"), "--text", "Hi", "--dry-run",
               "--report", "plan", env=env)
    assert done.returncode == 0, done.stderr
    assert "nothing was sent" in done.stdout
    assert "note: dry run: could not log in (cannot reach http://127.0.0.1:9" in done.stdout
    report = check_reports(workdir / "plan", rejected=[], failed=None)
    assert report["dry_run"] is True
    assert report["requests"] == {}
    assert report["counts"]["accepted"] == 0 and report["counts"]["submitted"] == 0
    assert sum(b["messages"] for b in report["batches"]) == 5
    assert not (workdir / "plan" / "failed.csv").exists()


def test_report_files_are_private(run: Run, workdir: Path) -> None:
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hi", "--report", "out")
    assert done.returncode == 0, done.stderr
    files = sorted((workdir / "out").iterdir())
    assert {p.name for p in files} == {"report.json", "rejected.csv", "dropped.csv", "failed.csv"}
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_report_goes_next_to_the_journal(run: Run, workdir: Path) -> None:
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hi", "--journal", "job.db")
    assert done.returncode == 0, done.stderr
    assert (workdir / "job.db").exists()
    report = json.loads((workdir / "job-report" / "report.json").read_text())
    assert report["journal"] == "job.db"
    assert stat.S_IMODE((workdir / "job.db").stat().st_mode) == 0o600


def test_plain_output_has_no_control_characters(run: Run, workdir: Path) -> None:
    # Even when the environment asks for colour, output to a pipe stays plain.
    env = {"FORCE_COLOR": "1", "TERM": "xterm-256color", "HVSMS_PROGRESS_INTERVAL": "0.05"}
    done = run("send", str(SAMPLES / "dirty.csv"), "--text", "Hello", "--report", "out",
               env=env)
    assert done.returncode == 0, done.stderr
    assert "rows read" in done.stdout
    assert not CONTROL.search(done.stdout), repr(CONTROL.search(done.stdout))
    assert not CONTROL.search(done.stderr)
    bad = run("send", str(SAMPLES / "dirty.csv"), "--to-column", "phone", env=env)
    assert bad.returncode == 2
    assert not CONTROL.search(bad.stdout + bad.stderr)


def test_quiet_prints_only_the_last_line(run: Run, workdir: Path) -> None:
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hi", "--quiet",
               "--report", "out")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1].startswith("job completed")
    assert len(lines) <= 2  # the emulator line and the result


def test_samples_script_runs(workdir: Path) -> None:
    import subprocess
    import sys

    from .conftest import base_env

    shutil.copy(SAMPLES / "send_basic.py", workdir)
    shutil.copy(SAMPLES / "personalised.csv", workdir)
    done = subprocess.run([sys.executable, "send_basic.py"], cwd=workdir, env=base_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("completed on http://127.0.0.1:")
    assert "12 accepted" in done.stdout


def test_with_credentials_prints_server_plan_and_no_emulator_line(
    run: Run, workdir: Path, external_emulator: object
) -> None:
    from engine.emulator import EmulatorProcess

    assert isinstance(external_emulator, EmulatorProcess)
    env = emulator_env(external_emulator)
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hi", "--yes",
               "--report", "out", "--debug", env=env)
    assert done.returncode == 0, done.stderr
    assert EMULATOR_LINE not in done.stdout
    assert f"server: {env['RC_SERVER_URL']}" in done.stdout
    assert "estimated cost" in done.stdout and "recipients" in done.stdout
    for secret in ("RC_APP_CLIENT_SECRET", "RC_USER_JWT", "RC_APP_CLIENT_ID"):
        assert env[secret] not in done.stdout + done.stderr, secret
    report = check_reports(workdir / "out", rejected=[], failed=None)
    assert report["counts"]["accepted"] == 20
    assert external_emulator.ledger()["accepted"] == 20


def test_dotenv_in_the_current_directory_is_read(
    run: Run, workdir: Path, external_emulator: object
) -> None:
    from engine.emulator import EmulatorProcess

    assert isinstance(external_emulator, EmulatorProcess)
    env = emulator_env(external_emulator)
    (workdir / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hi", "--yes", "-q")
    assert done.returncode == 0, done.stderr
    assert EMULATOR_LINE not in done.stdout
    assert external_emulator.ledger()["accepted"] == 20


def test_suppress_file_and_no_dedupe(run: Run, workdir: Path) -> None:
    (workdir / "dnt.csv").write_text("phone\n(415) 555-0100\n+14155550101\n")
    done = run("send", str(SAMPLES / "recipients.csv"), "--text", "Hi", "--suppress",
               "dnt.csv", "--report", "out")
    assert done.returncode == 0, done.stderr
    report = check_reports(workdir / "out", rejected=[], failed=None)
    assert report["counts"]["suppressed"] == 2 and report["counts"]["accepted"] == 18
    dups = run("send", str(SAMPLES / "dirty.csv"), "--text", "Hi", "--no-dedupe", "--dry-run",
               "--report", "plan")
    assert dups.returncode == 0, dups.stderr
    assert check_reports(workdir / "plan", rejected=[], failed=None)["counts"]["duplicates"] == 0


def test_server_rejections_and_failures_are_reported_row_by_row(
    run: Run, workdir: Path, write_csv: Callable[..., Path],
) -> None:
    """The server refuses some recipients at submit (a set and a seeded carrier share)
    and fails others after acceptance (past its daily cap): rejected.csv and
    failed.csv name exactly those rows, with their lines in the source file."""
    n, cap = 40, 30
    numbers = [us_number(i) for i in range(n)]
    invalid = {numbers[3], numbers[17]}
    share = 0.1
    # Which numbers the emulator's seeded carrier share refuses: its own function says.
    values = np.array([int(x[1:]) for x in numbers], dtype=np.int64)
    carrier = {numbers[i] for i in np.flatnonzero(carrier_rejects(values, share, 0)).tolist()}
    refused = invalid | carrier
    assert carrier - invalid, "the seed refuses no other number: the test would check less"
    # Mixed spellings in the file: the report gives the E.164 form and the file's line.
    spelled = [f"({x[2:5]}) {x[5:8]}-{x[8:]}" if i % 2 else x for i, x in enumerate(numbers)]
    path = write_csv([[x, f"N{i}"] for i, x in enumerate(spelled)], header=("to", "name"))
    config = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False),
                                 delivery_failure_share=0.0, invalid_numbers=tuple(invalid),
                                 carrier_reject_share=share, daily_cap=cap)
    with EmulatorProcess(config) as emu:
        done = run("send", str(path), "--text", "Hi {name}", "--yes", "--report", "out",
                   env=emulator_env(emu))
        ledger = emu.ledger()
    assert done.returncode == 0, done.stderr
    line = {x: i + 2 for i, x in enumerate(numbers)}  # the header is line 1
    expected_rejected = [(line[x], x, "SMS-RC-410") for x in numbers if x in refused]
    accepted = [x for x in numbers if x not in refused]
    # One batch, processed in file order: the cap's worth is sent, the rest SendingFailed.
    capped = [line[x] for x in accepted[cap:]]
    assert capped, "nothing passes the cap: the test would check less"
    report = check_reports(workdir / "out", rejected=expected_rejected, failed=capped)
    c = report["counts"]
    assert (c["accepted"], c["rejected"], c["failed"]) == (len(accepted), len(refused),
                                                           len(capped))
    assert ledger["accepted"] == len(accepted) and ledger["rejected"] == len(refused)
    assert done.stdout.splitlines()[-1] == (
        f"job completed ({len(accepted)} accepted, {len(refused)} rejected, 0 dropped)")
    failed = read_csv(workdir / "out" / "failed.csv")
    assert {(r["status"], r["error_code"]) for r in failed} == {("SendingFailed", "SMS-RC-403")}
    assert [r["name"] for r in failed] == [f"N{line[x] - 2}" for x in accepted[cap:]]
    assert [r["to"] for r in failed] == accepted[cap:]
