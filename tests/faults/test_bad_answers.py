"""Answers that are not what the API promises: HTML 500s, 200s that are not JSON, huge bodies.

A purpose-built proxy sits between hvsms and the emulator and rewrites chosen
answers. For a POST the rewrite happens either before forwarding (the batch is
not stored) or after (it is): the engine cannot tell the two apart and must
reconcile, so every recipient is still accepted exactly once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

import engine
from engine.api.http import MAX_RESPONSE_BYTES
from engine.emulator import CREATE_BATCH, Emulator
from engine.journal import COMPLETED, Journal

from .conftest import assert_exactly_once, cfg, opts
from .servers import Forward, Proxy

Numbers = Callable[[int], tuple[Path, list[str]]]

HTML_500 = (b"<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n"
            b"<body><h1>Internal Server Error</h1><p>upstream connect error</p></body></html>")


def _is_post_batches(request: web.Request) -> bool:
    return request.method == "POST" and request.path.endswith("/a2p-sms/batches")


def _creds(emu: Emulator, url: str) -> engine.Credentials:
    c = emu.config
    return engine.Credentials(url, c.client_id, c.client_secret, c.jwt)


def _states(journal: Path) -> set[str]:
    j = Journal.open(str(journal))
    try:
        return {b.state for b in j.batches()}
    finally:
        j.close()


@pytest.mark.parametrize("stored", [False, True], ids=["before-storing", "after-storing"])
async def test_post_answered_500_html_is_reconciled(numbers_file: Numbers, stored: bool) -> None:
    path, numbers = numbers_file(200)
    hits = 0

    async def html_500(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if not _is_post_batches(request) or hits >= 2:  # the first two POSTs only
            return None
        hits += 1
        if stored:
            await forward()
        return web.Response(status=500, body=HTML_500, content_type="text/html")

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, html_500)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            options=opts(reconcile_after=0.2, concurrency=2))
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    assert hits == 2 and report.requests["unknown_outcomes"] == 2
    if stored:
        assert report.reconciled == 2 and report.resent_after_check == 0
    else:
        assert report.reconciled == 0 and report.resent_after_check == 2
    assert_exactly_once(ledger, numbers, counts)


async def test_gets_answered_500_html_are_retried(numbers_file: Numbers) -> None:
    path, numbers = numbers_file(100)
    hits = 0

    async def html_500(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if request.method != "GET" or hits % 2:  # every other GET
            hits += request.method == "GET"
            return None
        hits += 1
        return web.Response(status=500, body=HTML_500, content_type="text/html")

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, html_500)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            options=opts(max_retries=3))
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    # Every other GET, from the first, was the HTML 500: each retried once.
    assert hits > 1 and report.retries == (hits + 1) // 2
    assert_exactly_once(ledger, numbers, counts)


async def test_a_server_that_only_answers_html_fails_with_a_readable_message(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    path, numbers = numbers_file(10)
    journal = tmp_path / "job.journal"

    async def html_500(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        if request.path.startswith("/restapi/oauth"):
            return None
        return web.Response(status=500, body=HTML_500, content_type="text/html")

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, html_500)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal, options=opts(max_retries=1))
        assert emu.ledger()["batches"] == 0
        resumed = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "failed"
    assert "HTTP 500" in report.message and "Internal Server Error" in report.message
    assert "\n" not in report.message
    assert resumed.status == "completed", resumed.message
    assert_exactly_once(ledger, numbers, counts)


@pytest.mark.parametrize("stored", [False, True], ids=["before-storing", "after-storing"])
async def test_post_answered_200_not_json_is_reconciled(numbers_file: Numbers,
                                                        stored: bool) -> None:
    path, numbers = numbers_file(200)
    hits = 0

    async def not_json(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if not _is_post_batches(request) or hits >= 2:
            return None
        hits += 1
        if stored:
            await forward()
        return web.Response(status=200, text="OK, batch accepted!", content_type="text/plain")

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, not_json)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            options=opts(reconcile_after=0.2, concurrency=2))
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert report.status == "completed", report.message
    assert hits == 2 and report.requests["unknown_outcomes"] == 2
    assert report.reconciled == (2 if stored else 0)
    assert_exactly_once(ledger, numbers, counts)


async def test_poll_answered_200_with_the_wrong_json_fails_resumably(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    """A poll answer that is JSON but not a batch (an HTML page's JSON cousin)."""
    path, numbers = numbers_file(20)  # one batch: the poll is a read of it, never a list
    journal = tmp_path / "job.journal"
    hits = 0

    async def wrong_json(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if request.method != "GET" or "/a2p-sms/batches" not in request.path or hits >= 1:
            return None
        hits += 1
        return web.json_response(["this", "is", "not", "a", "batch"])

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, wrong_json)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal, options=opts())
        assert hits == 1
        # A 200 that is not a batch is not retried: the job stops, the journal resumes it.
        assert report.status == "failed"
        assert report.message == "HTTP 200 from readA2PBatch: answer is not a batch object"
        assert emu.ledger()["accepted"] == 20  # the batch itself was sent
        report = await engine.resume(journal, credentials=emu.credentials)
        assert report.status == "completed", report.message
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert_exactly_once(ledger, numbers, counts)
    assert _states(journal) == {COMPLETED}


