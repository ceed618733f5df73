"""send_bulk end to end against the emulator over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from support import cfg, opts, until, us_number

import engine
from engine.api.a2p import A2P
from engine.api.auth import Auth
from engine.api.http import ApiClient
from engine.emulator import Emulator, EmulatorConfig, FaultConfig, RateLimitConfig

SENDER = "+16505550100"


async def test_header_only_file_sends_nothing(write_csv: Callable[..., Path]) -> None:
    path = write_csv([])
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
    assert report.status == "completed"
    assert report.counts.read == 0 and report.batches == []
    assert ledger["requests"].get("createA2PSMS", 0) == 0


async def test_one_row(write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(1)]])
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hello", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert report.sender == SENDER
    assert (report.counts.read, report.counts.accepted) == (1, 1)
    assert ledger["accepted"] == 1 and ledger["duplicates"] == 0
    assert report.batches[0].status == "Completed"
    assert report.batches[0].first_line == report.batches[0].last_line == 2


async def test_many_batches_each_recipient_once_under_the_limit(
    write_csv: Callable[..., Path],
) -> None:
    n = 3000
    path = write_csv([[us_number(i)] for i in range(n)])
    limit = 4096
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(
            path, text="Hello there", credentials=emu.credentials,
            options=opts(max_batch_bytes=limit, concurrency=3),
        )
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == n and ledger["duplicates"] == 0
    assert ledger["largest_body"] <= limit
    sizes = [b.bytes for b in report.batches]
    assert len(sizes) == ledger["batches"] > 10
    assert all(s >= 0.95 * limit for s in sizes[:-1])
    assert sum(b.messages for b in report.batches) == n
    # line ranges tile the file in order
    assert report.batches[0].first_line == 2 and report.batches[-1].last_line == n + 1
    for a, b in zip(report.batches, report.batches[1:], strict=False):
        assert b.first_line == a.last_line + 1


async def test_personalised_texts_arrive_rendered(write_csv: Callable[..., Path]) -> None:
    rows = [[us_number(i), f'N{i} "q" \\ 😀', str(1000 + i)] for i in range(50)]
    path = write_csv(rows, header=("to", "name", "code"))
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(
            path, text="Hi {name}, code {code}", credentials=emu.credentials, options=opts()
        )
        assert report.status == "completed", report.message
        batch_id = report.batches[0].id
        # Read them back as any client would: the official SDK, in a thread.
        texts = await asyncio.to_thread(_sdk_texts, emu.credentials, batch_id)
    assert report.counts.accepted == 50
    assert texts[us_number(3)] == 'Hi N3 "q" \\ 😀, code 1003'
    assert len(texts) == 50


def _sdk_texts(creds: engine.Credentials, batch_id: str | None) -> dict[str, str]:
    from ringcentral import SDK

    sdk = SDK(creds.client_id, creds.client_secret, creds.server_url)
    platform = sdk.platform()
    platform.login(jwt=creds.jwt)
    resp = platform.get("/restapi/v1.0/account/~/a2p-sms/messages",
                        {"batchId": batch_id, "view": "Detailed", "perPage": 1000})
    return {m["to"][0]: m["text"] for m in resp.json_dict()["records"]}


async def test_rejections_come_back_with_csv_lines(write_csv: Callable[..., Path]) -> None:
    rows = [[us_number(i)] for i in range(20)]
    bad = {us_number(4), us_number(17)}
    path = write_csv(rows)
    async with Emulator(cfg(invalid_numbers=bad)) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_bytes=2048))
    assert report.status == "completed", report.message
    assert sorted((r.line, r.to, r.error_code) for r in report.rejected) == [
        (6, us_number(4), "SMS-RC-410"), (19, us_number(17), "SMS-RC-410")]
    assert report.counts.rejected == 2 and report.counts.accepted == 18


async def test_low_rate_limit_respected_nothing_lost(write_csv: Callable[..., Path]) -> None:
    n = 400
    path = write_csv([[us_number(i)] for i in range(n)])
    limits = RateLimitConfig(light=8, auth=5, window=2.0)
    async with Emulator(EmulatorConfig.fast(rate_limits=limits, processing_rate=2000)) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_bytes=2048, concurrency=4,
                                                     light_limit=50))
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == n and ledger["duplicates"] == 0
    assert ledger["responses_429"] == 0
    assert report.requests["rate_limited"] == 0


async def test_429_penalty_is_waited_out() -> None:
    """A burst over the server's limit meets 429s once, then waits out the penalty."""
    limits = RateLimitConfig(light=2, auth=5, window=1.0)
    async with Emulator(EmulatorConfig.fast(rate_limits=limits)) as emu:
        async with ApiClient(emu.url) as client:
            client.auth = Auth(client, emu.credentials)
            a2p = A2P(client)
            started = time.monotonic()
            # Five at once: the client has not yet heard the limit is 2.
            results = await asyncio.gather(*(a2p.a2p_senders() for _ in range(5)))
            elapsed = time.monotonic() - started
        ledger = emu.ledger()
    assert all(r == ["+16505550100", "+16505550101", "+18885550100"] for r in results)
    assert client.stats.rate_limited == ledger["responses_429"] >= 1
    # Every request sent during a penalty restarts it and is refused: holding
    # the whole group means each refused request is met once, not again.
    assert ledger["responses_429"] <= 3
    assert elapsed >= 1.0


