"""What an operator sees during a real campaign (issue 26): reports that survive an
auto-detected phone column, a status that cannot damage a job, a file with mixed
line endings, a summary that adds up, hints that fit."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from support import us_number, wait_until

from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig

from .conftest import Run, base_env, cli_command, emulator_env, read_csv
from .helpers import Follow

FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "John", "Frances")


def _people(path: Path, header: str, n: int) -> None:
    """`n` rows of a number and a name under `header` (a number column named otherwise)."""
    path.write_text(header + "\n" + "".join(
        f"+1415555{i:04d},{FIRST_NAMES[i % len(FIRST_NAMES)]}\n" for i in range(n)))


def test_reports_use_the_auto_detected_phone_column(
        run: Run, workdir: Path, external_emulator: EmulatorProcess) -> None:
    # A Google-Sheets export: the numbers are under 'Mobile Phone', found by name.
    _people(workdir / "sheet.csv", "Mobile Phone,name", 100)
    env = emulator_env(external_emulator)
    sent = run("send", "sheet.csv", "--text", "Hi {name}", "--journal", "job.journal",
               "--outcomes", "--yes", env=env)
    assert sent.returncode == 0, sent.stderr
    assert "not written" not in sent.stdout + sent.stderr
    report_dir = workdir / "job-report"
    outcomes = read_csv(report_dir / "outcomes.csv")
    assert [int(r["line"]) for r in outcomes] == list(range(2, 102))
    assert all(r["state"] in ("delivered", "failed") for r in outcomes)
    failed = read_csv(report_dir / "failed.csv")
    report = json.loads((report_dir / "report.json").read_text())
    assert len(failed) == report["counts"]["failed"] > 0  # the emulator fails 2%
    for row in failed:  # the customer's own columns are kept, and matched to the line
        i = int(row["line"]) - 2
        assert row["Mobile Phone"] == f"+1415555{i:04d}" == row["to"]
        assert row["name"] == FIRST_NAMES[i % len(FIRST_NAMES)]
    # `hvsms results` on the kept journal writes them the same way.
    again = run("results", "job.journal", "--outcomes", "--report", "again", env=env)
    assert again.returncode == 0, again.stderr
    assert "not written" not in again.stdout + again.stderr
    assert len(read_csv(workdir / "again" / "outcomes.csv")) == 100


def test_status_refresh_on_another_server_refuses_and_keeps_the_reports(
        run: Run, workdir: Path, external_emulator: EmulatorProcess) -> None:
    _people(workdir / "list.csv", "to,name", 200)
    env = emulator_env(external_emulator)
    sent = run("send", "list.csv", "--text", "Hi {name}", "--journal", "job.journal", "--yes",
               env=env)
    assert sent.returncode == 0, sent.stderr
    report_dir = workdir / "job-report"
    before = {p.name: p.read_bytes() for p in report_dir.iterdir()}
    assert "failed.csv" in before
    # No RC_* set: this would reach a fresh built-in emulator, not the job's server.
    refreshed = run("status", "--refresh", "job.journal")
    assert refreshed.returncode == 2, refreshed.stdout + refreshed.stderr
    assert "hvsms: error:" in refreshed.stderr and "nothing was changed" in refreshed.stderr
    assert "another server" in refreshed.stderr
    assert "Traceback" not in refreshed.stderr
    after = {p.name: p.read_bytes() for p in report_dir.iterdir()}
    assert after == before
    # Its own server is fine.
    ok = run("status", "--refresh", "job.journal", env=env)
    assert ok.returncode == 0, ok.stderr
    assert json.loads((report_dir / "report.json").read_text())["status"] == "completed"


def test_a_stray_carriage_return_is_read_as_a_line_break(run: Run, workdir: Path) -> None:
    # Mixed line endings (rows pasted from an old Mac file): CRLF, LF and a lone CR,
    # one of them near the top (where the delimiter is detected), one far below.
    rows = [f"+1415555{i:04d},{FIRST_NAMES[i % len(FIRST_NAMES)]}" for i in range(40)]
    ends = ["\r\n"] * 40
    ends[2] = "\r"
    ends[30] = "\r"
    ends[31] = "\n"
    (workdir / "mixed.csv").write_bytes(
        ("to,name\r\n" + "".join(r + e for r, e in zip(rows, ends, strict=True))).encode())
    sent = run("send", "mixed.csv", "--text", "Hi {name}", "--journal", "job.journal",
               "--outcomes")
    assert sent.returncode == 0, sent.stdout + sent.stderr
    report = json.loads((workdir / "job-report" / "report.json").read_text())
    assert report["counts"]["read"] == 40
    assert report["counts"]["accepted"] == 40
    outcomes = read_csv(workdir / "job-report" / "outcomes.csv")
    assert [r["to"] for r in outcomes] == [r.split(",")[0] for r in rows]


def _schedule(stdout: str) -> dict[str, tuple[int, dt.datetime]]:
    """The plan's schedule: each sender's recipients and finish."""
    out = {}
    for m in re.finditer(r"^  (\+\d+)\s+([\d,]+) recipients .* finish (\S+ \S+) UTC$", stdout,
                         re.MULTILINE):
        out[m[1]] = (int(m[2].replace(",", "")),
                     dt.datetime.strptime(m[3], "%Y-%m-%d %H:%M"))
    return out


def test_the_pool_split_weighs_caps_and_windows_so_all_finish_together(
        run: Run, workdir: Path) -> None:
    # One toll-free (8/s) and two local numbers (1/s), 5,000 a day each, 08:00-21:00:
    # shared by pace alone the toll-free number would get 80% and take four days.
    (workdir / "list.csv").write_text("to\n" + "".join(
        f"+1{(212, 312, 415, 617)[i % 4]}{200 + i // 10_000:03d}{i % 10_000:04d}\n"
        for i in range(20_000)))
    numbers = ("+18885550100", "+16505550100", "+16505550101")
    plan = run("send", "list.csv", "--text", "Hi. Reply STOP to opt out", "--dry-run",
               *(a for n in numbers for a in ("--from", n)), "--daily-cap", "5000",
               "--window", "08:00-21:00")
    assert plan.returncode == 0, plan.stderr
    got = _schedule(plan.stdout)
    assert set(got) == set(numbers)
    assert sum(n for n, _ in got.values()) == 20_000
    assert all(n <= 2 * 5000 for n, _ in got.values())  # two days' cap each, at most
    finishes = [f for _, f in got.values()]
    assert max(finishes) - min(finishes) < dt.timedelta(hours=6)
    assert "alone takes" not in plan.stdout or "--from all" in plan.stdout


def _adds_up(text: str, *, sent_label: str) -> tuple[int, int, int, int]:
    """(rows read, dropped, sent, not yet sent) as a summary or `status` shows them;
    they must add up."""
    def count(label: str) -> int:
        m = re.search(rf"^\W*{label}\W+([\d,]+)", text, re.MULTILINE)
        assert m, (label, text)
        return int(m[1].replace(",", ""))

    got = (count("rows read"), count("dropped"), count(sent_label), count("not yet sent"))
    read, dropped, sent, not_sent = got
    assert read == dropped + sent + not_sent, got
    return got


@pytest.mark.slow
def test_a_stopped_campaign_adds_up_at_every_moment(run: Run, workdir: Path) -> None:
    # 20,000 rows (the 200,000, scaled down), some dropped, over the
    # account's three A2P numbers at their real pace (toll-free 8/s, local 1/s),
    # a daily cap and a 30 s horizon: stopped, then resumed. (No window: resuming
    # under one against a fast server learns its pace slowly, minutes here.)
    rows = [us_number(i) for i in range(20_000)]
    rows[100:110] = ["not a number"] * 10
    rows[200:205] = rows[300:305]  # duplicates
    (workdir / "list.csv").write_text("to\n" + "\n".join(rows) + "\n")
    config = EmulatorConfig(rate_limits=RateLimitConfig(enabled=False), daily_cap=None,
                            receipt_delay=0.0, late_receipt_share=0.0,
                            pending_failure_share=0.0)
    with EmulatorProcess(config) as emu:
        env = emulator_env(emu)
        job = subprocess.Popen(
            cli_command("send", "list.csv", "--text", "Hi. Reply STOP to opt out", "--from",
                        "all", "--daily-cap", "8000", "--horizon", "0.5", "--journal",
                        "j.journal", "--yes", "--no-results"),
            cwd=workdir, env=base_env(env), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        follow = Follow(job)
        try:
            wait_until(lambda: emu.ledger()["accepted"] > 0, "a first batch accepted")
            for _ in range(3):  # sampled while it runs
                status = run("status", "j.journal", env=env)
                assert status.returncode == 0, status.stderr
                read, dropped, _, _ = _adds_up(status.stdout, sent_label="sent")
                assert (read, dropped) == (20_000, 15)
            stopped = run("stop", "j.journal", env=env)
            assert stopped.returncode == 0, stopped.stderr
            out, err = follow.finish()
        finally:
            if job.poll() is None:
                job.kill()
        assert job.returncode == 130, (out, err)
        _, _, sent, not_sent = _adds_up(out, sent_label="submitted")
        assert sent == emu.ledger()["accepted"] and not_sent > 15_000
        report = json.loads((workdir / "j-report" / "report.json").read_text())["counts"]
        assert (report["read"], report["submitted"], report["not_sent"]) == (
            20_000, sent, not_sent)
        status = run("status", "j.journal", env=env)
        assert _adds_up(status.stdout, sent_label="sent")[2:] == (sent, not_sent)

        emu.configure(processing_rate=100_000.0)  # the rest, quickly
        resumed = run("resume", "j.journal", "--yes", env=env)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert _adds_up(resumed.stdout, sent_label="submitted")[2:] == (19_985, 0)
        ledger = emu.ledger()
    assert (ledger["accepted"], ledger["duplicates"]) == (19_985, 0)


def test_labels_and_hints(run: Run, workdir: Path) -> None:
    # Empty template values are their own reason, not `invalid`; a template names
    # columns as loosely as the recipient column is found ({Name} is 'name').
    (workdir / "names.csv").write_text(
        "to,name\n+14155550100,Ada\n+14155550101,\n+14155550102,  \n+14155550103,Alan\n")
    sent = run("send", "names.csv", "--text", "Hi {Name}. Reply STOP to opt out",
               "--report", "out")
    assert sent.returncode == 0, sent.stderr
    counts = json.loads((workdir / "out" / "report.json").read_text())["counts"]
    assert (counts["invalid"], counts["empty_text"], counts["accepted"]) == (0, 2, 2)
    assert re.search(r"^ *dropped +2 +2 empty text$", sent.stdout, re.MULTILINE), sent.stdout
    dropped = read_csv(workdir / "out" / "dropped.csv")
    assert [(r["line"], r["reason"]) for r in dropped] == [
        ("3", "empty value for {Name}"), ("4", "empty value for {Name}")]
    # Piped output: plain lines, no table borders, no trailing padding.
    assert not re.search(r"[|+]-{3}|^\|", sent.stdout, re.MULTILINE)
    assert all(line == line.rstrip() for line in sent.stdout.splitlines())

    # A binary file is not advised another text encoding.
    (workdir / "photo.csv").write_bytes(bytes(range(256)) * 40)
    binary = run("send", "photo.csv", "--text", "Hi")
    assert binary.returncode == 2
    assert "not a CSV text file" in binary.stderr and "--encoding" not in binary.stderr
    # No phone column: the hint names none that holds no numbers.
    (workdir / "nophone.csv").write_text("name,city\nAda,London\nAlan,Wilmslow\n")
    nophone = run("send", "nophone.csv", "--text", "Hi")
    assert nophone.returncode == 2
    assert "--to-column 'name'" not in nophone.stderr
    assert "no column of the first rows holds phone numbers" in nophone.stderr
    (workdir / "other.csv").write_text("name,cell no\nAda,+14155550100\n")
    other = run("send", "other.csv", "--text", "Hi")
    assert other.returncode == 2 and "e.g. --to-column 'cell no'" in other.stderr
    # Cells a spreadsheet would run as formulas get a leading ' (README says why);
    # --plain-cells writes them as they are, for programs.
    (workdir / "cells.csv").write_text("to\n-12\n+14155550100\n")
    for flags, value in (((), "'-12"), (("--plain-cells",), "-12")):
        done = run("send", "cells.csv", "--text", "Hi. Reply STOP to opt out", "--report",
                   f"cells{len(flags)}", *flags)
        assert done.returncode == 0, done.stderr
        assert [r["value"] for r in read_csv(workdir / f"cells{len(flags)}" / "dropped.csv")
                ] == [value]
    # `results` sends nothing: its --yes does not say it sends.
    helped = run("results", "--help")
    assert "Send without asking" not in helped.stdout and "--yes" in helped.stdout


def _seconds(text: str) -> float:
    """'2:14:05', '14:05' or '3.2s' (fmt_duration) as seconds."""
    if text.endswith("s"):
        return float(text[:-1])
    parts = [int(p) for p in text.split(":")]
    return float(sum(p * 60 ** i for i, p in enumerate(reversed(parts))))


def _wait_seconds(text: str) -> float:
    """'2 h 14 min', '3 d 4 h', '14 min', '45 s' (fmt_wait) as seconds."""
    units = {"d": 86_400, "h": 3600, "min": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (d|h|min|s)\b", text)))


def _window_closed_now(zone: str) -> str:
    """A window that is closed now in `zone` and opens later today (or just after
    midnight): what a job started at night meets."""
    now = dt.datetime.now(ZoneInfo(zone))
    minutes = now.hour * 60 + now.minute
    if minutes + 60 < 23 * 60:
        start = minutes + 60
        return f"{start // 60:02d}:{start % 60:02d}-23:30"
    return "00:00-00:30" if minutes > 60 else "02:00-03:00"


def _waiting_line(workdir: Path, env: dict[str, str], args: tuple[str, ...], want: str,
                  run: Run) -> str:
    """The first progress line of `hvsms send ARGS` that shows `want`; then it is stopped."""
    job = subprocess.Popen(
        cli_command("send", *args, "--journal", "j.journal", "--yes"), cwd=workdir,
        env=base_env({**env, "HVSMS_PROGRESS_INTERVAL": "0.2"}), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    follow = Follow(job)
    try:
        follow.wait_for(want)
        line = next(x for x in list(follow.out) if want in x)
        stopped = run("stop", "j.journal", env=env)
        assert stopped.returncode == 0, stopped.stderr
        out, err = follow.finish()
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 130, (out, err)
    _adds_up(out, sent_label="submitted")
    return line


def test_progress_says_what_the_job_waits_for_and_until_when(
        run: Run, workdir: Path, external_emulator: EmulatorProcess) -> None:
    env = emulator_env(external_emulator)
    (workdir / "list.csv").write_text("to\n" + "".join(
        f"+1415555{i:04d}\n" for i in range(300)))
    # A number at its daily cap: it waits for the next UTC day, and the ETA says so.
    line = _waiting_line(workdir, env, ("list.csv", "--text", "Hi. Reply STOP to opt out",
                                        "--from", "+16505550100", "--daily-cap", "100"),
                         "at its daily cap until 00:00 UTC", run)
    assert "waiting: nothing may be sent now; +16505550100 at its daily cap" in line, line
    m = re.search(r"at its daily cap until 00:00 UTC, ([^;]+);", line)
    eta = re.search(r"; ETA (\S+);", line)
    assert m and eta, line
    assert _seconds(eta[1]) >= _wait_seconds(m[1]) - 60, line  # not 'ETA 3.6s'
    (workdir / "j.journal").unlink()
    for extra in workdir.glob("j.journal-*"):
        extra.unlink()
    # Quiet hours: 415 numbers wait for their window to open in Pacific time.
    window = _window_closed_now("America/Los_Angeles")
    opens = window.split("-")[0]
    line = _waiting_line(workdir, env, ("list.csv", "--text", "Hi. Reply STOP to opt out",
                                        "--from", "+16505550100", "--window", window),
                         f"waiting for {opens} in America/Los_Angeles", run)
    assert "waiting: nothing may be sent now" in line, line


def test_the_dry_run_is_the_real_plan(
        run: Run, workdir: Path, external_emulator: EmulatorProcess) -> None:
    # Four area codes (three time zones).
    (workdir / "list.csv").write_text("to\n" + "".join(
        f"+1{(212, 312, 415, 617)[i % 4]}555{i:04d}\n" for i in range(40)))
    text = ("--text", "Hi. Reply STOP to opt out")
    # With credentials: the account's real senders and their opt-outs.
    env = emulator_env(external_emulator)
    dry = run("send", "list.csv", *text, "--from", "all", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert "+10000000000" not in dry.stdout
    assert "sender: +16505550100,+16505550101,+18885550100" in dry.stdout, dry.stdout
    assert "--from all" not in dry.stdout  # no advice to give what was given
    assert "opt-out list was not fetched" not in dry.stdout
    assert external_emulator.ledger()["accepted"] == 0
    # In the order of a send: the plan, its schedule, then the last line.
    out = dry.stdout
    assert out.index("Plan") < out.index("schedule (") < out.index("reports:") < out.index(
        "dry run complete")
    # Without credentials: what a send on the built-in emulator would do, batch for batch.
    plan = run("send", "list.csv", *text, "--dry-run", "--report", "plan")
    sent = run("send", "list.csv", *text, "--report", "sent")
    assert plan.returncode == sent.returncode == 0, plan.stderr + sent.stderr
    planned = json.loads((workdir / "plan" / "report.json").read_text())["batches"]
    done = json.loads((workdir / "sent" / "report.json").read_text())["batches"]
    assert len(planned) == len(done)
    assert "schedule (quiet hours: any" in plan.stdout
