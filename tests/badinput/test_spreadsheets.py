"""CSV files as spreadsheets export them: other delimiters, CR-only line endings,
column names people use, numbers in scientific notation, and empty messages.

Through the command line (`python -m engine`, the built-in emulator), plus the
library where the emulator's ledger has to show what was sent.
"""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from support import cfg, opts

import engine
from engine.emulator import Emulator

from .conftest import Cli, WriteBytes, plain_error, sdk_texts


def _dropped(report_dir: Path) -> list[tuple[str, str, str]]:
    with (report_dir / "dropped.csv").open(newline="", encoding="utf-8") as f:
        return [(r["line"], r["value"], r["reason"]) for r in csv.DictReader(f)]


@pytest.mark.parametrize(("delimiter", "name"), [(";", "semicolon"), ("\t", "tab"),
                                                 ("|", "pipe")])
def test_other_delimiters_are_detected_and_said(cli: Cli, write_bytes: WriteBytes,
                                                tmp_path: Path, delimiter: str,
                                                name: str) -> None:
    d = delimiter
    # Commas inside the text column must not confuse the detection.
    path = write_bytes(f"to{d}name{d}text\n+14155550100{d}Ann{d}Hi, Ann\n"
                       f"+14155550101{d}Bob{d}\n+14155550102{d}Cy{d}x{d}extra\n")
    out = tmp_path / "out"
    done = cli("send", str(path), "--text", "Hello {name}", "--report", str(out))
    assert done.returncode == 0, done.stderr
    assert (f"note: {path}: read as {name}-separated (detected from the header; "
            "--delimiter to choose another)") in done.stdout.splitlines()
    assert done.stdout.splitlines()[-1] == (
        "job completed on the built-in emulator: nothing was sent to phones "
        "(2 accepted, 0 rejected, 1 dropped)")
    assert _dropped(out) == [
        # Not a number, and starts with "+": written so a spreadsheet shows it as text.
        ("4", f"'+14155550102{d}Cy{d}x{d}extra", "malformed row: expected 3 fields, found 4")]


def test_delimiter_option(cli: Cli, write_bytes: WriteBytes, tmp_path: Path) -> None:
    # One column: nothing to detect, so the comma inside the text would split it.
    path = write_bytes("to;text\n+14155550100;Hi, Ann\n")
    done = cli("send", str(path), "--delimiter", ";", "--dry-run", "--report",
               str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert f"note: {path}: read as semicolon-separated (--delimiter)" in done.stdout
    assert "    Hi, Ann" in done.stdout.splitlines()
    tab = cli("send", str(path), "--delimiter", "tab", "--text", "Hi", "--dry-run")
    assert tab.returncode == 2
    assert "no recipient column" in tab.stderr and "'to;text'" in tab.stderr
    bad = cli("send", str(path), "--delimiter", ";;", "--text", "Hi")
    assert bad.returncode == 2 and "give one character, or tab" in bad.stderr


def test_cr_only_line_endings_are_read(cli: Cli, write_bytes: WriteBytes,
                                       tmp_path: Path) -> None:
    path = write_bytes(b"to,name\r+14155550100,Ann\r+1415555CALL,Bob\r\r+14155550102,Cy\r")
    out = tmp_path / "out"
    done = cli("send", str(path), "--text", "Hi {name}", "--report", str(out))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert (f"note: {path}: old Mac line endings (CR only): each CR read as a new line"
            in done.stdout)
    assert "(2 accepted, 0 rejected, 1 dropped)" in done.stdout
    assert _dropped(out) == [("3", "'+1415555CALL", "invalid number: has letters")]


async def test_cr_only_texts_arrive_intact(write_bytes: WriteBytes) -> None:
    path = write_bytes(b'to,text\r+14155550100,"two\rlines"\r+14155550101,plain\r')
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, credentials=emu.credentials, options=opts())
        texts = await asyncio.to_thread(sdk_texts, emu.credentials, [b.id for b in report.batches])
    assert report.status == "completed", report.message
    assert texts == {"+14155550100": "two\nlines", "+14155550101": "plain"}


