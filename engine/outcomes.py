"""Files joined from a job's journal and its CSV: failed.csv and outcomes.csv.

Both are streamed: the CSV is read block by block in file order, alongside
cursors over the journal's dropped, rejected and undelivered rows (each in
line order), so memory stays flat whatever the number of rows.

Every cell that comes from the input is written so a spreadsheet shows it as
text (`safe_cell`): names and numbers may come from a web form, and a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would
otherwise be read as a formula. E.164 numbers in number columns stay as they are.
"""

from __future__ import annotations

import bisect
import csv
from collections import Counter
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any, TextIO

from .codes import PENDING_CODES, describe
from .journal import COMPLETED, FAILED_STATUSES, SUBMITTED, BatchRecord, Journal, ResultState
from .phones import is_e164
from .reader import CsvSource, Header

__all__ = [
    "FAILED_COLUMNS",
    "OUTCOME_COLUMNS",
    "STATES",
    "outcome_of",
    "safe_cell",
    "set_formula_guard",
    "write_failed",
    "write_outcomes",
]

# Added after the CSV's own columns in failed.csv.
FAILED_COLUMNS = ("to", "status", "error_code", "description", "permanent", "batch_id")
OUTCOME_COLUMNS = ("line", "to", "state", "code", "detail")
STATES = ("dropped", "rejected", "delivered", "failed", "pending", "not_sent")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# Off for files read by programs, not spreadsheets (`hvsms ... --plain-cells`).
_FORMULA_GUARD: ContextVar[bool] = ContextVar("formula_guard", default=True)


def set_formula_guard(on: bool) -> None:
    """Whether `safe_cell` quotes formula starts (on by default) in this context."""
    _FORMULA_GUARD.set(on)


def safe_cell(value: str, *, number: bool = False) -> str:
    """`value` as a spreadsheet shows it as text (a leading quote before a formula start)."""
    if (value.startswith(_FORMULA_START) and not (number and is_e164(value))
            and _FORMULA_GUARD.get()):
        return "'" + value
    return value


def _source(journal: Journal) -> tuple[CsvSource, str]:
    inputs = journal.inputs
    options = inputs.get("options") or {}
    return (CsvSource(str(inputs["source"]), encoding=str(options.get("encoding") or "utf-8"),
                      delimiter=options.get("delimiter")),
            str(options.get("to_column") or "to"))


def _recipient(header: Header, to_column: str, path: str) -> int:
    """The recipient column as the job found it (`to`, else a usual name: 'Mobile Phone')."""
    return header.recipient(to_column, path=path, usual=to_column == "to")[0]


async def write_failed(journal: Journal, f: TextIO) -> int:
    """failed.csv: every failed message with its CSV line and original columns; rows written."""
    source, to_column = _source(journal)
    header = await source.header()
    cols = header.columns
    taken = {"line", *FAILED_COLUMNS}
    # Our `to` is E.164; the file's own column keeps its value under another name.
    names = ["line", *(f"csv_{c}" if c in taken else c for c in cols), *FAILED_COLUMNS]
    to_idx = _recipient(header, to_column, source.path)
    number_col = [i == to_idx for i in range(len(cols))]
    batch_ids = {b.seq: b.batch_id or "" for b in journal.batches()}
    rows = journal.results(failed_only=True)
    cur = next(rows, None)
    count = 0
    w = csv.writer(f, lineterminator="\n")
    w.writerow(names)

    def emit(row: tuple[int, str, str, str, int], original: Sequence[str]) -> None:
        nonlocal count
        line, to, status, code, seq = row
        info = describe(code)
        w.writerow([line, *(safe_cell(v, number=n) for v, n in zip(original, number_col,
                                                                   strict=True)),
                    safe_cell(to, number=True), status, code, info.description,
                    "yes" if info.permanent else "no", batch_ids.get(seq, "")])
        count += 1

    empty = [""] * len(cols)
    while cur is not None and cur[0] <= 0:  # listed, but matched no row
        emit(cur, empty)
        cur = next(rows, None)
    async for block in source.blocks(header, list(range(len(cols)))):
        if cur is None:
            break
        lines = block.lines
        if not lines or cur[0] > lines[-1]:
            continue
        while cur is not None and cur[0] <= lines[-1]:
            i = bisect.bisect_left(lines, cur[0])
            hit = i < len(lines) and lines[i] == cur[0]
            emit(cur, [c[i] for c in block.columns] if hit else empty)
            cur = next(rows, None)
    while cur is not None:  # past the end of the file: it changed
        emit(cur, empty)
        cur = next(rows, None)
    return count


