"""Shared fixtures: an `emulator` factory (in-process emulators, closed after the
test) and `write_csv` (a recipients file in the test's temporary directory)."""

from __future__ import annotations

import csv
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import pytest

from engine.emulator import Emulator, EmulatorConfig

EmulatorFactory = Callable[..., Awaitable[Emulator]]


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorFactory]:
    """`emu = await emulator(EmulatorConfig(...))`: started now, closed after the test."""
    started: list[Emulator] = []

    async def start(config: EmulatorConfig | None = None, **kwargs: object) -> Emulator:
        emu = Emulator(config, **kwargs)  # type: ignore[arg-type]
        await emu.start()
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        await emu.close()


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


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps its job journals and repeat-guard records apart (subprocesses too)."""
    path = tmp_path / "hvsms-state"
    monkeypatch.setenv("HVSMS_STATE_DIR", str(path))
    return path