async def test_post_answered_201_with_json_that_is_not_a_batch_is_reconciled(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    path, numbers = numbers_file(100)
    journal = tmp_path / "job.journal"
    hits = 0

    async def not_a_batch(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if not _is_post_batches(request) or hits >= 1:
            return None
        hits += 1
        await forward()
        return web.json_response({"status": "ok"}, status=201)

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, not_a_batch)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal, options=opts(reconcile_after=0.2))
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert hits == 1
    # Stored, answered with nonsense: an unknown outcome, found on the list and adopted.
    assert report.status == "completed", report.message
    assert report.requests["unknown_outcomes"] == 1 and report.reconciled == 1
    assert ledger["requests"][CREATE_BATCH] == len(report.batches)  # nothing was resent
    assert_exactly_once(ledger, numbers, counts)
    assert _states(journal) == {COMPLETED}


def _huge(declare_length: bool) -> Callable[[web.Request], object]:
    """A handler streaming a JSON-looking body just over the client's 64 MiB guard."""
    size = MAX_RESPONSE_BYTES + (1 << 20)
    piece = b" " * (1 << 20)

    async def stream(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        if declare_length:
            resp.content_length = size + 2
        await resp.prepare(request)
        try:
            await resp.write(b"{")
            for _ in range(size // len(piece)):
                await resp.write(piece)
            await resp.write(b"}")
            await resp.write_eof()
        except (ConnectionResetError, RuntimeError):
            pass  # the client hung up, as it should
        return resp

    return stream


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
async def test_huge_poll_answer_is_refused_then_resumable(
    numbers_file: Numbers, tmp_path: Path, declare_length: bool,
) -> None:
    path, numbers = numbers_file(20)  # one batch: the poll is a read of it, never a list
    journal = tmp_path / "job.journal"
    hits = 0
    huge = _huge(declare_length)

    async def huge_poll(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if request.method != "GET" or "/a2p-sms/batches" not in request.path or hits >= 1:
            return None
        hits += 1
        return await huge(request)  # type: ignore[no-any-return]

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, huge_poll)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal, options=opts())
        assert hits == 1
        # Refused, not read: the job stops and the journal resumes it.
        assert report.status == "failed"
        assert report.message == "HTTP 200 from readA2PBatch: answer too large"
        report = await engine.resume(journal, credentials=emu.credentials)
        assert report.status == "completed", report.message
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert_exactly_once(ledger, numbers, counts)


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
async def test_huge_answer_to_a_stored_post_is_reconciled(
    numbers_file: Numbers, tmp_path: Path, declare_length: bool,
) -> None:
    """The batch was stored, the answer cannot be read: the outcome is unknown, not a refusal."""
    path, numbers = numbers_file(100)
    journal = tmp_path / "job.journal"
    hits = 0
    huge = _huge(declare_length)

    async def huge_post(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        nonlocal hits
        if not _is_post_batches(request) or hits >= 1:
            return None
        hits += 1
        await forward()
        return await huge(request)  # type: ignore[no-any-return]

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, huge_post)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal,
                                            options=opts(reconcile_after=0.2))
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert hits == 1
    assert report.status == "completed", report.message
    assert report.reconciled == 1
    assert ledger["requests"][CREATE_BATCH] == len(report.batches)
    assert_exactly_once(ledger, numbers, counts)
    await asyncio.sleep(0)
