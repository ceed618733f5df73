"""The job's stages on their own: preflight, the plan's window and sender, stopping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from engine.config import JobOptions
from engine.errors import ConfigError, JournalError, SenderError
from engine.journal import Journal
from engine.plan import DRY_RUN_SENDER, unsent_sender, window
from engine.preflight import check, prepare
from engine.stopping import Stopped, unless_stopped, until_stopped


async def test_preflight_binds_the_template_and_reads_only_its_columns(
    write_csv: Callable[..., Path],
) -> None:
    path = write_csv([["+14155550100", "Ann", "x"]], header=("phone", "name", "unused"))
    pre = await prepare(str(path), "Hi {name}", JobOptions())
    assert pre.default_text is None and pre.template is not None
    assert pre.select == [0, 1]  # the recipient, then the template's field
    assert pre.notes == [
        f"{path}: recipients are in the 'phone' column; --to-column to choose another"]
    assert not pre.no_rows()
    # 100 characters: 2 UCS-2 segments as written, 1 GSM-7 segment smartened.
    static = await prepare(str(path), "Hi {{all}}\u2019" + "x" * 91, JobOptions())
    assert (static.default_text, static.template, static.default_saved) == (
        "Hi {all}'" + "x" * 91, None, 1)


async def test_preflight_refuses_a_missing_or_empty_text(write_csv: Callable[..., Path]) -> None:
    path = write_csv([["+14155550100"]])
    with pytest.raises(ConfigError, match="no text: give a default text"):
        await prepare(str(path), None, JobOptions())
    with pytest.raises(ConfigError, match="the text is empty"):
        await prepare(str(path), "  ", JobOptions())
    with pytest.raises(ConfigError, match="the default text is 1001 characters"):
        await prepare(str(path), "x" * 1001, JobOptions())


async def test_preflight_check_records_the_file_then_refuses_it_changed(
    write_csv: Callable[..., Path], tmp_path: Path,
) -> None:
    path = write_csv([["+14155550100"], ["+14155550101"]])
    pre = await prepare(str(path), "Hi", JobOptions())
    with Journal.create(str(tmp_path / "j.journal"), {"size": path.stat().st_size}) as j:
        await check(pre, j)
        assert j.meta("fingerprint")
        await check(pre, j)  # the same file: fine
        path.write_text("to\n+14155550100\n+14155550109\n")
        with pytest.raises(JournalError, match="changed since the job began"):
            await check(pre, j)


def test_the_window_is_off_on_a_loopback_emulator_and_federal_elsewhere() -> None:
    local = window(JobOptions(), "http://127.0.0.1:8080")
    assert (local.hours, local.text, local.warnings) == (None, "any (no quiet hours)", ())
    real = window(JobOptions(), "https://platform.ringcentral.com")
    assert real.hours is not None and real.text == "08:00-21:00"
    assert real.warnings == (
        "quiet hours: 08:00-21:00 in each recipient's local time (by area code)",)
    off = window(JobOptions(window="any"), "https://platform.ringcentral.com")
    assert off.hours is None and off.warnings[0].startswith("quiet hours off (--window any)")


def test_a_job_that_sends_nothing_is_sized_with_a_placeholder_sender() -> None:
    assert unsent_sender(None, dry_run=True) == (
        None, ["dry run without a sender: sized with a 12-character number"])
    assert unsent_sender("+16505550100", dry_run=True) == ("+16505550100", [])
    assert len(DRY_RUN_SENDER) == len("+16505550100")
    with pytest.raises(SenderError):
        unsent_sender("6505550100", dry_run=True)


async def test_unless_stopped_cancels_the_work_when_the_stop_comes_first() -> None:
    stop = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> int:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return 1

    async def ready() -> int:
        return 7

    assert await unless_stopped(ready(), stop) == 7
    task = asyncio.create_task(unless_stopped(forever(), stop))
    await asyncio.sleep(0)
    stop.set()
    with pytest.raises(Stopped):
        await task
    assert cancelled.is_set()
    work = asyncio.ensure_future(forever())
    assert await until_stopped(work, stop) is False  # stopped already: not waited for
    work.cancel()
