"""Checks shared by the CLI tests."""

from __future__ import annotations

import json
import re
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

from support import wait_until

from .conftest import read_csv

# Any C0 control character but newline, and DEL/C1 (ESC starts every ANSI sequence).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def check_reports(directory: Path) -> dict[str, Any]:
    """The report files exist, parse, and agree with each other; returns report.json."""
    report: dict[str, Any] = json.loads((directory / "report.json").read_text())
    c = report["counts"]
    rejected = read_csv(directory / "rejected.csv")
    dropped = read_csv(directory / "dropped.csv")
    assert list(rejected[0]) if rejected else True
    assert len(rejected) == c["rejected"] == len(report["rejected"])
    dropped_total = (c["invalid"] + c["duplicates"] + c["opted_out"] + c["suppressed"]
                     + c["too_long"])
    assert len(dropped) == dropped_total == len(report["dropped"])
    assert len({r["line"] for r in dropped}) == len(dropped)  # one reason per line
    if not report["dry_run"] and report["status"] == "completed":
        assert c["accepted"] == c["read"] - dropped_total - c["rejected"]
        assert c["submitted"] == c["read"] - dropped_total
        failed = read_csv(directory / "failed.csv")
        assert len(failed) == len(report["failed"])
        assert len(failed) <= c["failed"]
    return report


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
