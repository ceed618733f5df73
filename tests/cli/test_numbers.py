"""Know the number before sending: its SMS configuration (TCR campaign, tier) is
read before anything is sent; a number whose messages would fail is refused
(exit 2, one line per number); the plan shows each number's tier and cap."""

from __future__ import annotations

from pathlib import Path

from engine.emulator import (
    CREATE_BATCH,
    EmulatorConfig,
    EmulatorProcess,
    RateLimitConfig,
    SenderNumber,
)
from engine.emulator.config import DEFAULT_SENDERS

from .conftest import Run, emulator_env

LOCAL, TOLL_FREE = "+16505550100", "+18885550100"


def _config(*senders: SenderNumber, **kw: object) -> EmulatorConfig:
    return EmulatorConfig.fast(senders=senders or DEFAULT_SENDERS,
                               rate_limits=RateLimitConfig(enabled=False), **kw)


def _recipients(workdir: Path, rows: int = 50) -> str:
    path = workdir / "to.csv"
    path.write_text("to\n" + "".join(f"+1415555{i:04d}\n" for i in range(rows)))
    return str(path)


def test_numbers_whose_messages_would_fail_are_refused_before_sending(
        run: Run, workdir: Path) -> None:
    senders = (SenderNumber(LOCAL, campaign_status="Submitted"),
               SenderNumber(TOLL_FREE, payment_type="TollFree", campaign_status="Unconfirmed"),
               SenderNumber("+16505550101", campaign_status=None),
               SenderNumber("+16505550103"))
    with EmulatorProcess(_config(*senders)) as emu:
        got = run("send", _recipients(workdir), "--text", "Hi", "--yes", "--from", LOCAL,
                  "--from", TOLL_FREE, "--from", "+16505550101", "--from", "+16505550103",
                  env=emulator_env(emu))
        posts = emu.ledger()["requests"].get(CREATE_BATCH, 0)
    assert got.returncode == 2, got.stdout + got.stderr
    assert posts == 0
    lines = got.stderr.splitlines()
    assert sum(1 for ln in lines if LOCAL in ln and "campaign is Submitted" in ln) == 1
    assert sum(1 for ln in lines if TOLL_FREE in ln and "SMS-CAR-461" in ln) == 1
    assert sum(1 for ln in lines if "+16505550101" in ln and "no TCR campaign" in ln) == 1
    assert "+16505550103" not in got.stderr  # confirmed: nothing to say
    assert "Traceback" not in got.stderr


def test_the_plan_shows_each_numbers_tier_and_cap_and_daily_cap_only_lowers(
        run: Run, workdir: Path) -> None:
    senders = (SenderNumber(LOCAL, registration_tier="LowVolume"),
               SenderNumber("+16505550101"))
    with EmulatorProcess(_config(*senders)) as emu:
        got = run("send", _recipients(workdir), "--text", "Hi", "--yes", "--from", LOCAL,
                  "--from", "+16505550101", "--daily-cap", "100000", env=emulator_env(emu))
    assert got.returncode == 0, got.stderr
    out = got.stdout
    assert (f"{LOCAL}  LowVolume: 6,000 a day (the account's LowVolume numbers share 6,000)"
            in out), out
    assert "+16505550101  StandardVolume: 100,000 a day" in out


def test_a_server_without_the_endpoint_is_said_once_and_the_default_cap_used(
        run: Run, workdir: Path) -> None:
    with EmulatorProcess(_config(sms_configuration=False)) as emu:
        got = run("send", _recipients(workdir), "--text", "Hi", "--yes",
                  env=emulator_env(emu))
    assert got.returncode == 0, got.stderr
    said = (got.stdout + got.stderr).count("does not say what the numbers may send")
    assert said >= 1
    assert f"{LOCAL}  tier unknown: 250,000 a day" in got.stdout
