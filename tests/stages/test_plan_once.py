"""The plan a user confirms is the plan sent: made once, after login, with the real
sender and opt-outs, saved in the journal, and not made again to send it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support import cfg, opts, us_number

from engine.emulator import Emulator
from engine.job import Job
from engine.report import JobReport

FIRST_SENDER = "+16505550100"  # the emulator account's first A2P number


def _rows(n: int) -> list[list[str]]:
    return [[us_number(i)] for i in range(n)] + [[us_number(0)]]  # and one duplicate


async def test_the_confirmed_plan_is_sent_as_shown(write_csv: Callable[..., Path]) -> None:
    path = write_csv(_rows(40))
    shown: dict[str, object] = {}
    async with Emulator(cfg(opt_outs={FIRST_SENDER: [us_number(3)]})) as emu:

        async def confirm(plan: JobReport, schedule: list[str]) -> bool:
            shown["sender"] = plan.sender
            shown["dropped"] = plan.counts.dropped_kinds()
            shown["batches"] = [(b.seq, b.messages, b.status) for b in plan.batches]
            shown["posted"] = emu.ledger()["batches"]
            shown["schedule"] = schedule
            return True

        job = Job(str(path), text="Hi", sender=None, credentials=emu.credentials,
                  journal=None, options=opts(max_batch_messages=10), progress=None,
                  confirm=confirm)
        report = await job.run()
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert shown["sender"] == FIRST_SENDER
    assert shown["dropped"] == {"duplicates": 1, "opted_out": 1}
    assert shown["posted"] == 0  # asked before anything was sent
    assert shown["batches"] == [(1, 10, "planned"), (2, 10, "planned"), (3, 10, "planned"),
                                (4, 9, "planned")]
    assert [(b.seq, b.messages) for b in report.batches] == [
        (seq, n) for seq, n, _ in shown["batches"]]  # type: ignore[attr-defined]
    assert (report.counts.accepted, ledger["accepted"]) == (39, 39)
    assert ledger["requests"]["token"] == 1  # one login for planning and sending


async def test_a_plan_declined_sends_nothing_and_leaves_nothing(
    write_csv: Callable[..., Path], state_dir: Path,
) -> None:
    path = write_csv(_rows(5))
    async with Emulator(cfg()) as emu:

        async def no(plan: JobReport, schedule: list[str]) -> bool:
            return False

        declined = await Job(str(path), text="Hi", sender=None, credentials=emu.credentials,
                             journal=None, options=opts(), progress=None, confirm=no).run()
        assert (declined.status, declined.message, declined.journal) == (
            "interrupted", "interrupted before sending: nothing was sent", None)
        assert emu.ledger()["batches"] == 0
        assert not list(state_dir.rglob("*.journal"))
        # Declining claimed nothing: the same job, asked again and confirmed, is sent.

        async def yes(plan: JobReport, schedule: list[str]) -> bool:
            return True

        sent = await Job(str(path), text="Hi", sender=None, credentials=emu.credentials,
                         journal=None, options=opts(), progress=None, confirm=yes).run()
        assert sent.status == "completed", sent.message
        assert emu.ledger()["accepted"] == 5
