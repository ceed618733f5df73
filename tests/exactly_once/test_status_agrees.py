"""`hvsms status` says what the job's report and `resume` say (one count, not two)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from aiohttp import web
from faults.servers import Forward, Proxy
from support import cfg, opts, us_number

import engine
from engine.cli import read_status
from engine.emulator import Emulator
from engine.job import TO_SEND
from engine.journal import FAILED, Journal


async def test_status_counts_refused_batches_to_send_and_rejections_as_the_report(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    numbers = [us_number(i) for i in range(300)]
    path = write_csv([[x] for x in numbers])
    journal = tmp_path / "j.journal"
    posts = 0

    async def refuse_the_second(request: web.Request, forward: Forward) -> web.Response | None:
        nonlocal posts
        if request.method == "POST" and request.path.endswith("/batches"):
            posts += 1
            if posts == 2:  # refused: the server does not act on it; resume sends it
                await request.read()
                return web.json_response({"errorCode": "CMN-101", "message": "Bad"}, status=400)
        return None

    refused = set(numbers[::37])  # the carrier says no to these
    async with Emulator(cfg(invalid_numbers=refused)) as emu, \
            Proxy(emu.url, hook=refuse_the_second).running() as url:
        via = dataclasses.replace(emu.credentials, server_url=url)
        report = await engine.send_bulk(path, text="Hi", credentials=via, journal=journal,
                                        options=opts(max_batch_bytes=2048, concurrency=1,
                                                     horizon=None))
    assert report.status == "failed"
    with Journal.open(str(journal)) as j:
        batches = j.batches()
    failed = [b for b in batches if b.state == FAILED]
    assert len(failed) == 1
    state = read_status(str(journal))
    # What resume will send, refused batches included; rejections as the report counts them.
    assert state["to_send"] == sum(b.messages for b in batches if b.state in TO_SEND)
    assert state["to_send"] >= failed[0].messages > 0
    assert state["rejected"] == report.counts.rejected > 0
    assert state["accepted"] == report.counts.accepted
