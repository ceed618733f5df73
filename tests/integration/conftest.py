"""Pipeline fixtures: recipient files and an emulator to send them to."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest


def us_number(i: int) -> str:
    # 415-555-01xx style numbers are possible US numbers; spread over exchanges.
    return f"+1415{200 + (i // 10_000) % 800:03d}{i % 10_000:04d}"


@pytest.fixture
def write_csv(tmp_path: Path) -> Callable[..., Path]:
    def write(rows: Sequence[Sequence[str]], header: Sequence[str] = ("to",),
              name: str = "recipients.csv") -> Path:
        path = tmp_path / name
        with path.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, lineterminator="\n")
            w.writerow(header)
            w.writerows(rows)
        return path

    return write
