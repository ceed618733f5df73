"""`EmulatorProcess` (a child process) and the `emulator` CLI command."""

from __future__ import annotations

import json
import urllib.request

import click
import pytest
from click.testing import CliRunner

from engine.emulator import EmulatorConfig, EmulatorProcess, FaultConfig, RateLimitConfig
from engine.emulator.cli import build_config, emulator, pace_line, parse_faults, parse_rate_limit


def post_batch(url: str, token: str, numbers: list[str]) -> dict[str, object]:
    body = json.dumps({"from": "+16505550100", "text": "hi",
                       "messages": [{"to": [n]} for n in numbers]}).encode()
    request = urllib.request.Request(
        url + "/restapi/v1.0/account/~/a2p-sms/batches", data=body, method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def login(proc: EmulatorProcess) -> str:
    import base64
    import urllib.parse

    creds = proc.credentials
    basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    form = urllib.parse.urlencode({"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                   "assertion": creds.jwt}).encode()
    request = urllib.request.Request(proc.url + "/restapi/oauth/token", data=form,
                                     headers={"Authorization": "Basic " + basic})
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["access_token"]
        return token


def test_emulator_process_start_use_and_stop() -> None:
    config = EmulatorConfig(client_id="proc-id", seed=3)
    with EmulatorProcess(config) as proc:
        assert proc.running
        assert proc.url.startswith("http://127.0.0.1:")
        assert proc.credentials.client_id == "proc-id"
        token = login(proc)
        batch = post_batch(proc.url, token, ["+14155550100", "+14155550100"])
        assert batch["batchSize"] == 2
        ledger = proc.ledger()
        assert (ledger["accepted"], ledger["duplicates"]) == (2, 1)
        assert proc.lookup(["+14155550100"]) == {"+16505550100": {"+14155550100": 2}}
        applied = proc.configure(faults=FaultConfig(latency=0.01),
                                 rate_limits={"light": 9}, processing_rate=5.0)
        assert applied["rate_limits"]["light"] == 9
        assert applied["faults"]["latency"] == 0.01
        pid = proc.pid
    assert pid is not None
    assert not proc.running


async def test_emulator_process_as_async_context_manager() -> None:
    async with EmulatorProcess(args=["--rate-limit", "off"]) as proc:
        assert proc.ledger()["batches"] == 0
        token = login(proc)
        for _ in range(3):
            post_batch(proc.url, token, ["+14155550100"])
        assert proc.ledger()["responses_429"] == 0
    assert not proc.running


def test_cli_prints_rc_variables() -> None:
    # The command runs in the foreground; only its banner is checked here.
    from engine.emulator.cli import banner
    from engine.emulator.server import Emulator

    emu = Emulator(EmulatorConfig(), port=8080)
    text = banner(emu, as_json=False)
    assert "RC_SERVER_URL=http://127.0.0.1:8080" in text.splitlines()
    assert "RC_APP_CLIENT_ID=emulator-client-id" in text.splitlines()
    assert "RC_USER_JWT=emulator-user-jwt" in text.splitlines()
    info = json.loads(banner(emu, as_json=True))
    assert info["url"] == "http://127.0.0.1:8080"


def test_cli_option_parsing() -> None:
    assert parse_rate_limit("off").enabled is False
    limits = parse_rate_limit("light=10,auth=2,window=5")
    assert limits == RateLimitConfig(light=10, auth=2, window=5.0)
    faults = parse_faults("lost_answer=0.1,drop=0.05,503=0.1,latency=0.2,seed=7,paths=post,"
                          "retry_after=none")
    assert faults.lost_answer_share == 0.1
    assert faults.drop_share == 0.05
    assert faults.error_503_share == 0.1
    assert faults.latency == 0.2
    assert faults.seed == 7
    assert faults.paths == ("createA2PSMS",)
    assert faults.retry_after_503 is None
    config = build_config(None, "light=3", "hang=0.5", 12.0)
    assert (config.rate_limits.light, config.faults.hang_share, config.processing_rate) == (
        3, 0.5, 12.0)
    with pytest.raises(click.BadParameter):
        parse_faults("drop=2")
    with pytest.raises(click.BadParameter):
        parse_faults("bogus=1")
    result = CliRunner().invoke(emulator, ["--faults", "drop"])
    assert result.exit_code == 2
    assert "key=value" in result.output


def test_cli_fast_and_time_scale_and_the_banner_says_the_pace() -> None:
    fast = build_config(None, None, None, None, fast=True, time_scale=60.0)
    assert (fast.processing_rate, fast.receipt_delay, fast.daily_cap, fast.time_scale) == (
        500_000.0, 0.0, None, 60.0)
    real = build_config(None, None, None, None, carrier_reject_share=0.05)
    assert (real.processing_rate, real.time_scale, real.carrier_reject_share) == (None, 1.0, 0.05)
    assert pace_line(real) == ("Processing: per sender by number type (toll-free 8/s, local 1/s); "
                           "real time.")
    assert pace_line(fast) == ("Processing: 500000 messages/s per sender; time runs 60x faster "
                           "than real time.")


def test_a_child_emulator_keeps_the_realistic_config_and_its_clock_jumps() -> None:
    with EmulatorProcess(EmulatorConfig(time_scale=2.0, delivery_failure_share=0.0,
                                        receipt_delay=0.0)) as proc:
        token = login(proc)
        batch = post_batch(proc.url, token, ["+14155550100", "+14155550101"])
        proc.advance(10)  # a local number: 1 message a second
        request = urllib.request.Request(
            proc.url + "/restapi/v1.0/account/~/a2p-sms/batches/" + str(batch["id"]),
            headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(request, timeout=10) as response:
            view = json.loads(response.read())
    assert (view["status"], view["processedCount"]) == ("Completed", 2)
