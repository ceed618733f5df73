"""Fixtures for the misbehaving-server tests: recipient files, quick options, the ledger check."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from support import SENDER, cfg, us_number
from support import opts as quick_opts

from engine import JobOptions

__all__ = ["SENDER", "assert_exactly_once", "cfg", "opts", "us_number"]


def opts(**kw: Any) -> JobOptions:
    """Quick polling, quick reconciliation, small batches."""
    kw.setdefault("reconcile_after", 0.5)
    kw.setdefault("max_batch_bytes", 2048)
    return quick_opts(**kw)


def assert_exactly_once(ledger: dict[str, Any], numbers: Sequence[str],
                        counts: dict[str, dict[str, int]]) -> None:
    """Every number accepted once by the emulator: none lost, none twice."""
    assert ledger["duplicates"] == 0, ledger["duplicate_numbers"]
    per_number = counts.get(SENDER, {})
    missing = [n for n in numbers if per_number.get(n, 0) == 0]
    twice = [n for n in numbers if per_number.get(n, 0) > 1]
    assert not missing, f"{len(missing)} never accepted, e.g. {missing[:3]}"
    assert not twice, f"{len(twice)} accepted twice, e.g. {twice[:3]}"
    assert ledger["accepted"] == len(numbers)



@pytest.fixture
def numbers_file(write_csv: Callable[..., Path]) -> Callable[[int], tuple[Path, list[str]]]:
    """`path, numbers = numbers_file(n)`: a `to`-only file of n distinct US numbers."""
    def make(n: int) -> tuple[Path, list[str]]:
        numbers = [us_number(i) for i in range(n)]
        return write_csv([[x] for x in numbers]), numbers

    return make
