"""Events over the WebSocket transport beside polling: same answers, earlier, and safe."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from support import cfg, opts, until, us_number

import engine
from engine.emulator import Emulator
from engine.prune import OPTED_OUT_LIVE

SENDER = "+16505550100"


def live_failures(journal: Path) -> set[tuple[str, str, str]]:
    db = sqlite3.connect(journal)
    try:
        rows = db.execute("SELECT recipient, status, error_code FROM live_results").fetchall()
    except sqlite3.OperationalError:
        rows = []
    finally:
        db.close()
    return {tuple(r) for r in rows}


def outcome(report: engine.JobReport) -> dict[str, Any]:
    c = report.counts
    return {"accepted": c.accepted, "delivered": c.delivered, "failed": c.failed,
            "pending": report.to_dict()["counts"].get("pending"),
            "failed_rows": sorted((f.line, f.to, f.error_code) for f in report.failed)}


async def _job(path: Path, tmp: Path, name: str, *, events: bool, speed: float,
               setup: Callable[[Emulator], None] = lambda emu: None,
               during: Callable[[Emulator], Any] | None = None,
               **options: Any) -> tuple[engine.JobReport, Emulator, Path]:
    journal = tmp / f"{name}.journal"
    # One POST at a time: the emulator draws outcomes by batch order, so two runs agree.
    async with Emulator(cfg(processing_rate=speed, delivery_failure_share=0.05)) as emu:
        setup(emu)
        job = asyncio.create_task(engine.send_bulk(
            path, text="Hello", credentials=emu.credentials, journal=str(journal),
            options=opts(max_batch_messages=100, events=events, **{"concurrency": 1, **options})))
        if during is not None:
            await during(emu)
        report = await job
    return report, emu, journal


@pytest.mark.slow
async def test_events_and_polls_racing_give_the_polling_counts(
        write_csv: Callable[..., Path], tmp_path: Path) -> None:
    path = write_csv([[us_number(i)] for i in range(1500)])
    polled, _, _ = await _job(path, tmp_path, "polled", events=False, speed=1000)

    def twice(emu: Emulator) -> None:
        # Every event sent twice, some late: applied once, and never backwards.
        emu.events.configure(duplicate_share=1.0)

    both, emu, journal = await _job(path, tmp_path, "both", events=True, speed=1000, setup=twice)
    assert both.status == polled.status == "completed"
    assert outcome(both) == outcome(polled)
    assert emu.events.counts["notifications"] > 1500 and emu.events.counts["duplicates"] > 0
    # The failures events told, one row a message, are among those the results pages
    # list (the job may end, by polling, before the last events are in).
    told = live_failures(journal)
    assert told <= {(f.to, f.status, f.error_code) for f in both.failed}
    assert len(told) >= len(both.failed) // 2
    assert len(both.failed) == both.counts.failed > 0


@pytest.mark.slow
async def test_a_dropped_websocket_loses_nothing(
        write_csv: Callable[..., Path], tmp_path: Path) -> None:
    path = write_csv([[us_number(i)] for i in range(1500)])
    polled, _, _ = await _job(path, tmp_path, "polled", events=False, speed=500)

    async def drop(emu: Emulator) -> None:
        await until(lambda: emu.events.counts["notifications"] > 0, "a first event")
        await emu.events.drop_all()
        # The feed falls back to polling, then connects and subscribes again.
        await until(lambda: emu.events.counts["subscriptions"] >= 2, "a new subscription")

    dropped, emu, journal = await _job(path, tmp_path, "dropped", events=True, speed=500,
                                       during=drop)
    assert emu.events.counts["drops"] == 1
    assert outcome(dropped) == outcome(polled)
    ledger = emu.ledger()
    assert ledger["accepted"] == 1500 and ledger["duplicates"] == 0
    # Failures told before the drop or after it are in the report too (polling saw all).
    assert live_failures(journal) <= {(f.to, f.status, f.error_code) for f in dropped.failed}


@pytest.mark.slow
async def test_silent_events_fall_back_to_polling(
        write_csv: Callable[..., Path], tmp_path: Path) -> None:
    path = write_csv([[us_number(i)] for i in range(600)])

    def mute(emu: Emulator) -> None:
        emu.events.configure(delay=1e9)  # subscribed, but nothing ever comes

    report, emu, journal = await _job(path, tmp_path, "silent", events=True, speed=200,
                                      setup=mute, events_silence=0.5)
    assert report.status == "completed"
    assert report.counts.accepted == 600
    assert report.counts.delivered + report.counts.failed == 600
    assert emu.events.counts["notifications"] == 0
    assert emu.events.counts["subscriptions"] >= 2  # it gave up on the silent one
    assert live_failures(journal) == set()


@pytest.mark.slow
async def test_an_opt_out_event_keeps_the_number_out_of_later_batches(
        write_csv: Callable[..., Path], tmp_path: Path) -> None:
    numbers = [us_number(i) for i in range(500)]
    path = write_csv([[n] for n in numbers])
    leaver = numbers[-3]  # in the last batch, which pacing posts seconds later

    async def opt_out(emu: Emulator) -> None:
        await until(lambda: emu.ledger()["accepted"] > 0, "a first batch")
        # The recipient texts STOP (another channel, as far as the job knows).
        emu.opt_out(SENDER, leaver)

    report, emu, _ = await _job(path, tmp_path, "optout", events=True, speed=100,
                                during=opt_out, horizon=1.0, rate=100.0)
    assert report.status == "completed", report.message
    assert emu.lookup([leaver]) == {SENDER: {leaver: 0}}
    ledger = emu.ledger()
    assert ledger["accepted"] == 499 and ledger["duplicates"] == 0
    assert report.counts.opted_out == 1 and report.counts.accepted == 499
    dropped = [(row.line, row.value, row.reason) for row in report.dropped]
    assert dropped == [(numbers.index(leaver) + 2, leaver, OPTED_OUT_LIVE)]


@pytest.mark.slow
async def test_the_subscription_is_renewed_before_it_expires(
        write_csv: Callable[..., Path], tmp_path: Path) -> None:
    path = write_csv([[us_number(i)] for i in range(2000)])
    journal = tmp_path / "renew.journal"
    # A thousand emulated seconds a second: the subscription's 900 s last 0.9 s.
    async with Emulator(cfg(time_scale=1000.0, processing_rate=0.8)) as emu:
        report = await engine.send_bulk(path, text="Hello", credentials=emu.credentials,
                                        journal=str(journal),
                                        options=opts(max_batch_messages=100, concurrency=1))
    assert report.status == "completed", report.message
    assert report.counts.delivered + report.counts.failed == 2000
    counts = emu.events.counts
    assert counts["renewals"] >= 1
    assert counts["subscriptions"] == 1 and counts["drops"] == 0
    told = live_failures(journal)
    assert told <= {(f.to, f.status, f.error_code) for f in report.failed}
    assert len(told) >= len(report.failed) // 2 > 0