def outcome_of(
    line: int, rec: BatchRecord | None, results: ResultState | None,
    result: tuple[str, str] | None,
) -> tuple[str, str, str]:
    """(state, code, detail) of a row that was neither dropped nor rejected (pure).

    `rec` is the batch whose range holds the line (None: not planned),
    `results` how far its results got, `result` the row's (status, error_code)
    when the messages list says it was not delivered.
    """
    if rec is None or line > rec.last_line:
        return "not_sent", "", "not read: the job stopped before this row"
    if rec.state not in (SUBMITTED, COMPLETED):
        return "not_sent", "", f"batch {rec.seq} not sent ({rec.state})"
    if result is not None:
        status, code = result
        if code in PENDING_CODES:
            return "pending", code, f"no final status yet: {describe(code).description}"
        if status in FAILED_STATUSES:
            info = describe(code)
            kind = "permanent" if info.permanent else info.kind
            return "failed", code, f"{info.description} ({kind})"
        return "pending", status, "no final status yet"
    if results is not None and results.complete and results.resolved:
        return "delivered", "", ""
    if rec.state == SUBMITTED:
        return "pending", "", f"batch {rec.seq} still processing"
    return "pending", "", "results not fetched yet (hvsms results JOURNAL)"


class _Cursor:
    """The next row of a line-ordered journal query at or after a line."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = rows
        self.row = next(rows, None)

    def at(self, line: int) -> tuple[Any, ...] | None:
        while self.row is not None and self.row[0] < line:
            self.row = next(self._rows, None)
        return self.row if self.row is not None and self.row[0] == line else None


async def write_outcomes(journal: Journal, f: TextIO) -> Counter[str]:
    """outcomes.csv: one line per data row, in file order; the count of each state."""
    source, to_column = _source(journal)
    header = await source.header()
    to_idx = _recipient(header, to_column, source.path)
    batches = sorted(journal.batches(), key=lambda b: b.start_line)
    starts = [b.start_line for b in batches]
    states = journal.result_states()
    dropped = _Cursor((row.line, row, kind) for row, kind in journal.dropped())
    rejected = _Cursor(journal.rejected_by_line())
    results = _Cursor(journal.results())
    counts: Counter[str] = Counter()
    w = csv.writer(f, lineterminator="\n")
    w.writerow(OUTCOME_COLUMNS)
    async for block in source.blocks(header, [to_idx]):
        values = dict(zip(block.lines, block.columns[0], strict=True))
        all_lines = sorted([*block.lines, *(ln for ln, _, _ in block.bad)])
        out = []
        for line in all_lines:
            value = values.get(line, "")
            if (d := dropped.at(line)) is not None:
                state, code, detail, value = "dropped", d[2], d[1].reason, d[1].value
            elif (r := rejected.at(line)) is not None:
                state, code, detail = "rejected", r[2], r[3]
            else:
                k = bisect.bisect_right(starts, line) - 1
                rec = batches[k] if k >= 0 else None
                res = results.at(line)
                state, code, detail = outcome_of(
                    line, rec, states.get(rec.seq) if rec else None,
                    (res[2], res[3]) if res is not None else None)
            counts[state] += 1
            out.append((line, safe_cell(value, number=True), state, code, detail))
        w.writerows(out)
    return counts
