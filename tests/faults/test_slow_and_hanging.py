"""POSTs whose answer comes too late or never: reconciliation, never a blind resend.

Two kinds of "too late":

- The emulator's `latency` fault sleeps *before* the handler reads the body.
  When the client gives up first and closes the connection, reading the body
  fails ("Connection lost") and the batch is never stored. The engine cannot
  know that: it must check the server's list before each resend.
- A purpose-built proxy forwards the POST at once (the emulator stores the
  batch) and only delays the answer. A blind resend here would send every
  recipient twice; the engine must find the batch and adopt it.

Then the emulator's `hang_share`: half the hangs stall before handling
(nothing stored), half store the batch and send the headers but never the body.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

import engine
from engine.emulator import CREATE_BATCH, Emulator, FaultConfig
from engine.journal import COMPLETED, UNCERTAIN, Journal
from engine.submitter import MAX_RESENDS

from .conftest import assert_exactly_once, cfg, opts
from .servers import Forward, Proxy

Numbers = Callable[[int], tuple[Path, list[str]]]


def _states(journal: Path) -> list[str]:
    j = Journal.open(str(journal))
    try:
        return [b.state for b in j.batches()]
    finally:
        j.close()


async def test_post_slower_than_the_timeout_is_checked_before_every_resend(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    path, numbers = numbers_file(120)  # 2 batches of ~2 KB
    journal = tmp_path / "job.journal"
    faults = FaultConfig(latency=0.6, paths=(CREATE_BATCH,))
    async with Emulator(cfg(faults=faults)) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials, journal=journal,
            options=opts(request_timeout=0.2, reconcile_after=0.3, concurrency=2),
        )
        ledger = emu.ledger()
        batches = len(_states(journal))
        assert batches == 2
        # Every POST timed out; none was resent before the server's list was read.
        assert report.status == "failed"
        assert "outcome still unknown" in report.message
        assert ledger["requests"][CREATE_BATCH] == batches * (MAX_RESENDS + 1)
        assert ledger["requests"]["listA2PBatches"] >= ledger["requests"][CREATE_BATCH]
        assert ledger["batches"] == 0  # the slow emulator never stored a timed-out POST
        # The journal keeps them uncertain: a resume checks again before sending.
        assert _states(journal) == [UNCERTAIN] * batches

        emu.configure(faults=FaultConfig())
        resumed = await engine.resume(journal, credentials=emu.credentials)
        assert resumed.status == "completed", resumed.message
        assert resumed.reconciled == 0  # checked again first: not there, so sent now
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert_exactly_once(ledger, numbers, counts)
    assert _states(journal) == [COMPLETED] * batches


async def test_post_stored_but_answered_late_is_adopted_not_resent(numbers_file: Numbers) -> None:
    path, numbers = numbers_file(240)
    late = 0

    async def answer_late(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal late
        if request.method != "POST" or not request.path.endswith("/a2p-sms/batches"):
            return None
        answer = await forward()  # stored now...
        late += 1
        await asyncio.sleep(0.8)  # ...answered after the client gave up
        return answer

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, answer_late)
        async with proxy.running() as url:
            creds = engine.Credentials(url, emu.config.client_id, emu.config.client_secret,
                                       emu.config.jwt)
            report = await engine.send_bulk(
                path, text="Hi", credentials=creds,
                options=opts(request_timeout=0.25, reconcile_after=0.4, concurrency=3),
            )
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    n = len(report.batches)
    assert n >= 3 and late == n, n
    assert report.requests["unknown_outcomes"] == n
    assert report.reconciled == n and report.resent_after_check == 0
    assert ledger["requests"][CREATE_BATCH] == n
    assert_exactly_once(ledger, numbers, counts)


def _trickle_after(forward_first: bool) -> Callable[..., object]:
    """A hook whose first POST answer starts, then trickles a byte every 50 ms forever."""
    state = {"done": False}

    async def trickle(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        if state["done"] or request.method != "POST" or not request.path.endswith(
                "/a2p-sms/batches"):
            return None
        state["done"] = True
        if forward_first:
            await forward()
        resp = web.StreamResponse(status=201, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        try:
            await resp.write(b"{")
            while True:  # each byte well inside sock_read: only a deadline stops this
                await asyncio.sleep(0.05)
                await resp.write(b" ")
        except (ConnectionResetError, RuntimeError):
            return resp

    return trickle


@pytest.mark.parametrize("stored", [False, True], ids=["before-storing", "after-storing"])
async def test_post_answer_trickling_forever_is_an_unknown_outcome(numbers_file: Numbers,
                                                                   stored: bool) -> None:
    """Before the fix in engine/api/http.py such a POST never returned: the job hung."""
    path, numbers = numbers_file(100)
    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, _trickle_after(stored))  # type: ignore[arg-type]
        async with proxy.running() as url:
            creds = engine.Credentials(url, emu.config.client_id, emu.config.client_secret,
                                       emu.config.jwt)
            report = await asyncio.wait_for(engine.send_bulk(
                path, text="Hi", credentials=creds,
                options=opts(request_timeout=0.3, reconcile_after=0.3)), 20)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    assert report.requests["unknown_outcomes"] == 1
    assert report.reconciled == (1 if stored else 0)
    assert_exactly_once(ledger, numbers, counts)


async def test_poll_answer_trickling_forever_is_retried(numbers_file: Numbers) -> None:
    path, numbers = numbers_file(100)
    trickled = 0

    async def trickle(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal trickled
        # The poll (the list of batches), not a pacing probe of one batch.
        if request.method != "GET" or not request.path.endswith("/a2p-sms/batches") or trickled:
            return None
        trickled += 1
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            while True:
                await resp.write(b" ")
                await asyncio.sleep(0.05)
        return resp

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, trickle)
        async with proxy.running() as url:
            creds = engine.Credentials(url, emu.config.client_id, emu.config.client_secret,
                                       emu.config.jwt)
            report = await asyncio.wait_for(engine.send_bulk(
                path, text="Hi", credentials=creds,
                # Both batches open at once (no early-stop wait after the first):
                # the poller reads them with the list, the request that trickles.
                options=opts(request_timeout=0.3, early_stop=False)), 20)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert trickled == 1
    assert report.status == "completed", report.message
    assert report.retries == 1  # the trickling poll, given up on and asked again
    assert_exactly_once(ledger, numbers, counts)


async def test_hanging_posts_are_resent_or_adopted_exactly_once(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    """One POST hangs before storing (nothing sent), one after the headers (stored)."""
    path, numbers = numbers_file(200)  # 3 batches of ~2 KB
    journal = tmp_path / "job.journal"
    # Scripted, not a share: which batch hangs may vary with concurrency, how many may not.
    faults = FaultConfig(script={CREATE_BATCH: ("hang", "hang_after_headers")})
    async with Emulator(cfg(faults=faults)) as emu:
        options = opts(request_timeout=0.3, reconcile_after=0.3, concurrency=3)
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        journal=journal, options=options)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    batches = len(report.batches)
    assert batches == len(_states(journal)) == 3
    assert ledger["faults"] == {"hang": 1, "hang_after_headers": 1}
    assert report.requests["unknown_outcomes"] == 2
    assert report.reconciled == 1  # the stored one is adopted...
    assert ledger["requests"][CREATE_BATCH] == batches + 1  # ...the other sent once more
    assert_exactly_once(ledger, numbers, counts)
    assert set(_states(journal)) == {COMPLETED}


async def test_hangs_on_every_endpoint_are_retried_or_reconciled(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    """Polls, lists and message reads hang too: GETs are retried, the POST reconciled."""
    path, numbers = numbers_file(30)  # one batch: its poll is always a read, never a list
    journal = tmp_path / "job.journal"
    gets = ("listA2PBatches", "readA2PBatch", "aggregateA2PSMSStatuses", "listA2PSMS")
    script = {CREATE_BATCH: ("hang_after_headers",)} | {op: ("hang",) for op in gets}
    # 10 a second: still processing when the list finds it, so it is polled (a batch
    # found already processed is completed without a poll).
    async with Emulator(cfg(faults=FaultConfig(script=script), processing_rate=10.0)) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials, journal=journal,
            options=opts(request_timeout=0.25, reconcile_after=0.3, concurrency=2),
        )
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    assert ledger["faults"] == {"hang_after_headers": 1, "hang": len(gets)}
    # Each GET that hung was retried once; the POST was found by the list, not resent.
    assert report.retries == len(gets)
    assert report.requests["unknown_outcomes"] == 1 and report.reconciled == 1
    assert ledger["requests"][CREATE_BATCH] == 1
    assert_exactly_once(ledger, numbers, counts)
    assert _states(journal) == [COMPLETED]


async def test_a_failed_jobs_report_still_accounts_for_its_batches(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    path, _ = numbers_file(120)
    journal = tmp_path / "job.journal"
    faults = FaultConfig(latency=0.5, paths=(CREATE_BATCH,))
    async with Emulator(cfg(faults=faults)) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials, journal=journal,
            options=opts(request_timeout=0.1, reconcile_after=0.1, concurrency=2),
        )
    assert report.status == "failed"
    assert len(report.batches) == len(_states(journal)) == 2
    assert report.counts.read == 120
    assert report.requests.get("unknown_outcomes", 0) == 2 * (MAX_RESENDS + 1)
