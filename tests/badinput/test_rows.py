"""Bad rows in a readable file: each dropped with its line and a reason; the rest is sent.

And texts that must arrive exactly as written (emoji, right-to-left scripts),
read back from the emulator with the official RingCentral SDK; template
variables left empty; senders that cannot send.
"""

from __future__ import annotations

import asyncio

import pytest
from support import cfg, opts

import engine
from engine.emulator import CREATE_BATCH, Emulator
from engine.errors import ConfigError, SenderError
from engine.report import DroppedRow, JobReport

from .conftest import WriteBytes, sdk_texts


async def _send(path: object, **kw: object) -> tuple[JobReport, dict[str, str]]:
    """Send, then read every accepted message's text back with the SDK."""
    options = kw.pop("options", None) or opts()
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, credentials=emu.credentials,  # type: ignore[arg-type]
                                        options=options, **kw)  # type: ignore[arg-type]
        assert report.status == "completed", report.message
        texts = await asyncio.to_thread(sdk_texts, emu.credentials,
                                        [b.id for b in report.batches])
        ledger = emu.ledger()
    assert ledger["accepted"] == report.counts.accepted == len(texts)
    assert ledger["duplicates"] == 0
    return report, texts


def _lines(report: JobReport) -> dict[int, str]:
    return {d.line: d.reason for d in report.dropped}


async def test_rows_with_too_many_or_too_few_fields(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,name\n+14155550100,Ann\n+14155550101,Bob,extra\n+14155550102\n"
                       "+14155550103,Dee\n")
    report, texts = await _send(path, text="Hi {name}")
    assert report.dropped == [
        DroppedRow(3, "+14155550101,Bob,extra", "malformed row: expected 2 fields, found 3"),
        DroppedRow(4, "+14155550102", "malformed row: expected 2 fields, found 1"),
    ]
    assert texts == {"+14155550100": "Hi Ann", "+14155550103": "Hi Dee"}
    assert report.counts.read == 4 and report.counts.invalid == 2


async def test_quoted_rows_with_the_wrong_number_of_fields(write_bytes: WriteBytes) -> None:
    path = write_bytes('to,name\n"+14155550100","Ann, Jr."\n"+14155550101","Bob","x"\n'
                       '+14155550102,"Cy"\n')
    report, texts = await _send(path, text="Hi {name}")
    assert _lines(report) == {3: "malformed row: expected 2 fields, found 3"}
    assert texts == {"+14155550100": "Hi Ann, Jr.", "+14155550102": "Hi Cy"}


async def test_blank_lines_are_skipped_and_line_numbers_stay_true(
    write_bytes: WriteBytes,
) -> None:
    # Lines:  1 header, 2 blank, 3 ok, 4 blank, 5 blank (CRLF), 6 bad, 7 spaces, 8 ok, 9 blank
    path = write_bytes("to,name\n\n+14155550100,Ann\n\n\r\n+1415CALLME,Bob\n   \n"
                       "+14155550102,Cy\n\n")
    report, texts = await _send(path, text="Hi {name}")
    assert report.dropped == [DroppedRow(6, "+1415CALLME", "invalid number: has letters")]
    assert report.counts.read == 3
    assert (report.batches[0].first_line, report.batches[0].last_line) == (3, 8)
    assert texts == {"+14155550100": "Hi Ann", "+14155550102": "Hi Cy"}


async def test_blank_lines_in_a_quoted_file_keep_line_numbers(write_bytes: WriteBytes) -> None:
    path = write_bytes('to,name\n\n"+14155550100","Ann"\n\n"12","Bob"\n')
    report, _ = await _send(path, text="Hi {name}")
    assert [d.line for d in report.dropped] == [5]


async def test_rejections_after_blank_lines_map_to_the_right_line(
    write_bytes: WriteBytes,
) -> None:
    """The API's 1-based index in the batch must come back as the file's line."""
    path = write_bytes("to\n\n+14155550100\n\n+14155550101\n\n\n+14155550102\n")
    async with Emulator(cfg(invalid_numbers={"+14155550101"})) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
    assert report.status == "completed", report.message
    assert [(r.line, r.to, r.error_code) for r in report.rejected] == [
        (5, "+14155550101", "SMS-RC-410")]