@pytest.mark.parametrize("column", ["Phone Number", "MOBILE", " cell ", "msisdn",
                                    "phone_number", "Number"])
def test_usual_recipient_column_names(cli: Cli, write_bytes: WriteBytes, tmp_path: Path,
                                      column: str) -> None:
    path = write_bytes(f"Name,{column}\nAnn,+14155550100\n")
    done = cli("send", str(path), "--text", "Hi {Name}", "--report", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert (f"note: {path}: recipients are in the {column.strip()!r} column; --to-column to "
            "choose another") in done.stdout
    assert "(1 accepted, 0 rejected, 0 dropped)" in done.stdout


def test_recipient_column_given_loosely_and_candidates_named(cli: Cli, write_bytes: WriteBytes,
                                                             tmp_path: Path) -> None:
    path = write_bytes("Home Phone,Mobile Number,Name\n+14155550100,+14155550101,Ann\n")
    done = cli("send", str(path), "--text", "Hi", "--dry-run", "--report", str(tmp_path / "a"))
    assert done.returncode == 0, done.stderr
    assert (f"note: {path}: recipients are in the 'Mobile Number' column; --to-column to "
            "choose another") in done.stdout
    given = cli("send", str(path), "--text", "Hi", "--to-column", "home phone", "--dry-run",
                "--report", str(tmp_path / "b"))
    assert given.returncode == 0, given.stderr
    assert f"note: {path}: recipients are in the 'Home Phone' column" in given.stdout
    assert "line 2, +14155550100:" in given.stdout
    missing = cli("send", str(path), "--text", "Hi", "--to-column", "fax")
    assert missing.returncode == 2
    assert plain_error(missing.stderr) == [
        (f"hvsms: error: {path}:1: no 'fax' column; the header has 'Home Phone', "
        "'Mobile Number', 'Name'"), "  hint: name the recipient column with --to-column"]


def test_excel_scientific_notation_is_dropped_with_the_real_reason(
    cli: Cli, write_bytes: WriteBytes, tmp_path: Path,
) -> None:
    path = write_bytes("to\n1.41556E+10\n+14155550100\n4,15555E+09\n")
    out = tmp_path / "out"
    done = cli("send", str(path), "--text", "Hi", "--report", str(out))
    assert done.returncode == 0, done.stderr
    why = ("invalid number: in scientific notation: the spreadsheet lost the digits (format "
           "the column as text and export again)")
    assert _dropped(out) == [("2", "1.41556E+10", why), ("4", "4,15555E+09", why)]


@pytest.mark.parametrize("dry_run", [False, True])
def test_an_empty_text_is_refused_before_anything_is_sent(cli: Cli, write_bytes: WriteBytes,
                                                          dry_run: bool) -> None:
    path = write_bytes("to\n+14155550100\n")
    for text in ("", "   "):
        done = cli("send", str(path), "--text", text, *(["--dry-run"] if dry_run else []))
        assert done.returncode == 2
        assert plain_error(done.stderr) == [
            ("hvsms: error: the text is empty: the API refuses empty messages (give the "
            "message with --text)")]


async def test_a_template_rendering_nothing_is_dropped_and_blank_cells_take_the_default(
    write_bytes: WriteBytes,
) -> None:
    path = write_bytes("to,first,last,text\n+14155550100,,,\n+14155550101,Ann,,\n"
                       "+14155550102,, ,   \n")
    async with Emulator(cfg()) as emu:
        report = await engine.send_bulk(path, text="{first} {last}", credentials=emu.credentials,
                                        options=opts(empty_variables="send"))
        default = await engine.send_bulk(path, text="Hello", credentials=emu.credentials,
                                         options=opts())
        texts = await asyncio.to_thread(sdk_texts, emu.credentials, [b.id for b in default.batches])
    assert report.status == "completed", report.message
    assert [(d.line, d.reason) for d in report.dropped] == [
        (2, "empty text (the template rendered nothing)"),
        (4, "empty text (the template rendered nothing)")]
    assert report.counts.accepted == 1
    # A cell of spaces is no text of its own: the default is sent, not the spaces.
    assert set(texts.values()) == {"Hello"} and len(texts) == 3
