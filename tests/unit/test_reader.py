"""The streaming reader: rows, line numbers and offsets whatever the block size."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import InputError
from engine.reader import CsvSource

field = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
                max_size=12)


async def _read(path: Path, block_size: int, ncols: int) -> tuple[list[int], list[list[str]]]:
    src = CsvSource(path, block_size=block_size)
    header = await src.header()
    lines: list[int] = []
    cols: list[list[str]] = [[] for _ in range(ncols)]
    async for block in src.blocks(header, list(range(ncols))):
        assert not block.bad
        lines += block.lines
        for c in range(ncols):
            cols[c] += block.columns[c]
    return lines, [list(r) for r in zip(*cols, strict=True)] if lines else []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(field, min_size=3, max_size=3), max_size=40),
       block_size=st.integers(min_value=8, max_value=300), crlf=st.booleans())
async def test_csv_module_output_reads_back_with_line_numbers(
    tmp_path: Path, rows: list[list[str]], block_size: int, crlf: bool
) -> None:
    rows = [r for r in rows if any(f.strip() for f in r)]  # all-blank rows count as blank lines
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n" if crlf else "\n")
    w.writerow(["to", "name", "text"])
    expected_lines = []
    line = 2
    for r in rows:
        expected_lines.append(line)
        start = buf.tell()
        w.writerow(r)
        line += buf.getvalue()[start:].count("\n")
    path = tmp_path / f"f{block_size}.csv"
    path.write_bytes(buf.getvalue().encode())
    lines, got = await _read(path, block_size, 3)
    assert got == [[f.replace("\r\n", "\n") for f in r] for r in rows]
    assert lines == expected_lines


async def test_bom_crlf_blank_lines_and_offsets(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"\xef\xbb\xbfto,name\r\n+14155550100,Ann\r\n\r\n+14155550101,Bo\r\n")
    src = CsvSource(path)
    header = await src.header()
    assert header.columns == ("to", "name")
    blocks = [b async for b in src.blocks(header, [0, 1])]
    assert blocks[0].lines == [2, 4]
    assert blocks[0].columns == [["+14155550100", "+14155550101"], ["Ann", "Bo"]]
    data = path.read_bytes()
    assert data[blocks[0].offset_at_line(4):].startswith(b"+14155550101")


@pytest.mark.parametrize(("content", "needle"), [
    (b"", "empty"),
    (b"PK\x03\x04rest", "ZIP"),
    (b"to\n+1415\x00555\n", "NUL"),
    (b'to,text\n+14155550100,"open\n', "unbalanced"),
])
async def test_bad_files_are_refused_with_where(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    src = CsvSource(path)
    with pytest.raises(InputError) as err:
        header = await src.header()
        async for _ in src.blocks(header, [0]):
            pass
    assert needle in str(err.value)
    assert str(path) in str(err.value)


async def test_not_utf8_names_line_column_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes("to,name\n+14155550100,Jos\xe9\n".encode("latin-1"))
    src = CsvSource(path)
    header = await src.header()
    with pytest.raises(InputError) as err:
        async for _ in src.blocks(header, [0]):
            pass
    e = err.value
    assert (e.line, e.column) == (2, 17)
    assert "byte offset 24" in str(e) and "--encoding" in str(e)
    src = CsvSource(path, encoding="latin-1")
    blocks = [b async for b in src.blocks(await src.header(), [1])]
    assert blocks[0].columns[0] == ["José"]


async def test_wrong_field_counts_are_reported_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("to,name\n+14155550100,A\n+14155550101,B,extra\n+14155550102\n")
    src = CsvSource(path)
    (block,) = [b async for b in src.blocks(await src.header(), [0])]
    assert block.lines == [2]
    assert [(ln, why) for ln, _, why in block.bad] == [
        (3, "expected 2 fields, found 3"), (4, "expected 2 fields, found 1")]