async def test_numbers_with_letters_are_dropped(write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n+14155550100\n415-555-01O1\n1-800-FLOWERS\n+1 415 555 0102 x12\n"
                       "(415) 555-0103\n")
    report, texts = await _send(path, text="Hi")
    assert _lines(report) == {3: "invalid number: has letters",
                              4: "invalid number: has letters",
                              5: "invalid number: has letters"}
    assert sorted(texts) == ["+14155550100", "+14155550103"]  # national format normalised


async def test_per_row_text_over_1000_characters_is_dropped(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,text\n+14155550100," + "a" * 1001 + "\n+14155550101," + "b" * 1000
                       + "\n+14155550102,\n")
    report, texts = await _send(path, text="default")
    assert report.dropped == [
        DroppedRow(2, "+14155550100", "text longer than 1000 characters (1001)")]
    assert report.counts.too_long == 1
    assert texts == {"+14155550101": "b" * 1000, "+14155550102": "default"}


async def test_a_rendered_template_over_1000_characters_is_dropped(
    write_bytes: WriteBytes,
) -> None:
    path = write_bytes("to,name\n+14155550100," + "n" * 997 + "\n+14155550101," + "m" * 996
                       + "\n")
    report, texts = await _send(path, text="Hi {name}!")  # 4 + 997 = 1001
    assert _lines(report) == {2: "text longer than 1000 characters (1001)"}
    assert texts == {"+14155550101": "Hi " + "m" * 996 + "!"}


async def test_a_text_field_of_several_megabytes_drops_that_row_only(
    write_bytes: WriteBytes,
) -> None:
    path = write_bytes(b"to,text\n+14155550100," + b"x" * (5 << 20) + b"\n+14155550101,short\n")
    report, texts = await _send(path, text="default")
    assert report.dropped == [
        DroppedRow(2, "+14155550100", f"text longer than 1000 characters ({5 << 20})")]
    assert texts == {"+14155550101": "short"}


async def test_a_number_field_of_several_megabytes_drops_that_row_only(
    write_bytes: WriteBytes,
) -> None:
    path = write_bytes(b"to\n" + b"1" * (4 << 20) + b"\n+14155550101\n")
    report, texts = await _send(path, text="Hi")
    assert [(d.line, d.reason) for d in report.dropped] == [(2, "invalid number: too long")]
    assert list(texts) == ["+14155550101"]


async def test_a_quoted_field_of_several_megabytes_drops_that_row_only(
    write_bytes: WriteBytes,
) -> None:
    path = write_bytes(b'to,text\n+14155550100,"' + b"yes, " * (1 << 20) + b'"\n'
                       b"+14155550101,short\n")
    report, texts = await _send(path, text="default")
    assert [(d.line, d.reason[:30]) for d in report.dropped] == [
        (2, "text longer than 1000 characte")]
    assert texts == {"+14155550101": "short"}


EMOJI = "Family 👨‍👩‍👧‍👦, thumbs 👍🏽, flag 🇫🇷, face 😀, keycap 1️⃣"
ARABIC = "مرحبا بالعالم، رقمك ١٢٣"
HEBREW = "שלום עולם! הקוד שלך: 42"
MIXED = "\u200fتم الدفع\u200e: $10 — OK ✓"
COMBINING = "e\u0301 n\u0303 Z\u0351\u0362a\u0315l\u0336g\u0334o"


async def test_emoji_and_right_to_left_text_pass_through_intact(
    write_bytes: WriteBytes,
) -> None:
    rows = [("+14155550100", EMOJI), ("+14155550101", ARABIC), ("+14155550102", HEBREW),
            ("+14155550103", MIXED), ("+14155550104", COMBINING)]
    body = "to,text\n" + "".join(f'{to},"{text}"\n' for to, text in rows)
    path = write_bytes(body)
    report, texts = await _send(path, text="default")
    assert report.dropped == []
    assert texts == dict(rows)


