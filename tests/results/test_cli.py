"""`hvsms results`, `hvsms retry`, `--outcomes`, `--no-results`, `--log-json`, as subprocesses."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from cli.conftest import Run, emulator_env, read_csv
from support import us_number

from engine.codes import describe
from engine.emulator import EmulatorProcess
from engine.job import Job, Progress

from .helpers import opts


def _write(path: Path, n: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["to", "name"])
        w.writerows([us_number(i), f"name {i}"] for i in range(n))
    return path


async def test_results_finishes_a_job_stopped_while_fetching_them(
    run: Run, workdir: Path, external_emulator: EmulatorProcess,
) -> None:
    source = _write(workdir / "list.csv", 12_000)
    journal = workdir / "job.journal"
    job: Job

    def progress(p: Progress) -> None:
        if p.results_pages >= 2:
            job.stop()

    job = Job(str(source), text="Hi {name}", sender=None,
              credentials=external_emulator.credentials, journal=str(journal),
              options=opts(max_batch_messages=5000), progress=progress)
    first = await job.run()
    assert first.status == "interrupted" and not first.results["complete"]

    done = run("results", str(journal), "--outcomes", env=emulator_env(external_emulator))
    assert done.returncode == 0, done.stderr
    report = json.loads((workdir / "job-report" / "report.json").read_text())
    c, res = report["counts"], report["results"]
    assert res["complete"] and res["pages"] == 5 + 5 + 2
    assert report["requests"]["requests"]["listA2PSMS"] == 12 - first.results["pages"]
    failed = read_csv(workdir / "job-report" / "failed.csv")
    assert len(failed) == res["failed"] > 0
    for r in failed:
        assert r["to"] == us_number(int(r["line"]) - 2)
        assert r["name"] == f"name {int(r['line']) - 2}"
    states = Counter(r["state"] for r in read_csv(workdir / "job-report" / "outcomes.csv"))
    assert states == Counter(delivered=c["delivered"], failed=res["failed"],
                             pending=res["pending"])


def test_retry_sends_the_temporary_failures_as_a_new_job(
    run: Run, workdir: Path, external_emulator: EmulatorProcess,
) -> None:
    env = emulator_env(external_emulator)
    source = _write(workdir / "list.csv", 3000)
    sent = run("send", str(source), "--text", "Hi {name}", "--journal", "job.journal", "--yes",
               "--horizon", "0", "--log-json", "events.jsonl", env=env)
    assert sent.returncode == 0, sent.stderr
    failed = read_csv(workdir / "job-report" / "failed.csv")
    temporary = [r for r in failed if describe(r["error_code"]).kind == "temporary"]
    assert temporary and len(temporary) < len(failed)

    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    kinds = Counter(e["event"] for e in events if not e.get("dry_run"))  # not the preview
    assert kinds["batch_planned"] == kinds["batch_submitted"] == kinds["batch_completed"] == 1
    assert kinds["results_page"] == 3 and kinds["summary"] == 1
    assert events[-1]["results"]["failed"] == len(failed)
    assert oct((workdir / "events.jsonl").stat().st_mode & 0o777) == "0o600"

    again = run("retry", "job.journal", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    rows = read_csv(workdir / "job-retry.csv")
    assert [(r["to"], r["name"]) for r in rows] == [(r["to"], r["name"]) for r in temporary]
    report = json.loads((workdir / "job-retry-report" / "report.json").read_text())
    assert report["status"] == "completed"
    assert report["counts"]["accepted"] == len(temporary)
    assert (workdir / "job-retry.journal").exists()


def test_no_results_lists_no_message(run: Run, workdir: Path,
                                     external_emulator: EmulatorProcess) -> None:
    source = _write(workdir / "list.csv", 2000)
    sent = run("send", str(source), "--text", "Hi", "--journal", "job.journal", "--yes",
               "--no-results", env=emulator_env(external_emulator))
    assert sent.returncode == 0, sent.stderr
    report = json.loads((workdir / "job-report" / "report.json").read_text())
    assert "listA2PSMS" not in report["requests"]["requests"]
    assert not report["results"]["complete"] and report["counts"]["failed"] > 0
    assert "hvsms results job.journal" in sent.stdout
    assert read_csv(workdir / "job-report" / "failed.csv") == []
