"""Delivery results joined to the CSV, on the emulator with its 2% delivery failures."""

from __future__ import annotations

import csv
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from support import cfg, us_number

import engine
from engine import delivery
from engine.codes import PENDING_CODES
from engine.job import Job, Progress
from engine.journal import Journal
from engine.output import write_joined

from .helpers import final_failed, opts

N = 100_000
BAD = {7: "not a number", 500: '=HYPERLINK("http://x")'}  # data row index -> raw value
INVALID = [us_number(10_000 + i) for i in range(5)]  # refused by the emulator (rejected)


def _rows() -> list[list[str]]:
    rows = []
    for i in range(N):
        to = BAD.get(i, us_number(i))
        rows.append([f"name {i}" if i % 1000 else f"=cmd|{i}", to])
    rows.append(["dup", us_number(3)])  # a duplicate of data row 3
    return rows


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


async def test_failed_and_outcomes_csv_are_complete_and_joined(
    write_csv: Callable[..., Path], tmp_path: Path, emulator: Callable[..., object],
) -> None:
    source = write_csv(_rows(), header=("name", "to"))
    # 1% of messages first fail with SMS-CAR-104 ("check later"), final an hour later.
    emu = await emulator(cfg(invalid_numbers=INVALID, pending_failure_share=0.01))  # type: ignore[operator]
    journal = tmp_path / "job.journal"
    report = await engine.send_bulk(source, text="Hi {name}", credentials=emu.credentials,
                                    journal=journal, options=opts(max_batch_messages=30_000))
    c = report.counts
    assert report.status == "completed", report.message
    assert len(report.batches) == 4
    assert c.failed > 1000 and c.rejected == len(INVALID)
    res = report.results
    assert res["complete"] and res["failed"] == final_failed(report)
    assert res["delivered"] + res["failed"] + res["pending"] == c.accepted
    assert report.results["pages"] >= N // 1000

    out = tmp_path / "out"
    written = await write_joined(str(journal), out, outcomes=True)
    assert [p.name for p in written] == ["failed.csv", "outcomes.csv"]
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in written)

    failed = _read(out / "failed.csv")
    assert len(failed) == final_failed(report) == len(report.failed)
    lines = [int(r["line"]) for r in failed]
    assert lines == sorted(lines) and len(set(lines)) == len(lines)
    codes: Counter[str] = Counter()
    for r in failed:
        i = int(r["line"]) - 2  # data row index: line 1 is the header
        assert r["to"] == us_number(i) == r["csv_to"]
        expected_name = f"name {i}" if i % 1000 else f"'=cmd|{i}"  # shown as text
        assert r["name"] == expected_name
        assert r["status"] in ("DeliveryFailed", "SendingFailed")
        assert r["description"] and r["permanent"] in ("yes", "no")
        assert r["batch_id"] == next(b.id for b in report.batches
                                     if b.first_line <= int(r["line"]) <= b.last_line)
        codes[r["error_code"]] += 1
    per_batch: Counter[str] = Counter()
    for b in report.batches:
        per_batch.update({k: n for k, n in b.error_codes.items() if k not in PENDING_CODES})
    assert codes == per_batch  # the same codes as /statuses counted

    outcomes = _read(out / "outcomes.csv")
    assert len(outcomes) == c.read == N + 1
    assert [int(r["line"]) for r in outcomes] == list(range(2, N + 3))
    states = Counter(r["state"] for r in outcomes)
    assert states == Counter(dropped=c.dropped, rejected=c.rejected, delivered=c.delivered,
                             failed=final_failed(report), pending=res["pending"])
    assert states["pending"] > 0  # SMS-CAR-104/199: no final status yet
    by_line = {int(r["line"]): r for r in outcomes}
    assert by_line[9]["state"] == "dropped" and by_line[9]["code"] == "invalid"
    assert by_line[502]["to"].startswith("'=HYPERLINK")  # a formula is shown as text
    assert by_line[N + 2]["state"] == "dropped" and by_line[N + 2]["code"] == "duplicates"
    for r in failed[:50]:
        assert by_line[int(r["line"])]["state"] == "failed"
        assert by_line[int(r["line"])]["code"] == r["error_code"]


