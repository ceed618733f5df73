"""Streaming CSV reader: large blocks, 1-based line numbers and byte offsets.

The file is read with aiofiles in blocks of a few MiB and cut at a row
boundary (a newline outside quotes). Blocks without a quote character take a
fast path (`str.split`, no csv module); others go through the csv module.
Each block is handed on column-major: one list per selected column, so the
next stages work on whole lists instead of per-row objects.

Only ASCII-compatible encodings are supported (a newline is the byte 0x0A):
UTF-8 (with or without BOM), Latin-1, cp1252 and the like.

Files as spreadsheets export them: the delimiter (comma, semicolon, tab or
pipe) is detected once, from the header and the first rows, unless given;
old Mac files with CR-only line endings are read with each CR taken as a
newline (byte for byte, so offsets and line numbers stay those of the file);
column names match case- and space-insensitively, and the recipient column
may be called by any of the usual names (`RECIPIENT_NAMES`).
"""

from __future__ import annotations

import codecs
import csv
import itertools
import os
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter

import aiofiles

from .errors import InputError

__all__ = ["BLOCK_SIZE", "DELIMITERS", "RECIPIENT_NAMES", "CsvSource", "Header", "RowBlock",
           "detect_delimiter", "lone_cr_as_newline", "looks_binary", "loose_name",
           "phone_like_column"]

BLOCK_SIZE = 1 << 20
MAX_ROW_BYTES = 32 << 20
# The csv module refuses fields over 128 KiB by default; a long quoted text is
# a row to drop with its line, not a malformed file.
csv.field_size_limit(max(csv.field_size_limit(), MAX_ROW_BYTES))
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE,
               codecs.BOM_UTF32_BE)
_BOM = codecs.BOM_UTF8
_BINARY_MAGIC = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx workbook?)",
    b"\xd0\xcf\x11\xe0": "an OLE document (an .xls workbook?)",
    b"%PDF": "a PDF document",
    b"\x1f\x8b": "a gzip archive",
}
# The delimiters spreadsheets export, by name (for messages and --delimiter).
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Lines after the header that the delimiter detection looks at.
_SNIFF_ROWS = 20
# Names people give the recipient column, in order of preference (compared
# with `loose_name`); `to` is the API's own.
RECIPIENT_NAMES = ("to", "phone", "phone number", "mobile", "mobile number", "mobile phone",
                   "cell", "cell phone", "cellphone", "number", "msisdn", "telephone", "tel",
                   "phone no", "phonenumber")
_NOT_NAME = re.compile(r"[\W_]+")


def loose_name(name: str) -> str:
    """A column name compared loosely: case, spaces and punctuation ignored ('Phone_Number')."""
    return " ".join(_NOT_NAME.sub(" ", name.casefold()).split())


_LONE_CR = re.compile(rb"\r(?!\n)")


def lone_cr_as_newline(data: bytes, *, eof: bool) -> bytes:
    """`data` with each CR not followed by LF read as a line break, as spreadsheets read
    mixed line endings (same length: offsets stay the file's). A CR at the very end of
    `data` is left alone unless `eof`: its LF may be in the next block."""
    lone = data.count(b"\r") - data.count(b"\r\n")
    if lone == 0 or (lone == 1 and not eof and data.endswith(b"\r")):
        return data  # the usual case (LF or CRLF only): two counts, no copy
    last = data[-1:] if not eof and data.endswith(b"\r") else b""
    body = data[:len(data) - len(last)]
    return _LONE_CR.sub(b"\n", body) + last


_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r")
_PHONE_LIKE = re.compile(r"\+?[\d\s().-]{7,20}")


def looks_binary(data: bytes) -> bool:
    """Control bytes no text has (NUL, ...) in more than 1% of `data`: not CSV text,
    whatever the encoding (a wrong one is the hint for text that fails to decode)."""
    if not data:
        return False
    return len(data) - len(data.translate(None, _CONTROL_BYTES)) > len(data) // 100


