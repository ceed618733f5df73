"""Files hvsms cannot read at all: a clear `InputError` (file, line, column) and nothing sent.

Library calls against an emulator; the emulator's ledger shows what was sent.
Errors found in the header come before any request at all; errors in the rows
come before any batch, even when the bad line is the last of 300,000.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import orjson
import pytest
from support import cfg, opts, us_number

import engine
from engine.emulator import CREATE_BATCH, Emulator
from engine.errors import InputError

from .conftest import WriteBytes, sdk_texts


async def _refused(path: Path, **kw: object) -> tuple[InputError, dict[str, object]]:
    """Run a job on `path`; it must raise InputError. Returns it and the emulator's ledger."""
    kw.setdefault("text", "Hi")
    async with Emulator(cfg()) as emu:
        with pytest.raises(InputError) as caught:
            await engine.send_bulk(path, credentials=emu.credentials, options=opts(),
                                   **kw)  # type: ignore[arg-type]
        ledger = emu.ledger()
    assert ledger["batches"] == 0 and CREATE_BATCH not in ledger["requests"]
    assert caught.value.path == str(path)
    assert "Traceback" not in str(caught.value)
    return caught.value, ledger


async def test_empty_file(write_bytes: WriteBytes) -> None:
    path = write_bytes(b"")
    err, ledger = await _refused(path)
    assert str(err) == f"{path}: the file is empty (no header row)"
    assert ledger["requests"] == {}  # not even a login


async def test_file_of_blank_lines_is_empty(write_bytes: WriteBytes) -> None:
    path = write_bytes(b"\n\r\n   \n")
    err, ledger = await _refused(path)
    assert err.message == "the file is empty (no header row)"
    assert ledger["requests"] == {}


async def test_header_only_sends_nothing(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,name\n")
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi {name}", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
    assert report.status == "completed", report.message
    assert report.counts.read == 0 and report.batches == [] and report.dropped == []
    assert CREATE_BATCH not in ledger["requests"]


async def test_header_only_makes_no_request_at_all(write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n")
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts())
        ledger = emu.ledger()
    assert report.status == "completed"
    assert ledger["requests"] == {}


async def test_no_to_column_names_the_columns_found(write_bytes: WriteBytes) -> None:
    path = write_bytes("who,name\n+14155550100,Ann\n")
    err, ledger = await _refused(path)
    assert str(err) == (
        f"{path}:1: no recipient column: none of the header's columns ('who', 'name') is "
        "called 'to' or one of the usual names (phone, mobile, cell, number, ...)\n"
        "  hint: name the recipient column with --to-column, e.g. --to-column 'who'")
    assert (err.line, err.column) == (1, None)
    assert ledger["requests"] == {}
    # ...and naming it works.
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                        options=opts(to_column="who"))
    assert report.counts.accepted == 1


async def test_not_utf8_gives_line_column_byte_offset_and_encoding_hint(
    write_bytes: WriteBytes,
) -> None:
    data = "to,name\n+14155550100,Ann\n+14155550101,Renée\n".encode("cp1252")
    path = write_bytes(data)
    err, _ = await _refused(path, text="Hi {name}")
    assert str(err) == (f"{path}:3:17: not valid utf-8 (byte 0xe9 at byte offset 41)\n"
                        "  hint: give the file's encoding, e.g. --encoding cp1252")
    assert (err.line, err.column) == (3, 17)
    assert data[41:42] == b"\xe9"  # the byte offset is right
    # With the right encoding the same file goes through, accents intact.
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="Hi {name}", credentials=emu.credentials,
                                        options=opts(encoding="cp1252"))
        texts = await asyncio.to_thread(sdk_texts, emu.credentials,
                                        [b.id for b in report.batches])
    assert report.status == "completed" and report.counts.accepted == 2
    assert texts == {"+14155550100": "Hi Ann", "+14155550101": "Hi Renée"}