async def test_emoji_and_rtl_in_template_variables_and_a_bom(write_bytes: WriteBytes) -> None:
    path = write_bytes("\ufeffto,name,code\n+14155550100,سارة,٤٢\n+14155550101,דָּנִי,🔑7\n"
                       "+14155550102,Zoë 🐱,x\n")
    _, texts = await _send(path, text="שלום {name} 👋 code {code}")
    assert texts == {
        "+14155550100": "שלום سارة 👋 code ٤٢",
        "+14155550101": "שלום דָּנִי 👋 code 🔑7",
        "+14155550102": "שלום Zoë 🐱 👋 code x",
    }


async def test_emoji_text_of_exactly_1000_utf16_units_is_sent(write_bytes: WriteBytes) -> None:
    """The limit counts UTF-16 units (an emoji is 2), never fewer than code points,
    so no text hvsms sends can be refused whichever way the server counts."""
    text = "😀" * 500
    path = write_bytes(f"to,text\n+14155550100,{text}\n+14155550101,{text}😀\n")
    report, texts = await _send(path, text="default")
    assert _lines(report) == {3: "text longer than 1000 characters (1002)"}
    assert texts == {"+14155550100": text}


async def test_empty_template_variable_drops_the_row_by_default(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,name,code\n+14155550100,Ann,1\n+14155550101,,2\n+14155550102,  ,3\n"
                       "+14155550103,Dee,\n")
    report, texts = await _send(path, text="Hi {name}, code {code}")
    assert report.dropped == [
        DroppedRow(3, "+14155550101", "empty value for {name}"),
        DroppedRow(4, "+14155550102", "empty value for {name}"),
        DroppedRow(5, "+14155550103", "empty value for {code}"),
    ]
    assert texts == {"+14155550100": "Hi Ann, code 1"}


async def test_empty_template_variable_sent_empty_when_asked(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,name\n+14155550100,Ann\n+14155550101,\n")
    report, texts = await _send(path, text="Hi {name}!", options=opts(empty_variables="send"))
    assert report.dropped == []
    assert texts == {"+14155550100": "Hi Ann!", "+14155550101": "Hi !"}


async def test_a_template_naming_a_missing_column(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,name\n+14155550100,Ann\n")
    async with Emulator(cfg()) as emu:
        with pytest.raises(ConfigError) as caught:
            await engine.send_bulk(path, text="Hi {first}", credentials=emu.credentials,
                                   options=opts())
        assert emu.ledger()["requests"] == {}
    assert str(caught.value) == ("the template uses column 'first' that the file does not "
                                 "have; the file's columns are: 'to', 'name'")


async def test_a_default_text_over_1000_characters(write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n+14155550100\n")
    async with Emulator(cfg()) as emu:
        with pytest.raises(ConfigError) as caught:
            await engine.send_bulk(path, text="x" * 1001, credentials=emu.credentials,
                                   options=opts())
        assert emu.ledger()["requests"] == {}
    assert str(caught.value) == "the default text is 1001 characters; the API's limit is 1000"


NOT_A2P = ("is not an A2P SMS sender of this account "
           "(A2P senders: +16505550100, +16505550101, +18885550100)")


@pytest.mark.parametrize(("sender", "message"), [
    ("6505550100", "sender '6505550100' is not an E.164 number (+15551234567)"),
    ("+1 650 555 0100", "sender '+1 650 555 0100' is not an E.164 number (+15551234567)"),
    ("+16505550102", f"+16505550102 {NOT_A2P}"),
    ("+16505559999", f"+16505559999 {NOT_A2P}"),
], ids=["national", "spaces", "sms-only-number", "not-on-the-account"])
async def test_a_sender_that_cannot_send(write_bytes: WriteBytes, sender: str,
                                         message: str) -> None:
    path = write_bytes("to\n+14155550100\n")
    async with Emulator(cfg()) as emu:
        with pytest.raises(SenderError) as caught:
            await engine.send_bulk(path, text="Hi", sender=sender, credentials=emu.credentials,
                                   options=opts())
        ledger = emu.ledger()
    assert isinstance(caught.value, ConfigError)
    assert str(caught.value) == message
    assert CREATE_BATCH not in ledger["requests"] and ledger["batches"] == 0