def phone_like_column(rows: Sequence[Sequence[str]]) -> int | None:
    """The first column whose values in `rows` are mostly phone numbers, or None."""
    width = max(map(len, rows), default=0)
    for i in range(width):
        values = [r[i].strip() for r in rows if i < len(r) and r[i].strip()]
        hits = sum(1 for v in values if _PHONE_LIKE.fullmatch(v) and sum(
            c.isdigit() for c in v) >= 7)
        if values and 2 * hits > len(values):
            return i
    return None


def detect_delimiter(lines: Sequence[str]) -> str:
    """The delimiter of a header line and the rows after it (comma when unclear).

    The one that splits the header into the most fields, and at least half of
    the rows into as many (a malformed row must not hide it), wins; the comma
    wins ties (and one-column files).
    """
    best, best_fields = ",", 1
    for d in DELIMITERS:
        counts = [len(r) for r in csv.reader(lines, delimiter=d) if any(f.strip() for f in r)]
        if not counts or counts[0] <= best_fields:
            continue
        rows = counts[1:]
        if 2 * rows.count(counts[0]) >= len(rows):
            best, best_fields = d, counts[0]
    return best


@dataclass(frozen=True, slots=True)
class Header:
    columns: tuple[str, ...]
    data_start: int  # byte offset of the first data row
    first_line: int  # line number of the first data row
    delimiter: str = ","
    detected: bool = False  # the delimiter was detected, not given
    cr_only: bool = False  # old Mac line endings: each CR is a newline
    phone_like: int | None = None  # the column the first rows hold phone numbers in

    def find(self, name: str) -> int | None:
        """The column called `name`, exactly or else loosely (see `loose_name`)."""
        if name in self.columns:
            return self.columns.index(name)
        want = loose_name(name)
        return next((i for i, c in enumerate(self.columns) if loose_name(c) == want), None)

    def index(self, name: str, *, path: str) -> int:
        """The column's position; a clear error naming the columns found if absent."""
        i = self.find(name)
        if i is None:
            found = ", ".join(repr(c) for c in self.columns)
            raise InputError(
                f"no {name!r} column; the header has {found}",
                path=path,
                line=1,
                hint="name the recipient column with --to-column",
            )
        return i

    def recipient(self, name: str, *, path: str, usual: bool = True) -> tuple[int, str | None]:
        """The recipient column and, when it is not exactly `name`, a note saying which.

        With `usual`, a file without a `name` column may call it by any of
        `RECIPIENT_NAMES`; when none is there, the error lists the columns.
        """
        i = self.find(name)
        if i is None and usual:
            loose = [loose_name(c) for c in self.columns]
            found = [loose.index(n) for n in RECIPIENT_NAMES if n in loose]
            if not found:
                names = ", ".join(repr(c) for c in self.columns)
                hint = "name the recipient column with --to-column" + (
                    f", e.g. --to-column {self.columns[self.phone_like]!r}"
                    if self.phone_like is not None and self.phone_like < len(self.columns)
                    else " (no column of the first rows holds phone numbers)")
                raise InputError(
                    f"no recipient column: none of the header's columns ({names}) is called "
                    f"{name!r} or one of the usual names (phone, mobile, cell, number, ...)",
                    path=path, line=1, hint=hint,
                )
            i = found[0]
            others = ", ".join(repr(self.columns[j]) for j in found[1:])
            note = (f"recipients are in the {self.columns[i]!r} column"
                    + (f" (also a candidate: {others})" if others else "")
                    + "; --to-column to choose another")
            return i, note
        if i is None:
            self.index(name, path=path)  # raises with the columns found
        assert i is not None
        if self.columns[i] != name:
            return i, f"recipients are in the {self.columns[i]!r} column"
        return i, None


