"""Bad input through the command line: exit 2, one or two plain lines on stderr, no traceback.

`python -m engine send FILE --text T` with no RC_* variables runs on the
built-in emulator, so these need no server of their own.
"""

from __future__ import annotations

import csv
import zipfile
from pathlib import Path

from .conftest import Cli, WriteBytes, plain_error


def _dropped(report_dir: Path) -> list[tuple[str, str, str]]:
    with (report_dir / "dropped.csv").open(newline="", encoding="utf-8") as f:
        return [(r["line"], r["value"], r["reason"]) for r in csv.DictReader(f)]


def test_empty_file(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes(b"")
    done = cli("send", str(path), "--text", "Hi")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [f"hvsms: error: {path}: the file is empty (no header row)"]


def test_header_only(cli: Cli, write_bytes: WriteBytes, tmp_path: Path) -> None:
    path = write_bytes("to\n")
    done = cli("send", str(path), "--text", "Hi", "--report", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "job completed (0 accepted, 0 rejected, 0 dropped)" in done.stdout
    assert done.stderr == ""


def test_no_to_column(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes("who,name\n+14155550100,Ann\n")
    done = cli("send", str(path), "--text", "Hi")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        (f"hvsms: error: {path}:1: no recipient column: none of the header's columns ('who', "
        "'name') is called 'to' or one of the usual names (phone, mobile, cell, number, ...)"),
        "  hint: name the recipient column with --to-column, e.g. --to-column 'who'",
    ]
    fixed = cli("send", str(path), "--text", "Hi", "--to-column", "who")
    assert fixed.returncode == 0, fixed.stderr


def test_not_utf8_then_the_right_encoding(cli: Cli, write_bytes: WriteBytes,
                                          tmp_path: Path) -> None:
    path = write_bytes("to,name\n+14155550100,Ann\n+14155550101,Renée\n".encode("cp1252"))
    done = cli("send", str(path), "--text", "Hi {name}")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        f"hvsms: error: {path}:3:17: not valid utf-8 (byte 0xe9 at byte offset 41)",
        "  hint: give the file's encoding, e.g. --encoding cp1252",
    ]
    fixed = cli("send", str(path), "--text", "Hi {name}", "--encoding", "cp1252",
                "--report", str(tmp_path / "out"))
    assert fixed.returncode == 0, fixed.stderr
    assert ("job completed on the built-in emulator: nothing was sent to phones "
            "(2 accepted, 0 rejected, 0 dropped)") in fixed.stdout


def test_excel_workbook(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "recipients.csv"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    done = cli("send", str(path), "--text", "Hi")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        f"hvsms: error: {path}: this is a ZIP archive (an .xlsx workbook?), not a CSV text file",
        "  hint: export the sheet as CSV (UTF-8) first",
    ]


def test_nul_bytes(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes(b"to,name\n+14155550100,Ann\n+1415555\x000101,Bob\n")
    done = cli("send", str(path), "--text", "Hi")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        f"hvsms: error: {path}:3:9: NUL byte: this is not a CSV text file"]


def test_unbalanced_quotes(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes(b'to,name\n+14155550100,"Ann\n+14155550101,Bob\n')
    done = cli("send", str(path), "--text", "Hi")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        f"hvsms: error: {path}:2: unbalanced quotes: a quoted field is never closed",
        "  hint: check the quotes on this line",
    ]


def test_bad_rows_are_listed_in_dropped_csv(cli: Cli, write_bytes: WriteBytes,
                                            tmp_path: Path) -> None:
    path = write_bytes("to,text\n\n+14155550100,ok\n+1415555CALL,ok\n+14155550102,"
                       + "z" * 1001 + "\n+14155550103,a,b\n\n+14155550104,ok\n")
    out = tmp_path / "out"
    done = cli("send", str(path), "--text", "Hi", "--report", str(out))
    assert done.returncode == 0, done.stderr
    assert ("job completed on the built-in emulator: nothing was sent to phones "
            "(2 accepted, 0 rejected, 3 dropped)") in done.stdout
    assert _dropped(out) == [
        # Not E.164, starting with "+": shown as text, never run as a formula.
        ("4", "'+1415555CALL", "invalid number: has letters"),
        ("5", "+14155550102", "text longer than 1000 characters (1001)"),
        ("6", "'+14155550103,a,b", "malformed row: expected 2 fields, found 3"),
    ]


def test_sender_that_is_not_an_a2p_number(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n+14155550100\n")
    done = cli("send", str(path), "--text", "Hi", "--from", "+16505550102")
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        ("hvsms: error: +16505550102 is not an A2P SMS sender of this account "
         "(A2P senders: +16505550100, +16505550101, +18885550100)")]


def test_sender_that_is_not_e164(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n+14155550100\n")
    done = cli("send", str(path), "--text", "Hi", "--from", "6505550100")
    assert done.returncode == 2
    # click's usage error: plain lines, no traceback (its own format, not ours).
    assert "Traceback" not in done.stderr
    assert ("Invalid value for '--from': '6505550100' is not an E.164 number "
            "(like +14155550123)") in done.stderr


def test_no_text_at_all(cli: Cli, write_bytes: WriteBytes) -> None:
    path = write_bytes("to\n+14155550100\n")
    done = cli("send", str(path))
    assert done.returncode == 2
    assert plain_error(done.stderr) == [
        "hvsms: error: no text: give a default text (--text) or a 'text' column"]


def test_a_refused_header_leaves_no_temporary_journal(cli: Cli, write_bytes: WriteBytes,
                                                      tmp_path: Path) -> None:
    path = write_bytes("who\n+14155550100\n")
    assert cli("send", str(path), "--text", "Hi").returncode == 2
    assert list((tmp_path / "tmpdir").iterdir()) == []


def test_a_refused_row_leaves_no_temporary_journal(cli: Cli, write_bytes: WriteBytes,
                                                   tmp_path: Path) -> None:
    path = write_bytes("to,name\n+14155550100,Ann\n+14155550101,Renée\n".encode("cp1252"))
    assert cli("send", str(path), "--text", "Hi").returncode == 2
    assert list((tmp_path / "tmpdir").iterdir()) == []
