"""The live progress display in a real terminal (tmux), captured while it runs."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support import us_number

from engine.emulator import (
    CREATE_BATCH,
    EmulatorConfig,
    EmulatorProcess,
    FaultConfig,
    RateLimitConfig,
)

from .conftest import base_env, cli_command, emulator_env
from .helpers import check_reports

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


class Tmux:
    """One tmux server on its own socket, so the test touches nothing else."""

    def __init__(self) -> None:
        self.socket = f"hvsms-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=True, timeout=30).stdout

    def capture(self) -> str:
        return self("capture-pane", "-p", "-t", "hvsms")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       check=False, timeout=30)


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux()
    try:
        yield t
    finally:
        t.close()


def test_progress_display_in_a_terminal(
    tmux: Tmux, workdir: Path, write_csv: Callable[..., Path]
) -> None:
    cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False), processing_rate=400,
                         faults=FaultConfig(latency=0.2, paths=(CREATE_BATCH,)))
    path = write_csv([[us_number(i)] for i in range(2000)], name="big.csv")
    with EmulatorProcess(cfg) as emu:
        env = base_env(emulator_env(emu))
        env["TERM"] = "xterm-256color"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                           if k.startswith(("RC_", "PATH", "PYTHON", "HOME", "VIRTUAL_ENV")))
        command = " ".join(shlex.quote(a) for a in cli_command(
            "send", str(path), "--text", "Hi", "--yes", "--max-batch-bytes", "4096",
            "--report", "out"))
        script = f"cd {shlex.quote(str(workdir))} && env {exports} {command}; echo EXIT=$?"
        tmux("new-session", "-d", "-s", "hvsms", "-x", "120", "-y", "50", "bash", "-c",
             script + "; sleep 600")
        seen: list[str] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            screen = tmux.capture()
            if "hvsms sending" in screen and "ETA" in screen and "EXIT=" not in screen:
                seen.append(screen)
            if "EXIT=" in screen:
                break
            time.sleep(0.25)
        final = tmux.capture()
    assert seen, f"no live display was seen; the screen at the end:\n{final}"
    live = seen[-1]
    for label in ("hvsms sending", "rows read", "batches", "recipients", "accepted", "ETA",
                  "elapsed", "retries", "429s"):
        assert label in live, f"{label!r} missing from:\n{live}"
    assert "EXIT=0" in final, final
    assert "Job completed" in final and "job completed" in final
    report = check_reports(workdir / "out", rejected=[], failed=None)
    assert report["counts"]["accepted"] == 2000


def _until_screen(tmux: Tmux, text: str, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        screen = tmux.capture()
        if text in screen:
            return screen
        time.sleep(0.25)
    raise AssertionError(f"{text!r} never showed; the screen:\n{tmux.capture()}")


@pytest.mark.parametrize("answer", ["n", "y"])
def test_the_plan_is_asked_about_at_a_terminal_and_sent_as_shown(
    tmux: Tmux, workdir: Path, write_csv: Callable[..., Path], answer: str,
) -> None:
    cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False),
                              opt_outs={"+16505550100": [us_number(1)]})
    path = write_csv([[us_number(i)] for i in range(4)], name="r.csv")
    with EmulatorProcess(cfg) as emu:
        env = base_env(emulator_env(emu))
        env["TERM"] = "xterm-256color"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()
                           if k.startswith(("RC_", "PATH", "PYTHON", "HOME", "VIRTUAL_ENV",
                                            "HVSMS_")))
        command = " ".join(shlex.quote(a) for a in cli_command(
            "send", str(path), "--text", "Hi. Reply STOP to opt out", "--report", "out",
            "--journal", "j.journal"))
        script = f"cd {shlex.quote(str(workdir))} && env {exports} {command}; echo EXIT=$?"
        tmux("new-session", "-d", "-s", "hvsms", "-x", "160", "-y", "60", "bash", "-c",
             script + "; sleep 600")
        asked = _until_screen(tmux, f"Send 3 messages via {emu.url}? [y/N]")
        assert emu.ledger()["batches"] == 0  # asked before anything was sent
        tmux("send-keys", "-t", "hvsms", answer, "Enter")
        final = _until_screen(tmux, "EXIT=")
        ledger = emu.ledger()
    # The plan shown was made with the real sender and its opt-out list.
    assert "sender: +16505550100" in asked and "opted out" in asked
    if answer == "n":
        assert "not confirmed: nothing was sent" in final and "EXIT=1" in final
        assert ledger["batches"] == 0
        # The plan nobody sent leaves no journal behind (the same command starts afresh).
        assert not list(workdir.glob("j.journal*"))
    else:
        assert "job completed (3 accepted, 0 rejected, 1 dropped)" in final
        assert "EXIT=0" in final
        assert (ledger["accepted"], ledger["batches"]) == (3, 1)