@dataclass(slots=True)
class RowBlock:
    """Consecutive rows of the file; `columns` holds the selected columns."""

    lines: Sequence[int]  # a range when the rows are consecutive lines
    columns: list[list[str]]
    start: int  # byte offset of the block's first byte (a row start)
    end: int  # byte offset just past the block
    first_line: int  # line number of the block's first physical line
    bad: list[tuple[int, str, str]] = field(default_factory=list)  # (line, raw, reason)
    _data: bytes = b""
    _line_starts: list[int] | None = None

    def __len__(self) -> int:
        return len(self.lines)

    def offset_at_line(self, line: int) -> int:
        """Byte offset where physical line `line` (inside this block) starts."""
        if self._line_starts is None:
            lengths = map(len, self._data.split(b"\n"))
            self._line_starts = [0, *itertools.accumulate(n + 1 for n in lengths)]
        return self.start + self._line_starts[line - self.first_line]


class CsvSource:
    """A CSV file read as a header and a stream of `RowBlock`s."""

    def __init__(
        self, path: str | os.PathLike[str], *, encoding: str = "utf-8", block_size: int = BLOCK_SIZE,
        delimiter: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
            raise InputError(f"the delimiter must be one character (not a quote or newline), "
                             f"got {delimiter!r}", path=self.path)
        self.delimiter = delimiter
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputError(f"unknown encoding {encoding!r}", path=self.path) from None
        self.encoding = "utf-8" if encoding.lower().replace("_", "-") == "utf-8-sig" else encoding
        if '\n,"+'.encode(self.encoding, "replace") != b'\n,"+':
            raise InputError(
                f"the {encoding.upper()} encoding is not supported: hvsms reads ASCII-compatible "
                "encodings (UTF-8, Latin-1, cp1252, ...)", path=self.path,
                hint="save the file as CSV UTF-8",
            )
        self.block_size = block_size

    async def header(self) -> Header:
        """Read and check the header row; refuse files that are not CSV text."""
        try:
            async with aiofiles.open(self.path, "rb") as f:
                head = await f.read(1 << 20)
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror}", path=self.path) from None
        if not head.strip():
            raise InputError("the file is empty (no header row)", path=self.path)
        if head.startswith(_UTF16_BOMS) and not head.startswith(codecs.BOM_UTF8):
            raise InputError(
                "this is UTF-16/UTF-32 text (Excel's 'Unicode Text'), which hvsms does not read",
                path=self.path, hint="save the file as CSV UTF-8",
            )
        for magic, what in _BINARY_MAGIC.items():
            if head.startswith(magic):
                raise InputError(
                    f"this is {what}, not a CSV text file", path=self.path,
                    hint="export the sheet as CSV (UTF-8) first",
                )
        start = len(_BOM) if head.startswith(_BOM) else 0
        cr = head.find(b"\r", start)
        cr_only = cr >= 0 and not head.startswith(b"\n", cr + 1) and not 0 <= head.find(
            b"\n", start) < cr
        if cr_only:
            head = head.replace(b"\r", b"\n")  # same length: offsets stay the file's
        else:
            head = lone_cr_as_newline(head, eof=len(head) < (1 << 20))
        end = head.find(b"\n", start)
        if end < 0:
            if len(head) >= (1 << 20):
                raise InputError("the header row is longer than 1 MiB", path=self.path, line=1)
            end = len(head)
        raw = head[start:end]
        text = self._decode(raw, start, 1)
        if "\x00" in text:
            raise InputError(
                "NUL byte in the header: this is not a CSV text file",
                path=self.path, line=1, column=text.index("\x00") + 1,
            )
        text = text.rstrip("\r")
        delimiter = self.delimiter
        sample = self._sample(head, end)
        if delimiter is None:
            delimiter = detect_delimiter([text, *sample])
        row = next(csv.reader([text], delimiter=delimiter), [])
        try:
            phone_like = phone_like_column(list(csv.reader(sample, delimiter=delimiter)))
        except csv.Error:
            phone_like = None
        columns = tuple(c.strip() for c in row)
        if not any(columns):
            raise InputError("the header row is empty", path=self.path, line=1)
        return Header(columns=columns, data_start=min(end + 1, len(head)), first_line=2,
                      delimiter=delimiter, detected=self.delimiter is None, cr_only=cr_only,
                      phone_like=phone_like)

    def _sample(self, head: bytes, end: int) -> list[str]:
        """The first rows after the header (whole lines only), for delimiter detection."""
        if end >= len(head):
            return []
        stop, seen = end + 1, 0
        while seen < _SNIFF_ROWS and (nl := head.find(b"\n", stop)) >= 0:
            stop, seen = nl + 1, seen + 1
        if seen < _SNIFF_ROWS and len(head) < (1 << 20):
            stop = len(head)  # the whole file is in `head`: its last line is whole too
        text = head[end + 1:stop].decode(self.encoding, "replace").rstrip("\n")
        return [t.rstrip("\r") for t in text.split("\n")] if text else []

    async def blocks(
        self,
        header: Header,
        select: Sequence[int],
        *,
        start: int | None = None,
        end: int | None = None,
        first_line: int | None = None,
        block_size: int | None = None,
    ) -> AsyncIterator[RowBlock]:
        """Yield blocks of rows in `[start, end)` (default: all data rows), of about
        `block_size` bytes (default: the source's)."""
        size = block_size or self.block_size
        pos = header.data_start if start is None else start
        line = header.first_line if first_line is None else first_line
        ncols = len(header.columns)
        try:
            f = await aiofiles.open(self.path, "rb")
        except OSError as exc:
            raise InputError(f"cannot read the file: {exc.strerror}", path=self.path) from None
        try:
            await f.seek(pos)
            carry = b""
            while True:
                want = size if end is None else min(size, end - pos - len(carry))
                chunk = await f.read(want) if want > 0 else b""
                if header.cr_only:
                    chunk = chunk.replace(b"\r", b"\n")
                eof = not chunk
                data = carry + chunk if carry else chunk
                if not header.cr_only:
                    data = lone_cr_as_newline(data, eof=eof)
                if not data:
                    return
                cut = len(data) if eof else data.rfind(b"\n") + 1
                if cut and data.find(b'"', 0, cut) >= 0:
                    cut = _quote_safe_cut(data, cut, eof)
                    if eof and cut < len(data):
                        raise InputError(
                            "unbalanced quotes: a quoted field is never closed",
                            path=self.path, line=line + data.count(b"\n", 0, cut),
                            hint="check the quotes on this line",
                        )
                if cut == 0:
                    if len(data) > MAX_ROW_BYTES:
                        raise InputError(
                            f"a row longer than {MAX_ROW_BYTES >> 20} MiB", path=self.path, line=line
                        )
                    carry = data
                    continue
                body, carry = data[:cut], data[cut:]
                yield self._parse(body, pos, line, ncols, select, header.delimiter)
                pos += cut
                line += body.count(b"\n")
        finally:
            await f.close()

    def _decode(self, data: bytes, offset: int, line: int) -> str:
        try:
            return data.decode(self.encoding)
        except UnicodeDecodeError as exc:
            bad_line = line + data.count(b"\n", 0, exc.start)
            line_start = data.rfind(b"\n", 0, exc.start) + 1
            if looks_binary(data[max(0, exc.start - 2048):exc.start + 2048]):
                raise InputError(
                    f"this is not a CSV text file (binary data at byte offset "
                    f"{offset + exc.start})", path=self.path, line=bad_line,
                    hint="export the sheet as CSV (UTF-8) first",
                ) from None
            raise InputError(
                f"not valid {self.encoding} (byte 0x{data[exc.start]:02x} at byte offset "
                f"{offset + exc.start})",
                path=self.path, line=bad_line, column=exc.start - line_start + 1,
                offset=offset + exc.start,
                hint="give the file's encoding, e.g. --encoding cp1252",
            ) from None

    def _parse(
        self, data: bytes, offset: int, first_line: int, ncols: int, select: Sequence[int],
        delimiter: str = ",",
    ) -> RowBlock:
        text = self._decode(data, offset, first_line)
        nul = text.find("\x00")
        if nul >= 0:
            line = first_line + text.count("\n", 0, nul)
            raise InputError(
                "NUL byte: this is not a CSV text file",
                path=self.path, line=line, column=nul - text.rfind("\n", 0, nul),
            )
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        lines: Sequence[int]
        if '"' in text:
            lines, rows = self._parse_quoted(text, first_line, delimiter)
        else:
            phys = text.split("\n")
            if phys and phys[-1] == "":
                phys.pop()
            if "" in phys:
                keep = [i for i, p in enumerate(phys) if p.strip()]
                lines = [first_line + i for i in keep]
                phys = [phys[i] for i in keep]
            else:
                lines = range(first_line, first_line + len(phys))
            if ncols == 1:
                # One column: the lines are the values, no per-row lists.
                return RowBlock(lines=lines, columns=[phys for _ in select], start=offset,
                                end=offset + len(data), first_line=first_line, _data=data)
            if phys and min(commas := list(map(str.count, phys, repeat(delimiter, len(phys))))
                            ) == max(commas) == ncols - 1:
                # Every line has the right number of fields: split the whole
                # block at once and take each column as a slice (no per-row lists).
                flat = delimiter.join(phys).split(delimiter)
                return RowBlock(lines=lines, columns=[flat[c::ncols] for c in select],
                                start=offset, end=offset + len(data), first_line=first_line,
                                _data=data)
            rows = [p.split(delimiter) for p in phys]
        bad: list[tuple[int, str, str]] = []
        if rows and (min(map(len, rows)) != ncols or max(map(len, rows)) != ncols):
            lines = list(lines)
            good_lines: list[int] = []
            good_rows: list[list[str]] = []
            for ln, row in zip(lines, rows, strict=True):
                if len(row) == ncols:
                    good_lines.append(ln)
                    good_rows.append(row)
                else:
                    bad.append((ln, delimiter.join(row),
                                f"expected {ncols} fields, found {len(row)}"))
            lines, rows = good_lines, good_rows
        if ncols == 1:
            columns = [[r[0] for r in rows] for _ in select]
        else:
            columns = [list(map(itemgetter(c), rows)) for c in select]
        return RowBlock(
            lines=lines, columns=columns, start=offset, end=offset + len(data),
            first_line=first_line, bad=bad, _data=data,
        )

    def _parse_quoted(
        self, text: str, first_line: int, delimiter: str = ","
    ) -> tuple[Sequence[int], list[list[str]]]:
        phys = text.split("\n")
        if phys and phys[-1] == "":
            phys.pop()
        reader = csv.reader((p + "\n" for p in phys), delimiter=delimiter, strict=True)
        lines: list[int] = []
        rows: list[list[str]] = []
        consumed = 0
        try:
            for row in reader:
                if row and any(f.strip() for f in row):
                    lines.append(first_line + consumed)
                    rows.append(row)
                consumed = reader.line_num
        except csv.Error as exc:
            raise InputError(
                f"malformed CSV: {exc}", path=self.path, line=first_line + consumed,
                hint='a quote inside a quoted field must be doubled ("")',
            ) from None
        return lines, rows


def _quote_safe_cut(data: bytes, cut: int, eof: bool) -> int:
    """Move `cut` back to a newline outside quotes (even count of quotes before it)."""
    if data.count(b'"', 0, cut) % 2 == 0:
        return cut
    hi = cut - 1  # index of the newline ending the candidate block (or len for eof)
    while True:
        lo = data.rfind(b"\n", 0, hi)
        if lo < 0:
            return 0
        # Quotes between this newline and the old cut: odd means parity before is even.
        if data.count(b'"', lo + 1, cut) % 2 == 1:
            return lo + 1
        hi = lo
