"""Recipient hygiene end to end: every dirty line gets its known answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from support import cfg, opts, us_number

import engine
from engine import JobOptions
from engine.emulator import Emulator

SENDER = "+16505550100"
LONG = "x" * 1001

# (row, expected): "sent:+E164" or "dropped:<reason prefix>"; line = index + 2
DIRTY: list[tuple[list[str], str]] = [
    (["(415) 555-0123", ""], "sent:+14155550123"),
    (["415-555-0124", ""], "sent:+14155550124"),
    (["+1 415 555 0125", ""], "sent:+14155550125"),
    (["4155550126", "Own text 😀 مرحبا"], "sent:+14155550126"),
    (["(415) 555-0123", ""], "dropped:duplicate of line 2"),
    (["+14155550124", ""], "dropped:duplicate of line 3"),
    (["555-12", ""], "dropped:invalid number"),
    (["not a number", ""], "dropped:invalid number: has letters"),
    (["1-800-FLOWERS", ""], "dropped:invalid number: has letters"),
    (["+14155550127", LONG], "dropped:text longer than 1000 characters"),
    (["415.555.0129", "A quoted text, with a comma"], "sent:+14155550129"),
    (["+442071838750", ""], "dropped:outside US/Canada: High Volume SMS serves +1 numbers only"),
    (["+14155550130", ""], "dropped:opted out"),
    (["+14155550131", ""], "dropped:suppressed"),
]


async def test_dirty_file_every_line_has_its_known_answer(
    write_csv: Callable[..., Path], tmp_path: Path
) -> None:
    path = write_csv([row for row, _ in DIRTY], header=("to", "text"))
    suppress = tmp_path / "do-not-text.csv"
    suppress.write_text("phone\n(415) 555-0131\n")
    opt_outs = {SENDER: ["+14155550130"]}
    async with Emulator(cfg(opt_outs=opt_outs)) as emu:
        report = await engine.send_bulk(
            path, text="Default text", credentials=emu.credentials,
            options=opts(suppress=str(suppress)),
        )
        sent = {n: c for n, c in emu.lookup(
            [e.split(":", 1)[1] for _, e in DIRTY if e.startswith("sent:")]
            + ["+14155550130", "+14155550131", "+14155550127"]
        )[SENDER].items()}
    assert report.status == "completed", report.message
    dropped = {d.line: d.reason for d in report.dropped}
    for i, (_, expected) in enumerate(DIRTY):
        line = i + 2
        kind, what = expected.split(":", 1)
        if kind == "sent":
            assert line not in dropped, (line, dropped.get(line))
            assert sent[what] == 1, what
        else:
            assert dropped[line].startswith(what), (line, dropped[line])
    # Nothing dropped reached the server.
    assert sent["+14155550130"] == sent["+14155550131"] == sent["+14155550127"] == 0
    c = report.counts
    assert (c.read, c.duplicates, c.invalid, c.too_long, c.opted_out, c.suppressed,
            c.outside_us_canada) == (14, 2, 3, 1, 1, 1, 1)
    assert c.accepted == 5


async def test_opt_outs_fetched_across_pages_are_honoured(
    write_csv: Callable[..., Path],
) -> None:
    n = 3000
    numbers = [us_number(i) for i in range(n)]
    opted = numbers[::2]  # 1500: two pages of opt-outs at 1000 a page
    path = write_csv([[x] for x in numbers])
    async with Emulator(cfg(opt_outs={SENDER: opted})) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
        counts = emu.lookup(numbers)[SENDER]
    assert report.status == "completed", report.message
    assert ledger["requests"]["listSmsConsents"] == 2  # (v2 consents, the v1 list's successor)
    assert report.counts.opted_out == 1500
    assert all(counts[x] == 0 for x in opted)
    assert all(counts[x] == 1 for x in numbers[1::2])


async def test_dedupe_across_batch_boundaries(write_csv: Callable[..., Path]) -> None:
    first = [us_number(i) for i in range(600)]
    rows = [[x] for x in first] + [[first[i]] for i in range(0, 600, 7)]
    path = write_csv(rows)
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(max_batch_bytes=2048))
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert len(report.batches) > 5
    assert ledger["accepted"] == 600 and ledger["duplicates"] == 0
    dups = [d for d in report.dropped if d.reason.startswith("duplicate")]
    assert len(dups) == len(range(0, 600, 7))
    assert dups[0].line == 602 and dups[0].reason == "duplicate of line 2"


async def test_dedupe_can_be_switched_off(write_csv: Callable[..., Path]) -> None:
    path = write_csv([[us_number(1)], [us_number(1)]])
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(dedupe=False))
        ledger = emu.ledger()
    assert report.counts.accepted == 2 and ledger["duplicates"] == 1


async def test_dry_run_plans_like_a_real_run_and_sends_nothing(
    write_csv: Callable[..., Path],
) -> None:
    rows = [[us_number(i), f"Name{i}"] for i in range(800)] + [["bad", "x"]]
    path = write_csv(rows, header=("to", "name"))
    text = "Hello {name}, see https://bit.ly/x1 — ünïcode"
    dry = await engine.send_bulk(path, text=text, sender=SENDER, dry_run=True,
                                 options=opts(max_batch_bytes=4096))
    assert dry.status == "completed" and dry.dry_run
    assert dry.requests == {} and dry.counts.accepted == 0
    assert any("bit.ly" in w for w in dry.warnings)
    assert dry.counts.segments == 800 and dry.estimated_cost == 800 * 0.007
    async with Emulator(cfg()) as emu:
        real = await engine.send_bulk(path, text=text, credentials=emu.credentials,
                                      options=opts(max_batch_bytes=4096))
    assert [(b.first_line, b.last_line, b.messages, b.bytes) for b in dry.batches] == [
        (b.first_line, b.last_line, b.messages, b.bytes) for b in real.batches]
    assert real.counts.accepted == 800


async def test_strict_mode_drops_invalid_but_possible_numbers(
    write_csv: Callable[..., Path],
) -> None:
    # +1 555 0100 xxx: possible length, but 555 is not an assigned US area code.
    path = write_csv([["+15550100123"], [us_number(5)]])
    loose = await engine.send_bulk(path, text="Hi", sender=SENDER, dry_run=True)
    strict = await engine.send_bulk(path, text="Hi", sender=SENDER, dry_run=True,
                                    options=JobOptions(validate="strict"))
    assert loose.counts.invalid == 0
    assert strict.counts.invalid == 1 and strict.dropped[0].line == 2
