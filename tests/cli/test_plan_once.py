"""`hvsms send` plans the file once, after login, and sends the plan it showed."""

from __future__ import annotations

import json
from pathlib import Path

from support import cfg, us_number

from engine.emulator import EmulatorProcess
from engine.emulator.config import RateLimitConfig

from .conftest import Run, emulator_env

FIRST_SENDER = "+16505550100"  # the emulator account's first A2P number


def test_the_cli_plans_once_with_the_real_sender_and_opt_outs(run: Run, workdir: Path) -> None:
    source = workdir / "r.csv"
    source.write_text("to\n" + "".join(f"{us_number(i)}\n" for i in range(30)))
    config = cfg(opt_outs={FIRST_SENDER: [us_number(7)]},
                 rate_limits=RateLimitConfig(enabled=False))
    with EmulatorProcess(config) as emu:
        done = run("send", str(source), "--text", "Hi. Reply STOP to opt out", "--yes",
                   "--max-batch-messages", "10", "--log-json", "events.jsonl",
                   env=emulator_env(emu))
        ledger = emu.ledger()
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out.index(f"sender: {FIRST_SENDER}") < out.index("Plan")
    assert "opted out" in next((line for line in out if "dropped" in line), ""), out
    events = [json.loads(line) for line in (workdir / "events.jsonl").read_text().splitlines()]
    planned = [e for e in events if e.get("event") == "batch_planned"]
    # Each batch planned once, for real (the CLI used to plan the file twice).
    assert [(e["batch"], e["messages"], e["dry_run"]) for e in planned] == [
        (1, 10, False), (2, 10, False), (3, 9, False)]
    assert (ledger["accepted"], ledger["requests"]["token"]) == (29, 1)
    assert out[-1] == "job completed (29 accepted, 0 rejected, 1 dropped)"
