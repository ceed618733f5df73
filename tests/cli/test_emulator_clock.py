"""`hvsms send` against an emulator whose clock runs fast plans by that clock: quiet
hours are kept in the emulator's time, so a night passes in seconds (issue 25,
item 6). The emulator announces its clock; no clock is passed in."""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from support import outside_window

from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig
from engine.quiet_hours import QuietHours

from .conftest import base_env

TOLL_FREE = "+18885550100"
SCALE = 7200.0
EASTERN = ZoneInfo("America/New_York")


async def test_send_follows_the_emulators_clock(workdir: Path) -> None:
    numbers = [f"+1212200{i:04d}" for i in range(500)]
    path = workdir / "r.csv"
    path.write_text("to\n" + "".join(f"{n}\n" for n in numbers))
    config = EmulatorConfig(time_scale=SCALE, rate_limits=RateLimitConfig(enabled=False),
                            receipt_delay=0.0, late_receipt_share=0.0,
                            pending_failure_share=0.0, daily_cap=None)
    async with Emulator(config) as emu:
        local = dt.datetime.fromtimestamp(emu.runtime.clock(), EASTERN)
        night = local.replace(hour=23, minute=0, second=0, microsecond=0)
        if night <= local:
            night += dt.timedelta(days=1)
        emu.advance(night.timestamp() - emu.runtime.clock())  # 23:00 in New York
        c = emu.credentials
        env = base_env({"RC_SERVER_URL": c.server_url, "RC_APP_CLIENT_ID": c.client_id,
                        "RC_APP_CLIENT_SECRET": c.client_secret, "RC_USER_JWT": c.jwt})
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "engine", "send", str(path), "--text", "Hi", "--from",
            TOLL_FREE, "--window", "08:00-21:00", "--journal", str(workdir / "j.journal"),
            "--yes", cwd=workdir, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            out, err = await asyncio.wait_for(child.communicate(), 120)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        outside, total, times = outside_window(emu, QuietHours())
        ledger = emu.ledger()
    assert child.returncode == 0, (out + err).decode()[-3000:]
    assert outside == 0
    assert total == ledger["accepted"] == len(numbers) and ledger["duplicates"] == 0
    assert dt.datetime.fromtimestamp(min(times), EASTERN).hour == 8  # the next morning
    assert "planned on the emulator's clock, 7200 times faster" in out.decode()