async def test_token_expiring_mid_job(write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(i)] for i in range(300)])
    # 3 s of processing: the job still polls when its token expires.
    async with Emulator(cfg(processing_rate=100)) as emu:
        async def expire_once_sending() -> None:
            # Once the first batch is in, an hour and a bit passes on the emulator's clock.
            await until(lambda: emu.ledger()["accepted"] > 0, "the first batch accepted")
            emu.advance(emu.config.access_token_ttl + 1)

        expiry = asyncio.create_task(expire_once_sending())
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_bytes=2048, concurrency=2))
        await expiry
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == 300
    # The login and exactly one renewal, whatever number of requests met the expiry.
    assert ledger["requests"]["token"] == 2
    assert ledger["status_counts"]["401"] >= 1


async def test_503_with_retry_after_is_retried(write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(i)] for i in range(200)])
    faults = FaultConfig(seed=3, error_503_share=0.3, retry_after_503=0.1)
    async with Emulator(cfg(faults=faults)) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_bytes=2048))
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == 200 and ledger["duplicates"] == 0
    # Each 503 (seeded, on any endpoint) was retried once after its Retry-After.
    assert report.requests["retries"] == ledger["faults"]["error_503"] > 0


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_concurrency_is_respected(write_csv: Callable[..., Path], concurrency: int) -> None:
    path = write_csv([[us_number(i)] for i in range(600)])
    faults = FaultConfig(latency=0.05, paths=("createA2PSMS",))
    async with Emulator(cfg(faults=faults)) as emu:
        report = await engine.send_bulk(
            path, text="Hi", credentials=emu.credentials,
            options=opts(max_batch_bytes=1500, concurrency=concurrency),
        )
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["max_in_flight"]["createA2PSMS"] == concurrency


async def test_report_is_json_ready(write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(i)] for i in range(5)] + [["not a number"]])
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
    data = orjson.loads(orjson.dumps(report.to_dict()))
    assert data["counts"]["invalid"] == 1
    assert data["dropped"][0]["line"] == 7
    assert data["requests"]["requests"]["createA2PSMS"] == 1
    await asyncio.sleep(0)


async def test_without_refresh_tokens_the_jwt_is_presented_again(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(300)])
    config = cfg(access_token_ttl=2, issue_refresh_tokens=False, processing_rate=100)
    async with Emulator(config) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_bytes=2048, concurrency=2))
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert ledger["accepted"] == 300 and ledger["duplicates"] == 0
    # Each renewal is one JWT login (no refresh grant exists): a few, never a loop.
    assert 2 <= ledger["requests"]["token"] <= 8
    assert ledger["status_counts"].get("401", 0) == 0  # renewed ahead of expiry
