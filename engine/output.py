"""Report files and the end-of-job summary for the command line.

`write_reports` writes, into one directory, files that only the owner can
read (they hold phone numbers):

- ``report.json``: `JobReport.to_dict()`
- ``rejected.csv``: line, number, error_code, description
- ``dropped.csv``: line, value, reason
- ``failed.csv``: line, the CSV's own columns, to, status, error_code,
  description, permanent, batch_id (joined from the journal: `write_joined`)
- ``outcomes.csv`` (asked for): line, to, state, code, detail; one per data row

Cells from the input are written so a spreadsheet shows them as text
(`outcomes.safe_cell`).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson
from rich import box
from rich.table import Table

from .journal import Journal
from .outcomes import safe_cell, write_failed, write_outcomes
from .report import JobReport

__all__ = [
    "REPORT_FILES",
    "default_report_dir",
    "fmt_bytes",
    "fmt_duration",
    "fmt_wait",
    "open_private",
    "plan_table",
    "preview_lines",
    "smart_encoding_line",
    "summary_table",
    "write_joined",
    "write_reports",
]

REPORT_FILES = ("report.json", "rejected.csv", "dropped.csv", "failed.csv", "outcomes.csv")
_FILE_MODE = 0o600
_DIR_MODE = 0o700


def default_report_dir(journal: str | None, now: dt.datetime | None = None) -> Path:
    """Next to the journal (``<dir>/<name>-report``), else ``./hvsms-report-<timestamp>``."""
    if journal:
        p = Path(journal)
        return p.with_name(f"{p.stem}-report")
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return Path(f"hvsms-report-{stamp}")


def _open_private(path: Path) -> Any:
    """Open `path` for writing text, created (or truncated) with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, _FILE_MODE)
    try:
        os.fchmod(fd, _FILE_MODE)  # an existing file keeps its mode through O_CREAT
        return os.fdopen(fd, "w", encoding="utf-8", newline="")
    except BaseException:
        os.close(fd)
        raise


open_private = _open_private


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with _open_private(path) as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def delivery_fetched(report: JobReport) -> bool:
    """Whether the job got as far as fetching delivery failures."""
    return not report.dry_run and report.status == "completed"


async def write_joined(journal: str, directory: str | os.PathLike[str], *,
                       outcomes: bool = False) -> list[Path]:
    """failed.csv (and outcomes.csv) joined from the journal and the CSV, streamed."""
    d = Path(directory)
    d.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    written: list[Path] = []
    with Journal.open(journal) as j:
        path = d / "failed.csv"
        with _open_private(path) as f:
            await write_failed(j, f)
        written.append(path)
        path = d / "outcomes.csv"
        if outcomes:
            with _open_private(path) as f:
                await write_outcomes(j, f)
            written.append(path)
        elif path.exists():
            path.unlink()  # a stale one from an earlier run would mislead
    return written


