"""A retry job: the rows of a finished job that failed for a reason that may pass.

`write_retry_csv` writes those rows (the CSV's header and original columns,
so templates and a text column work as before) to a new file; the CLI's
``hvsms retry`` then sends it as a new job with the same text and sender and
its own journal. Permanent failures (invalid, landline, opted out) are left
out, and so are messages with no final status (SMS-CAR-104/199): they may
well have been delivered, and a retry would text those people twice.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import Any, TextIO

from .codes import PENDING_CODES, TEMPORARY, describe
from .journal import FAILED_STATUSES, Journal
from .reader import CsvSource

__all__ = ["RetryRows", "retry_lines", "write_retry_csv"]


@dataclass(slots=True)
class RetryRows:
    lines: set[int]
    permanent: int = 0
    pending: int = 0  # no final status (queued, sent, SMS-CAR-104/199): may yet arrive


def retry_lines(journal: Journal) -> RetryRows:
    """CSV lines of the messages that failed for a temporary reason."""
    out = RetryRows(set())
    for line, _, status, code, _ in journal.results():
        if status not in FAILED_STATUSES or code in PENDING_CODES:
            out.pending += 1
        elif describe(code).kind == TEMPORARY and line > 0:
            out.lines.add(line)
        else:
            out.permanent += 1
    return out


async def write_retry_csv(journal: Journal, lines: set[int], f: TextIO) -> int:
    """The header and the rows at `lines` of the job's CSV, as UTF-8 CSV; rows written."""
    inputs: dict[str, Any] = journal.inputs
    options = inputs.get("options") or {}
    source = CsvSource(str(inputs["source"]), encoding=str(options.get("encoding") or "utf-8"),
                       delimiter=options.get("delimiter"))
    header = await source.header()
    w = csv.writer(f, lineterminator="\n")
    w.writerow(header.columns)
    count = 0
    select = list(range(len(header.columns)))
    async for block in source.blocks(header, select):
        keep = [i for i, line in enumerate(block.lines) if line in lines]
        w.writerows([c[i] for c in block.columns] for i in keep)
        count += len(keep)
    return count