async def test_not_utf8_in_the_header(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,prénom\n+14155550100,Ann\n".encode("latin-1"))
    err, ledger = await _refused(path)
    assert (err.line, err.column) == (1, 6) and "byte offset 5)" in err.message
    assert err.hint is not None and "--encoding" in err.hint
    assert ledger["requests"] == {}


async def test_excel_workbook_given_as_csv(write_bytes: WriteBytes, tmp_path: Path) -> None:
    path = tmp_path / "recipients.csv"  # really an .xlsx: a zip archive
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    err, ledger = await _refused(path)
    assert str(err) == (f"{path}: this is a ZIP archive (an .xlsx workbook?), not a CSV text "
                        "file\n  hint: export the sheet as CSV (UTF-8) first")
    assert ledger["requests"] == {}


async def test_old_excel_workbook_given_as_csv(write_bytes: WriteBytes) -> None:
    path = write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    err, _ = await _refused(path)
    assert err.message == "this is an OLE document (an .xls workbook?), not a CSV text file"


async def test_nul_byte_in_the_header(write_bytes: WriteBytes) -> None:
    path = write_bytes(b"t\x00o\n+14155550100\n")
    err, ledger = await _refused(path)
    assert str(err) == f"{path}:1:2: NUL byte in the header: this is not a CSV text file"
    assert ledger["requests"] == {}


async def test_nul_byte_in_a_row(write_bytes: WriteBytes) -> None:
    path = write_bytes(b"to,name\n+14155550100,Ann\n+1415555\x000101,Bob\n")
    err, _ = await _refused(path)
    assert str(err) == f"{path}:3:9: NUL byte: this is not a CSV text file"


async def test_utf16_file_is_named_as_such(write_bytes: WriteBytes) -> None:
    path = write_bytes("to,name\n+14155550100,Ann\n".encode("utf-16"))
    err, _ = await _refused(path)
    assert "UTF-16" in str(err)
    async with Emulator(cfg()) as emu:
        with pytest.raises(InputError) as caught:
            await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                   options=opts(encoding="utf-16"))
    assert "UTF-16" in str(caught.value) and "offset 51" not in str(caught.value)


async def test_unbalanced_quote(write_bytes: WriteBytes) -> None:
    path = write_bytes(b'to,name\n+14155550100,"Ann\n+14155550101,Bob\n')
    err, _ = await _refused(path)
    assert str(err) == (f"{path}:2: unbalanced quotes: a quoted field is never closed\n"
                        "  hint: check the quotes on this line")


async def test_stray_quote_inside_a_quoted_field(write_bytes: WriteBytes) -> None:
    path = write_bytes(b'to,name\n+14155550100,Ann\n+14155550101,"Bob "the" B"\n'
                       b"+14155550102,Cy\n")
    err, _ = await _refused(path)
    assert str(err) == (f"{path}:3: malformed CSV: ',' expected after '\"'\n"
                        '  hint: a quote inside a quoted field must be doubled ("")')


async def test_a_row_over_32_mib_is_refused_without_reading_it_all(
    write_bytes: WriteBytes,
) -> None:
    path = write_bytes(b"to,text\n+14155550100," + b"x" * (33 << 20) + b"\n+14155550101,ok\n")
    err, _ = await _refused(path)
    assert str(err) == f"{path}:2: a row longer than 32 MiB"


async def test_unknown_encoding_name(write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n+14155550100\n")
    async with Emulator(cfg()) as emu:
        with pytest.raises(InputError) as caught:
            await engine.send_bulk(path, text="Hi", credentials=emu.credentials,
                                   options=opts(encoding="klingon-8"))
        assert emu.ledger()["requests"] == {}
    assert str(caught.value) == f"{path}: unknown encoding 'klingon-8'"


# --- a file that goes bad far into its rows --------------------------------------------

_LATE = textwrap.dedent("""
    import asyncio, sys, orjson, engine
    from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig

    async def main():
        cfg = EmulatorConfig.fast(rate_limits=RateLimitConfig(enabled=False))
        opts = engine.JobOptions(max_batch_bytes=100_000, poll_interval=0.05,
                                 light_limit=10_000)
        async with Emulator(cfg) as emu:
            try:
                await engine.send_bulk(sys.argv[1], text="Hi", credentials=emu.credentials,
                                       options=opts)
                error = None
            except engine.InputError as exc:
                error = str(exc)
            print(orjson.dumps({"error": error, "accepted": emu.ledger()["accepted"]}).decode())

    asyncio.run(main())
""")


@pytest.mark.parametrize("tail", [
    "+14155550100,Renée\n".encode("cp1252"),
    b"+14155550100,R\x00\n",
    b'+14155550100,"Ann\n',
], ids=["not-utf8", "nul", "quote"])
def test_a_file_unreadable_near_its_end_sends_nothing(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "recipients.csv"
    rows = "".join(f"{us_number(i)},x\n" for i in range(300_000)).encode()
    path.write_bytes(b"to,name\n" + rows + tail)
    try:
        done = subprocess.run([sys.executable, "-c", _LATE, str(path)], capture_output=True,
                              text=True, timeout=40, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the job hung after the input error")
    result = orjson.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] is not None and ":300002" in result["error"]
    assert result["accepted"] == 0, f"{result['accepted']} recipients sent before: {result}"
