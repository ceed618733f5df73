"""Resuming on another server, and a kill -9 at the most dangerous moment.

The dangerous moment is a POST the server has stored but whose answer has
not reached hvsms: a proxy holds that answer, the test kills the sender, and
the resume must find the batch rather than send it again.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web
from faults.servers import Forward, Proxy
from support import SENDER, batch_states, cfg, opts, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator, RateLimitConfig
from engine.errors import JournalError
from engine.job import Job


async def test_resume_on_another_server_is_refused_before_sending(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    n = 300
    path = write_csv([[us_number(i)] for i in range(n)])
    journal = tmp_path / "j.journal"
    async with Emulator(cfg(processing_rate=200)) as a, Emulator(cfg()) as b:
        job = Job(str(path), text="Hi", sender=None, credentials=a.credentials,
                  journal=str(journal), options=opts(max_batch_bytes=2048, concurrency=1),
                  progress=None)
        job.progress_cb = lambda p: job.stop() if p.batches_submitted >= 2 else None
        first = await job.run()
        assert first.status == "interrupted"
        accepted_on_a = a.ledger()["accepted"]
        assert 0 < accepted_on_a < n
        with pytest.raises(JournalError, match="another server or account"):
            await engine.resume(journal, credentials=b.credentials)
        assert b.ledger()["requests"].get(CREATE_BATCH, 0) == 0  # nothing sent to B
        # The same server behind a proxy at another URL is the same server.
        async with Proxy(a.url).running() as url:
            via = dataclasses.replace(a.credentials, server_url=url)
            report = await engine.resume(journal, credentials=via)
        ledger = a.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == n and ledger["duplicates"] == 0


RUNNER = """
import asyncio, sys, engine
opts = engine.JobOptions(max_batch_bytes=4096, concurrency=3, poll_interval=0.05,
                         max_poll_interval=0.3, reconcile_after=0.3)
async def main():
    if sys.argv[3] == "resume":
        r = await engine.resume(sys.argv[2])
    else:
        r = await engine.send_bulk(sys.argv[1], text="Hello", journal=sys.argv[2], options=opts)
    print(r.status, r.counts.accepted, r.reconciled, flush=True)
    sys.exit(0 if r.status == "completed" else 1)
asyncio.run(main())
"""



@pytest.mark.parametrize("hold", [1, 4])
async def test_kill_while_the_server_holds_a_stored_batch(
    write_csv: Callable[..., Path], tmp_path: Path, hold: int,
) -> None:
    """kill -9 while the `hold`-th POST's answer is held by a proxy; resume; exactly once."""
    rnd = random.Random(hold)
    good = [us_number(i) for i in range(1200)]
    opted = good[5::40]  # on the sender's opt-out list
    refused = set(rnd.sample([x for x in good if x not in opted], 100))  # the carrier says no
    rows = [[x] for x in good] + [[x] for x in good[::50]]  # duplicates
    rows[7:7] = [["not a number"], ["555-12"]]
    path = write_csv(rows)
    journal = tmp_path / "j.journal"
    held = asyncio.Event()
    posts = 0

    async def hook(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal posts
        if request.method != "POST" or not request.path.endswith("/a2p-sms/batches"):
            return None
        posts += 1
        if posts != hold:
            return None
        await forward()  # the server stores the batch...
        held.set()
        await asyncio.sleep(3600)  # ...and its answer never reaches the sender
        return None

    limits = RateLimitConfig(light=40, auth=10, window=5.0)
    config = dataclasses.replace(cfg(invalid_numbers=refused, opt_outs={SENDER: opted}),
                                 rate_limits=limits)
    async with Emulator(config) as emu, Proxy(emu.url, hook=hook).running() as url:
        c = emu.credentials
        env = {**os.environ, "RC_SERVER_URL": url, "RC_APP_CLIENT_ID": c.client_id,
               "RC_APP_CLIENT_SECRET": c.client_secret, "RC_USER_JWT": c.jwt}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, str(path), str(journal), "send", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        await asyncio.wait_for(held.wait(), 60)
        states = batch_states(journal)
        child.send_signal(signal.SIGKILL)
        await child.wait()
        assert states.get("submitting", 0) >= 1, states  # killed with the POST in flight
        resumed = await asyncio.create_subprocess_exec(
            sys.executable, "-c", RUNNER, str(path), str(journal), "resume", env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(resumed.communicate(), 120)
        counts = emu.state.lookup(good)[SENDER]
        ledger = emu.ledger()
    assert resumed.returncode == 0, err.decode()[-2000:]
    status, accepted, reconciled = out.decode().split()
    assert status == "completed"
    assert int(reconciled) >= 1  # the held batch was found, not sent again
    expected = [x for x in good if x not in refused and x not in opted]
    assert ledger["duplicates"] == 0
    assert [x for x in expected if counts[x] != 1] == []
    assert [x for x in good if x in refused or x in opted if counts[x] != 0] == []
    assert int(accepted) == ledger["accepted"] == len(expected)