def write_reports(report: JobReport, directory: str | os.PathLike[str], *,
                  joined: Sequence[Path] = ()) -> list[Path]:
    """Write the report files into `directory` (created 0700 if new); returns their paths.

    `joined`: failed.csv (and outcomes.csv) already written by `write_joined`.
    """
    d = Path(directory)
    d.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    written: list[Path] = []

    path = d / "report.json"
    with _open_private(path) as f:
        f.write(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    written.append(path)

    path = d / "rejected.csv"
    _write_csv(path, ("line", "number", "error_code", "description"),
               ((r.line, safe_cell(r.to, number=True), r.error_code, r.description)
                for r in report.rejected))
    written.append(path)

    path = d / "dropped.csv"
    _write_csv(path, ("line", "value", "reason"),
               ((r.line, safe_cell(r.value, number=True), r.reason) for r in report.dropped))
    written.append(path)

    path = d / "failed.csv"
    if joined:
        written.extend(joined)
    elif delivery_fetched(report):
        # No journal to join with: what the report holds.
        _write_csv(path, ("line", "to", "status", "error_code", "description", "permanent",
                          "batch_id"),
                   ((r.line, safe_cell(r.to, number=True), r.status, r.error_code,
                     r.description, "yes" if r.permanent else "no", r.batch_id)
                    for r in report.failed))
        written.append(path)
    elif path.exists():
        path.unlink()  # a stale one from an earlier run of the same job would mislead
    return written


# --- the summary ---------------------------------------------------------------

def fmt_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def fmt_wait(seconds: float) -> str:
    """A wait as people say it: '2 h 14 min', '3 d 4 h', '45 s'."""
    s = int(max(0.0, seconds) + 0.5)
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{d} d {h} h"
    if h:
        return f"{h} h {m} min"
    return f"{m} min" if m else f"{s} s"


def fmt_bytes(n: int) -> str:
    """Decimal units, as the API's limit is usually quoted (50 MB)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _n(value: int) -> str:
    return f"{value:,}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _table(ascii_only: bool, title: str | None = None) -> Table:
    t = Table(title=title, box=None if ascii_only else box.SIMPLE_HEAD,
              show_header=False, title_justify="left")
    t.add_column("what", style="bold", no_wrap=True)
    t.add_column("count", justify="right", no_wrap=True)
    t.add_column("detail", overflow="fold")
    return t


def plan_table(report: JobReport, *, ascii_only: bool = False) -> Table:
    """What a dry run found: recipients, batches, segments, estimated cost."""
    c = report.counts
    recipients = sum(b.messages for b in report.batches)
    t = _table(ascii_only, "Plan")
    t.add_row("rows read", _n(c.read), "")
    t.add_row("dropped", _n(c.dropped), _drop_detail(report))
    t.add_row("recipients", _n(recipients), "to be sent")
    biggest = max((b.bytes for b in report.batches), default=0)
    t.add_row("batches", _n(len(report.batches)),
              f"largest {fmt_bytes(biggest)}" if biggest else "")
    t.add_row("segments", _n(c.segments), "")
    t.add_row("estimated cost", _money(report.estimated_cost), "at the list price per segment")
    return t


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _shown(text: str) -> str:
    """A message as a terminal may show it: control characters escaped (no ESC codes)."""
    return _CONTROL.sub(lambda m: "\\n" if m.group() == "\n" else f"\\x{ord(m.group()):02x}",
                        text)


def _char(c: str) -> str:
    code = f"U+{ord(c):04X}"
    return f"{c} {code}" if c.isprintable() and not c.isspace() else code


def preview_lines(report: JobReport) -> list[str]:
    """The first messages as they will be sent, with length, encoding and segments."""
    if not report.preview:
        return []
    lines = [f"Preview (the first {len(report.preview)} messages, as they will be sent):"]
    for p in report.preview:
        enc = p["encoding"]
        if p["ucs2_chars"]:
            enc += f" because of {', '.join(map(_char, p['ucs2_chars']))}"
        n = p["segments"]
        lines.append(f"  line {p['line']}, {p['to']}: {p['length']:,} characters, {enc}, "
                     f"{n} segment{'s' if n != 1 else ''}")
        lines.append(f"    {_shown(p['text'])}")
    return lines


def smart_encoding_line(report: JobReport) -> str | None:
    """'smart encoding: 1,000,000 messages 2 -> 1 segments, $7,000.00 saved', or None."""
    s = report.smart_encoding
    if not s:
        return None
    n, before, after = s["messages"], s["segments_before"], s["segments_after"]
    if n == sum(b.messages for b in report.batches) and before % n == 0 and after % n == 0:
        what = f"{n:,} messages {before // n} -> {after // n} segments"
    else:
        what = f"{n:,} messages changed, {before:,} -> {after:,} segments in all"
    return (f"smart encoding: {what}, {_money(s['cost_saved'])} saved "
            "(--no-smart-encoding sends the texts as written)")


def _drop_detail(report: JobReport) -> str:
    c = report.counts
    parts = [(c.invalid, "invalid"), (c.duplicates, "duplicates"), (c.opted_out, "opted out"),
             (c.suppressed, "suppressed"), (c.too_long, "too long"),
             (c.outside_us_canada, "outside US/Canada"), (c.empty_text, "empty text")]
    return ", ".join(f"{_n(n)} {what}" for n, what in parts if n)


def _pending_detail(report: JobReport) -> str:
    if not report.counts.pending:
        return ""
    if report.emulator and report.status != "completed":
        # The built-in emulator ended with the run: these receipts can never come.
        return "no receipt: the built-in emulator ended with this run"
    return "no final receipt yet: refresh later"


def summary_table(report: JobReport, *, ascii_only: bool = False) -> Table:
    """The end-of-job table: where every row went, and what it took."""
    c = report.counts
    title = "Dry run" if report.dry_run else f"Job {report.status}"
    t = _table(ascii_only, title)
    t.add_row("rows read", _n(c.read), "")
    t.add_row("dropped", _n(c.dropped), _drop_detail(report))
    if report.dry_run:
        t.add_row("recipients", _n(sum(b.messages for b in report.batches)), "would be sent")
    else:
        t.add_row("submitted", _n(c.submitted), "")
        t.add_row("accepted", _n(c.accepted), "")
        t.add_row("rejected", _n(c.rejected), "by the API; see rejected.csv" if c.rejected else "")
        t.add_row("not yet sent", _n(c.not_sent),
                  f"hvsms resume {report.journal} sends them" if c.not_sent and report.journal
                  and not report.emulator else "")
        t.add_row("processed", _n(c.processed), "")
        t.add_row("delivered", _n(c.delivered), "")
        t.add_row("failed", _n(c.failed), "delivery failed" if c.failed else "")
        t.add_row("pending", _n(c.pending), _pending_detail(report))
    done = sum(1 for b in report.batches if b.status in ("completed", "Completed", "Sent"))
    sent = sum(1 for b in report.batches if b.id)
    t.add_row("batches", _n(len(report.batches)),
              "" if report.dry_run else f"{_n(sent)} sent, {_n(done)} completed")
    t.add_row("segments", _n(c.segments), "planned" if c.not_sent and not report.dry_run
              else "")
    t.add_row("cost", _money(report.cost if report.cost is not None else None),
              f"estimated {_money(report.estimated_cost)}")
    res = report.results
    if not report.dry_run and res.get("batches"):
        pending = f", {_n(res.get('pending', 0))} pending" if res.get("pending") else ""
        t.add_row("results", _n(int(res.get("pages", 0))),
                  ("pages: every message's status" if res.get("complete") else
                   f"pages: {res.get('batches_done', 0)} of {res.get('batches', 0)} batches")
                  + pending)
    if not report.dry_run:
        req = report.requests
        t.add_row("requests", _n(int(req.get("total_requests", 0))),
                  f"{req.get('retries', 0)} retries, {req.get('rate_limited', 0)} rate-limited")
    t.add_row("elapsed", fmt_duration(report.elapsed), "")
    return t
