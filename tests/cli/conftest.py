"""The `hvsms` command driven as a subprocess (`python -m engine ...`), for real.

Every run gets a clean environment (no RC_* variables, no colour forcing) and
a fresh working directory, so no `.env` file is picked up by accident.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from engine.emulator import (
    CREATE_BATCH,
    EmulatorConfig,
    EmulatorProcess,
    FaultConfig,
    RateLimitConfig,
)

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples"
_STRIP = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT",
          "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "COLUMNS")

Run = Callable[..., subprocess.CompletedProcess[str]]


def base_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "engine", *args]


def emulator_env(emu: EmulatorProcess) -> dict[str, str]:
    c = emu.credentials
    return {"RC_SERVER_URL": c.server_url, "RC_APP_CLIENT_ID": c.client_id,
            "RC_APP_CLIENT_SECRET": c.client_secret, "RC_USER_JWT": c.jwt}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def run(workdir: Path) -> Run:
    """`run("send", file, ..., env={...})`: the finished process, text output."""

    def _run(*args: str, env: Mapping[str, str] | None = None, timeout: float = 120,
             cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(cli_command(*args), cwd=cwd or workdir, env=base_env(env),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)

    return _run



@pytest.fixture
def external_emulator() -> Iterator[EmulatorProcess]:
    """An emulator in its own process (it outlives each hvsms run); no rate limits."""
    cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False))
    with EmulatorProcess(cfg) as emu:
        yield emu


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture
def slow_emulator() -> Iterator[EmulatorProcess]:
    """Each POST takes 0.5 s to answer: a job of a few batches is still sending seconds later."""
    cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False),
                              faults=FaultConfig(latency=0.5, paths=(CREATE_BATCH,)))
    with EmulatorProcess(cfg) as emu:
        yield emu
