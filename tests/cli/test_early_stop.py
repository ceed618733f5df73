"""Stop early when the carrier says no: the emulator filters a shortened link with
SMS-CAR-430 (number-wide); the job pauses after its first batch (exit 3, the
code, its meaning and what to do), resumable; `--no-early-stop` sends regardless."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.emulator import CREATE_BATCH, Emulator, EmulatorConfig, EmulatorProcess
from engine.emulator import RateLimitConfig as Limits
from engine.errors import CarrierStopped

from .conftest import Run, emulator_env

TEXT = "Spring sale: 20% off today, see bit.ly/spring. Reply STOP to opt out"


def _config() -> EmulatorConfig:
    return EmulatorConfig.fast(content_filter={"bit.ly/": "SMS-CAR-430"},
                               rate_limits=Limits(enabled=False))


def _recipients(workdir: Path, rows: int = 3000) -> str:
    path = workdir / "to.csv"
    path.write_text("to\n" + "".join(f"+1415555{i:04d}\n" for i in range(rows)))
    return str(path)


def test_a_filtered_text_stops_the_job_after_its_first_batch(run: Run, workdir: Path) -> None:
    with EmulatorProcess(_config()) as emu:
        env = emulator_env(emu)
        got = run("send", _recipients(workdir), "--text", TEXT, "--yes", "--journal",
                  "job.journal", "--max-batch-messages", "500", env=env)
        ledger = emu.ledger()
    assert got.returncode == 3, got.stdout + got.stderr
    assert ledger["requests"].get(CREATE_BATCH) == 1 and ledger["batches"] == 1
    said = [ln for ln in got.stderr.splitlines() if "SMS-CAR-430" in ln]
    assert len(said) == 1 and "stopped early" in said[0] and "change the text" in said[0]
    assert "hvsms resume job.journal" in got.stderr
    assert "Traceback" not in got.stderr


def test_no_early_stop_sends_regardless(run: Run, workdir: Path) -> None:
    with EmulatorProcess(_config()) as emu:
        got = run("send", _recipients(workdir), "--text", TEXT, "--yes", "--no-early-stop",
                  "--max-batch-messages", "500", env=emulator_env(emu))
        ledger = emu.ledger()
    assert got.returncode == 0, got.stderr
    assert ledger["accepted"] == 3000


async def test_the_library_raises_a_typed_error_with_the_same_facts(tmp_path: Path) -> None:
    async with Emulator(_config()) as emu:
        with pytest.raises(CarrierStopped) as stopped:
            await engine.send_bulk(_recipients(tmp_path, 1500), text=TEXT,
                                   credentials=emu.credentials,
                                   options=engine.JobOptions(max_batch_messages=500))
        batches = emu.ledger()["batches"]
    err = stopped.value
    assert (err.code, err.share) == ("SMS-CAR-430", 1.0)
    assert err.number == "+16505550100" and "spam" in err.description
    assert err.report.status == "paused" and batches == 1


async def test_a_number_wide_code_told_by_an_event_stops_before_the_batch_completes(
    tmp_path: Path,
) -> None:
    # 20 messages a second: the first batch of 500 takes 25 s to be processed; the
    # event of its first filtered message stops the job long before it completes.
    config = EmulatorConfig.fast(content_filter={"bit.ly/": "SMS-CAR-430"},
                                 rate_limits=Limits(enabled=False), processing_rate=20.0)
    async with Emulator(config) as emu:
        with pytest.raises(CarrierStopped) as stopped:
            await engine.send_bulk(_recipients(tmp_path, 1500), text=TEXT,
                                   credentials=emu.credentials,
                                   options=engine.JobOptions(max_batch_messages=500))
        ledger = emu.ledger()
    err = stopped.value
    early = err.report.early_stop
    assert err.code == "SMS-CAR-430" and ledger["batches"] == 1
    assert early is not None and early["told"] and 1 <= early["looked_at"] < 500
    assert "told by an event" in err.report.message


async def test_without_events_the_stop_waits_for_the_batch_counts(tmp_path: Path) -> None:
    config = EmulatorConfig.fast(content_filter={"bit.ly/": "SMS-CAR-430"},
                                 rate_limits=Limits(enabled=False), processing_rate=2000.0)
    async with Emulator(config) as emu:
        with pytest.raises(CarrierStopped) as stopped:
            await engine.send_bulk(_recipients(tmp_path, 1500), text=TEXT,
                                   credentials=emu.credentials,
                                   options=engine.JobOptions(max_batch_messages=500,
                                                             events=False))
    early = stopped.value.report.early_stop
    assert early is not None and not early["told"] and early["looked_at"] == 500