async def test_suppress_with_the_previous_journal_drops_permanent_failures(
    write_csv: Callable[..., Path], tmp_path: Path, emulator: Callable[..., object],
) -> None:
    source = write_csv([[us_number(i)] for i in range(5000)])
    emu = await emulator(cfg())  # type: ignore[operator]
    first = tmp_path / "spring.journal"
    r1 = await engine.send_bulk(source, text="Hi", credentials=emu.credentials,
                                journal=first, options=opts())
    permanent = {f.to: f.error_code for f in r1.failed if f.permanent}
    assert permanent and len(permanent) < r1.counts.failed  # some are not permanent

    r2 = await engine.send_bulk(source, text="Hi again", credentials=emu.credentials,
                                journal=tmp_path / "summer.journal",
                                options=opts(suppress=str(first)))
    assert r2.status == "completed", r2.message
    assert r2.counts.suppressed == len(permanent)
    reasons = {d.value: d.reason for d in r2.dropped}
    assert set(reasons) == set(permanent)
    for number, code in permanent.items():
        assert reasons[number].startswith(f"failed permanently in job spring.journal: {code} ")
    assert any("SMS-CAR-411 invalid or landline" in r for r in reasons.values())
    assert r2.counts.accepted == 5000 - len(permanent)

    # The same from the failed.csv written for the first job.
    out = tmp_path / "spring-report"
    await write_joined(str(first), out)
    r3 = await engine.send_bulk(source, text="Hi", credentials=emu.credentials,
                                journal=tmp_path / "autumn.journal", again=True,
                                options=opts(suppress=str(out / "failed.csv")))
    assert {d.value for d in r3.dropped} == set(permanent)
    assert all("failed permanently (failed.csv): SMS-" in d.reason for d in r3.dropped)


async def test_stopped_while_fetching_results_goes_on_from_the_next_page(
    write_csv: Callable[..., Path], tmp_path: Path, emulator: Callable[..., object],
) -> None:
    source = write_csv([[us_number(i)] for i in range(20_000)])
    emu = await emulator(cfg())  # type: ignore[operator]
    journal = tmp_path / "job.journal"
    job: Job

    def progress(p: Progress) -> None:
        if p.results_pages >= 3:
            job.stop()

    job = Job(str(source), text="Hi", sender=None, credentials=emu.credentials,
              journal=str(journal), options=opts(max_batch_messages=7000), progress=progress)
    first = await job.run()
    assert first.status == "interrupted"
    done = first.results["pages"]
    assert 3 <= done < 20 and not first.results["complete"]

    second = await engine.results(journal, credentials=emu.credentials)
    assert second.status == "completed", second.message
    assert second.results["complete"] and second.results["pages"] == 7 + 7 + 6
    assert second.requests["requests"]["listA2PSMS"] == 20 - done  # none fetched twice
    assert len(second.failed) == final_failed(second)
    assert sorted(f.line for f in second.failed) == [f.line for f in second.failed]


def test_an_old_journal_without_results_tables_opens(tmp_path: Path) -> None:
    path = tmp_path / "old.journal"
    Journal.create(str(path), {"source": "x.csv"}).close()
    db = sqlite3.connect(path)
    db.executescript("DROP TABLE results; DROP TABLE result_batches;")
    db.close()
    j = Journal.open(str(path))
    try:
        assert j.result_states() == {}
        assert list(j.results()) == []
    finally:
        j.close()


async def test_many_failures_are_matched_in_several_passes(
    write_csv: Callable[..., Path], tmp_path: Path, emulator: Callable[..., object],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(delivery, "RESOLVE_CHUNK", 100)  # memory bound: 100 per replay
    source = write_csv([[us_number(i), f"n{i}"] for i in range(3000)], header=("to", "name"))
    emu = await emulator(cfg(delivery_failure_share=0.4))  # type: ignore[operator]
    # (40% failing would pause the job early: not what this test is about)
    report = await engine.send_bulk(source, text="Hi", credentials=emu.credentials,
                                    journal=tmp_path / "job.journal",
                                    options=opts(early_stop=False))
    assert report.counts.failed > 1000
    assert [w for w in report.warnings if "opting out" not in w] == []
    assert len(report.failed) == final_failed(report)
    for f in report.failed:
        assert f.to == us_number(f.line - 2)


async def test_resume_finishes_the_results_too(
    write_csv: Callable[..., Path], tmp_path: Path, emulator: Callable[..., object],
) -> None:
    source = write_csv([[us_number(i)] for i in range(6000)])
    emu = await emulator(cfg())  # type: ignore[operator]
    journal = tmp_path / "job.journal"
    job: Job

    def progress(p: Progress) -> None:
        if p.results_pages >= 1:
            job.stop()

    job = Job(str(source), text="Hi", sender=None, credentials=emu.credentials,
              journal=str(journal), options=opts(), progress=progress)
    first = await job.run()
    assert first.status == "interrupted" and not first.results["complete"]
    again = await engine.resume(journal, credentials=emu.credentials)
    assert again.status == "completed" and again.results["complete"]
    assert again.results["pages"] == 6 and len(again.failed) == final_failed(again)
    assert again.requests["requests"].get("createA2PSMS", 0) == 0  # nothing sent twice
