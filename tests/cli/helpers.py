"""Checks shared by the CLI tests."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from support import wait_until

from .conftest import read_csv

REJECTED_COLUMNS = ["line", "number", "error_code", "description"]
# failed.csv's own columns; the source file's columns sit between csv_to and these.
FAILED_OWN_COLUMNS = ("line", "csv_to", "to", "status", "error_code", "description",
                      "permanent", "batch_id")
# A row of rejected.csv as a test expects it: (line, number, error code).
Rejected = tuple[int, str, str]

# Any C0 control character but newline, and DEL/C1 (ESC starts every ANSI sequence).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def check_reports(directory: Path, *, rejected: Sequence[Rejected],
                  failed: Sequence[int] | None) -> dict[str, Any]:
    """The report files exist, parse, agree with each other and say what the test expects.

    `rejected`: every row of rejected.csv, in order, as (line, number, error code).
    `failed`: the source lines of failed.csv's rows, in order, for a completed job;
    None where the test leaves delivery to the emulator's seeded draws: then
    failed.csv still lists exactly the messages the server counted failed.
    Every failed row is checked against its line of the source file.
    """
    report: dict[str, Any] = json.loads((directory / "report.json").read_text())
    c = report["counts"]
    rejected_rows = read_csv(directory / "rejected.csv")
    dropped = read_csv(directory / "dropped.csv")
    assert csv_header(directory / "rejected.csv") == REJECTED_COLUMNS
    assert [(int(r["line"]), r["number"], r["error_code"]) for r in rejected_rows] == [
        tuple(r) for r in rejected]
    assert all(r["description"] for r in rejected_rows)
    assert [(r["line"], r["to"], r["error_code"]) for r in report["rejected"]] == [
        tuple(r) for r in rejected]
    assert c["rejected"] == len(rejected)
    dropped_total = (c["invalid"] + c["duplicates"] + c["opted_out"] + c["suppressed"]
                     + c["too_long"] + c["empty_text"])
    assert len(dropped) == dropped_total == len(report["dropped"])
    assert len({r["line"] for r in dropped}) == len(dropped)  # one reason per line
    if not report["dry_run"] and report["status"] == "completed":
        assert c["accepted"] == c["read"] - dropped_total - c["rejected"]
        assert c["submitted"] == c["read"] - dropped_total
        assert c["delivered"] + c["failed"] + c["pending"] == c["accepted"]
        failed_rows = read_csv(directory / "failed.csv")
        lines = [int(r["line"]) for r in failed_rows]
        assert lines == [r["line"] for r in report["failed"]]
        assert [r["to"] for r in failed_rows] == [r["to"] for r in report["failed"]]
        if report["results"]["complete"]:
            # Every message the server counts failed has its row (none missing, no extra).
            assert len(failed_rows) == c["failed"] == report["results"]["failed"]
        if failed is not None:
            assert lines == list(failed)
        # The source as the run named it: relative ones from the run's directory.
        source = directory.parent / report["source"]
        assert source.is_file(), source
        _check_against_source(source, failed_rows)
    return report


def _check_against_source(source: Path, failed_rows: list[dict[str, str]]) -> None:
    """Each failed row's `csv_to` and own columns are those of its source line."""
    by_line: dict[int, dict[str, str]] = {}
    with source.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        for row in reader:
            by_line[reader.line_num] = row
    for row in failed_rows:
        assert row["status"] in ("DeliveryFailed", "SendingFailed"), row
        assert row["error_code"] and row["description"], row
        original = by_line[int(row["line"])]
        assert row["csv_to"] in original.values(), (row, original)
        for name, value in original.items():
            if name in row and name not in FAILED_OWN_COLUMNS:
                assert row[name] == value, (name, row, original)


def csv_header(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()[0].split(",")


class Follow:
    """A running hvsms's stdout and stderr read as they come, so a test can wait for a
    line (never a fixed sleep) and still get all the output at the end."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            lines.append(line)  # noqa: PERF402 (one by one: the test watches it grow)

    def wait_for(self, text: str) -> None:
        """Until stdout shows `text` (fails if the process ends first)."""
        def shown() -> bool:
            if any(text in line for line in list(self.out)):
                return True
            assert self.proc.poll() is None, f"exited before {text!r}: {self.finish()}"
            return False

        wait_until(shown, f"stdout showing {text!r}")

    def finish(self, timeout: float = 60) -> tuple[str, str]:
        """Wait for the exit (killing it after `timeout` s); (stdout, stderr)."""
        try:
            self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        for reader in self._readers:
            reader.join(timeout=30)
        return "".join(self.out), "".join(self.err)
