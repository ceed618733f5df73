"""Checks shared by the CLI tests."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

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
