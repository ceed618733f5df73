"""Stop and resume, lost answers and a token renewal with RingCentral's rate limits on.

The other tests mostly switch the emulator's limits off (`support.cfg`); here
they are the real ones (Light 50 and Auth 5 requests a minute) on a clock
compressed so a minute passes in a few real seconds. The engine learns the
windows from the headers and must stay inside them: no 429 at all, and the
emulator's ledger shows every recipient accepted exactly once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import web
from faults.servers import Forward, Proxy
from support import SENDER, opts, submitted_batches, until, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator, EmulatorConfig, FaultConfig, RateLimitConfig
from engine.emulator.reject import carrier_rejects
from engine.stop import request_stop

LIMITS = RateLimitConfig()  # RingCentral's: Light 50, Auth 5 requests per 60 s
SCALE = 12.0  # a 60 s window is 5 real seconds
CARRIER_SHARE = 0.02


def _config(**changes: Any) -> EmulatorConfig:
    return EmulatorConfig.fast(time_scale=SCALE, rate_limits=LIMITS,
                               carrier_reject_share=CARRIER_SHARE, **changes)


def _refused(numbers: list[str]) -> set[str]:
    """The numbers the emulator's seeded carrier share refuses (its own function says)."""
    values = np.array([int(x[1:]) for x in numbers], dtype=np.int64)
    return {numbers[i] for i in np.flatnonzero(carrier_rejects(values, CARRIER_SHARE, 0))}


def _assert_each_once(emu: Emulator, numbers: list[str]) -> None:
    """Every number the carrier takes accepted exactly once; the refused ones never."""
    refused = _refused(numbers)
    assert refused, "the seed refuses nobody: the test would check less"
    counts = emu.lookup(numbers)[SENDER]
    ledger = emu.ledger()
    assert ledger["duplicates"] == 0, ledger["duplicate_numbers"]
    assert [x for x in numbers if counts[x] != (0 if x in refused else 1)] == []
    assert ledger["accepted"] == len(numbers) - len(refused)
    assert ledger["rejected"] == len(refused)  # refused once: never sent again
    # The engine kept inside the limits the headers told it.
    assert ledger["responses_429"] == 0


async def _hvsms(env: dict[str, str], cwd: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)


async def test_stop_then_resume_under_limits_sends_everyone_once(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    """`hvsms stop` (SIGTERM) midway through a send, then `hvsms resume`, both in limits."""
    numbers = [us_number(i) for i in range(3000)]
    path = write_csv([[x] for x in numbers])
    journal = tmp_path / "j.journal"
    async with Emulator(_config()) as emu:
        c = emu.credentials
        env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
        env.update(RC_SERVER_URL=c.server_url, RC_APP_CLIENT_ID=c.client_id,
                   RC_APP_CLIENT_SECRET=c.client_secret, RC_USER_JWT=c.jwt)
        # ~50 POSTs of 2 kB: with the polls, more than one window's worth of requests.
        send = await _hvsms(env, tmp_path, "send", str(path), "--text", "Hi", "--yes", "-q",
                            "--journal", str(journal), "--max-batch-bytes", "2048")
        await until(lambda: submitted_batches(journal) >= 5 or send.returncode is not None,
                    "5 batches submitted")
        assert send.returncode is None, "the job ended before it could be stopped"
        request_stop(str(journal))
        out, err = await asyncio.wait_for(send.communicate(), 120)
        assert send.returncode == 130, (out.decode(), err.decode())
        ledger = emu.ledger()
        assert 0 < ledger["accepted"] < len(numbers) - len(_refused(numbers))
        assert ledger["responses_429"] == 0
        # The budget is per user and app, shared by both processes: a new process learns
        # what the stopped one used from its first answer's `X-Rate-Limit-Remaining`
        # (engine/api/governor.py), but its first request cannot know. The resume
        # starts a window later, so not even that one meets a 429.
        emu.advance(LIMITS.window)
        resume = await _hvsms(env, tmp_path, "resume", str(journal), "--yes", "-q")
        out, err = await asyncio.wait_for(resume.communicate(), 300)
        assert resume.returncode == 0, (out.decode(), err.decode())
        assert emu.ledger()["responses_429"] == 0
        _assert_each_once(emu, numbers)
        report = json.loads((tmp_path / "j-report" / "report.json").read_text())
    assert report["status"] == "completed"
    assert report["counts"]["accepted"] == len(numbers) - len(_refused(numbers))
    assert report["counts"]["rejected"] == len(_refused(numbers))


async def test_lost_answers_are_reconciled_under_limits(write_csv: Callable[..., Path]) -> None:
    """Three POSTs stored but never answered: each found by a (rate-limited) list."""
    numbers = [us_number(i) for i in range(1500)]
    path = write_csv([[x] for x in numbers])
    lost = ("", "lost_answer", "", "lost_answer", "lost_answer")
    async with Emulator(_config(faults=FaultConfig(script={CREATE_BATCH: lost}))) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=opts(max_batch_bytes=2048, concurrency=3, reconcile_after=0.3,
                         light_limit=LIMITS.light))
        ledger = emu.ledger()
        _assert_each_once(emu, numbers)
    assert report.status == "completed", report.message
    assert ledger["faults"] == {"lost_answer": 3}
    assert report.reconciled == 3 and report.resent_after_check == 0
    assert ledger["requests"][CREATE_BATCH] == len(report.batches)  # none sent twice
    assert report.requests["rate_limited"] == 0


async def test_token_expiring_mid_job_is_renewed_once_under_limits(
    write_csv: Callable[..., Path],
) -> None:
    """The access token expires just before the third POST: one renewal, in the Auth limit."""
    numbers = [us_number(i) for i in range(1500)]
    path = write_csv([[x] for x in numbers])
    config = _config()
    posts = 0

    async def expire_before_third_post(request: web.Request, forward: Forward
                                       ) -> web.StreamResponse | None:
        nonlocal posts
        if request.method == "POST" and request.path.endswith("/a2p-sms/batches"):
            posts += 1
            if posts == 3:  # an hour and a bit later on the emulator's clock
                emu.advance(config.access_token_ttl + 1)
        return None

    async with Emulator(config) as emu, Proxy(emu.url, expire_before_third_post).running() as url:
        via = dataclasses.replace(emu.credentials, server_url=url)
        report = await engine.send_bulk(
            path, text="Hi", credentials=via,
            options=opts(max_batch_bytes=2048, concurrency=1, light_limit=LIMITS.light))
        ledger = emu.ledger()
        _assert_each_once(emu, numbers)
    assert report.status == "completed", report.message
    # The login and one renewal (by refresh token), whatever else saw the expiry.
    assert ledger["requests"]["token"] == 2
    # The third POST met the expiry (a poll in flight at that moment may have too).
    assert ledger["status_counts"]["401"] >= 1
    assert report.requests["rate_limited"] == 0
