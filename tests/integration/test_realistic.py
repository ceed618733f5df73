"""The engine against the realistic emulator, in compressed time: per-number pace,
late receipts, SMS-CAR-104, carrier rejections, a refresh that settles them all."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from support import SENDER, opts, us_number

import engine
from engine.config import Credentials
from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig
from engine.emulator.state import MessageQuery
from engine.errors import ConfigError
from engine.hygiene import OUTSIDE_PLUS_ONE
from engine.report import Counts

LOCAL_2 = "+16505550101"
TOLL_FREE = "+18885550100"


def _settled(c: Counts) -> int:
    return c.delivered + c.failed + c.pending + c.rejected + c.dropped


async def test_fifty_thousand_over_three_senders_add_up_and_a_refresh_settles_them(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    # The engine sends from one number per job (several senders per job is
    # another issue): three jobs run at once, one per number, against one
    # emulator whose numbers keep their own pace (toll-free 8/s, local 1/s),
    # an hour every two real seconds.
    plan = {TOLL_FREE: 40_000, SENDER: 5_000, LOCAL_2: 5_000}
    files: dict[str, Path] = {}
    start = 0
    for sender, rows in plan.items():
        numbers = [us_number(start + i) for i in range(rows - 30)]
        start += rows
        # Dirty rows, dropped by hygiene: duplicates, nonsense, abroad.
        numbers += numbers[:10] + ["555-12"] * 10 + [f"+4420718387{i:02d}" for i in range(10)]
        files[sender] = write_csv([[n] for n in numbers], name=f"{sender[1:]}.csv")
    # Rate limits on, as RingCentral has them: their windows shrink with the
    # clock and the engine learns that from the headers.
    config = EmulatorConfig(time_scale=1800.0, carrier_reject_share=0.01, seed=11)
    async with Emulator(config) as emu:
        options = opts(max_batch_messages=2_000)

        async def job(sender: str) -> engine.JobReport:
            return await engine.send_bulk(
                files[sender], text="Hi", sender=sender, credentials=emu.credentials,
                journal=tmp_path / f"{sender[1:]}.journal", options=options)

        reports = await asyncio.gather(*(job(s) for s in plan))
        for report in reports:
            assert report.status == "completed", report.message
        counts = [r.counts for r in reports]
        assert sum(c.read for c in counts) == 50_000
        for c in counts:
            assert _settled(c) == c.read
            assert c.delivered + c.failed + c.pending == c.accepted
            assert (c.duplicates, c.invalid, c.outside_us_canada) == (10, 10, 10)
        assert sum(c.rejected for c in counts) > 300  # 1% refused by the "carrier"
        assert sum(c.pending for c in counts) > 0
        assert all("still pending" in r.message and "refresh the job later" in r.message
                   for r in reports if r.counts.pending)

        emu.advance(2 * config.late_receipt_delay + config.receipt_delay
                    + config.pending_resolve_delay)
        later = [await engine.refresh(r.journal or "", credentials=emu.credentials)
                 for r in reports]
        totals = emu.runtime.state.statuses(_everything(emu))

    for before, after in zip(reports, later, strict=True):
        c = after.counts
        assert after.status == "completed", after.message
        assert c.pending == 0
        assert _settled(c) == c.read == before.counts.read
        assert c.delivered > before.counts.delivered
        assert c.accepted == before.counts.accepted
    assert sum(c.counts.delivered for c in later) == totals.counts["delivered"]
    assert sum(c.counts.failed for c in later) == (
        totals.counts.get("deliveryFailed", 0) + totals.counts.get("sendingFailed", 0))
    assert "SMS-CAR-104" not in totals.errors.get("deliveryFailed", {})


def _everything(emu: Emulator) -> MessageQuery:
    return MessageQuery(date_from=0.0, date_to=emu.runtime.clock())


async def test_a_number_sends_at_its_pace_in_emulated_time(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(800)])
    config = EmulatorConfig(time_scale=3600.0, rate_limits=RateLimitConfig(enabled=False))
    async with Emulator(config) as emu:
        t0 = emu.runtime.clock()
        report = await engine.send_bulk(path, text="Hi", sender=TOLL_FREE,
                                        credentials=emu.credentials, options=opts())
        batch = emu.runtime.state.batches[-1]
    assert report.status == "completed", report.message
    # 800 messages at 8 a second: 100 emulated seconds of processing.
    assert batch.end - batch.start == pytest.approx(100.0)
    assert batch.start >= t0


async def test_an_app_without_the_a2p_permission_stops_at_once_with_one_line(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([[us_number(i)] for i in range(10)])
    async with Emulator(EmulatorConfig.fast(a2p_permission=False)) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
    assert report.status == "failed"
    assert "A2P SMS permission" in report.message
    assert "\n" not in report.message
    assert ledger["requests"].get("createA2PSMS", 0) == 0
    assert ledger["status_counts"].get("403") == 1  # stopped at the first refusal


async def test_texts_are_limited_in_utf16_units_and_canada_parses_like_the_us(
    write_csv: Callable[..., Path],
) -> None:
    emoji = "\U0001F600" * 501  # 501 code points, 1002 UTF-16 units
    rows = [["(416) 555-0123", "x" * 1000], ["604 555 0199", emoji],
            ["+442071838750", "hi"]]
    path = write_csv(rows, header=("to", "text"))
    async with Emulator(EmulatorConfig.fast()) as emu:
        report = await engine.send_bulk(path, credentials=emu.credentials,
                                        options=opts(region="CA"))
        sent = emu.lookup(["+14165550123", "+16045550199"])[SENDER]
    assert report.status == "completed", report.message
    reasons = {d.line: d.reason for d in report.dropped}
    assert reasons == {3: "text longer than 1000 characters (1002)", 4: OUTSIDE_PLUS_ONE}
    assert sent == {"+14165550123": 1, "+16045550199": 0}


def test_the_sandbox_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="sandbox, where High Volume SMS does not work"):
        Credentials(server_url="https://platform.devtest.ringcentral.com/", client_id="a",
                    client_secret="b", jwt="c")
