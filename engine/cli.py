"""The ``hvsms`` command: send, resume, status, results, retry, emulator.

    hvsms send recipients.csv --text "Hi {name}"
    hvsms resume job.journal
    hvsms status job.journal --watch
    hvsms results job.journal --outcomes
    hvsms retry job.journal
    hvsms emulator --port 8080

Credentials come only from the environment (RC_* variables, or a ``.env``
file in the current directory); without them every command runs on the
built-in emulator and says so. Exit codes: 0 the job finished (rejections are
reported, not errors), 1 the job failed, 2 bad usage or bad input, 130
interrupted (resumable from the journal).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from . import __version__
from .config import (
    DEFAULT_MAX_BATCH_BYTES,
    DEFAULT_MAX_BATCH_MESSAGES,
    Credentials,
    JobOptions,
    credentials_from_env,
)
from .errors import ConfigError, HvsmsError, InputError, JournalError, JournalLocked, SenderError
from .job import (
    TO_SEND,
    Job,
    Progress,
    SenderProgress,
    job_done,
    journaled_job,
    pool_spec,
    refuse_other_settings,
)
from .job import refresh as refresh_job
from .journal import (
    COMPLETED,
    FAILED,
    PLANNED,
    SPLIT,
    SUBMITTED,
    SUBMITTING,
    UNCERTAIN,
    Journal,
)
from .lock import JournalLock
from .logs import JsonLinesHandler, RedactingFilter, add_json_log, setup_logging
from .outcomes import set_formula_guard
from .output import (
    default_report_dir,
    fmt_duration,
    fmt_wait,
    open_private,
    plan_table,
    preview_lines,
    smart_encoding_line,
    summary_table,
    write_joined,
    write_reports,
)
from .report import JobReport
from .retry import retry_lines, write_retry_csv
from .schedule import journal_schedule
from .session import EMULATOR_NOTE
from .stop import request_stop, wait_stopped
from .summary import Snapshot, all_completed, summarise, to_send

__all__ = ["cli", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_CARRIER = 3  # paused early: the carriers refuse what a number sends

EMULATOR_LINE = (
    "No credentials (RC_* variables or ./.env): using the built-in emulator. "
    "Nothing leaves this machine."
)
EMULATOR_ENDED = ("The batches lived in the built-in emulator, which ended with this run: "
                  "nothing reached a phone, and there is nothing to resume.")
# The library says the same in its report and a log warning; the CLI says it once, above.
_LIBRARY_EMULATOR_NOTE = EMULATOR_NOTE
_NOT_WRITTEN = "failed.csv and outcomes.csv not written"
_RATE_WINDOW = 10.0  # seconds of history behind the rates shown
# Seconds between plain progress lines when stdout is not a terminal.
PLAIN_PROGRESS_INTERVAL = float(os.environ.get("HVSMS_PROGRESS_INTERVAL", "5"))


class UsageProblem(Exception):
    """Bad usage found by the CLI itself (exit 2)."""


# --- console output -------------------------------------------------------------------

class Ui:
    """Where the CLI writes: stdout for the job, stderr for errors.

    On a terminal it uses rich (colour, a live display); otherwise it writes
    plain lines only, with no colour or cursor control codes.
    """

    def __init__(self, *, quiet: bool = False, debug: bool = False) -> None:
        self.quiet = quiet
        self.debug = debug
        self.tty = sys.stdout.isatty()
        if self.tty:
            self.console = Console(highlight=False, soft_wrap=True)
        else:
            self.console = Console(force_terminal=False, color_system=None, no_color=True,
                                   highlight=False, emoji=False, soft_wrap=True, width=100)
        self.redactor: RedactingFilter | None = None
        self.json: JsonLinesHandler | None = None  # --log-json

    def say(self, text: str, *, style: str | None = None, always: bool = False) -> None:
        if self.quiet and not always:
            return
        if self.tty:
            self.console.print(Text(text, style=style or ""))
        else:
            click.echo(text)

    def table(self, table: Table) -> None:
        if self.quiet:
            return
        if self.tty:
            self.console.print(table)
            return
        # Piped: plain lines, no borders and no padding at their ends.
        with self.console.capture() as captured:
            self.console.print(table)
        click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))

    def error(self, text: str) -> None:
        if self.redactor is not None:
            text = self.redactor.redact(text)
        lines = text.splitlines() or [""]
        click.echo(f"hvsms: error: {lines[0]}", err=True)
        for line in lines[1:]:
            click.echo(line, err=True)


class ProgressView:
    """Shows `Progress` snapshots: a live panel on a terminal, else periodic plain lines."""

    def __init__(self, ui: Ui, verb: str, *, total: int | None = None,
                 total_batches: int | None = None,
                 interval: float = PLAIN_PROGRESS_INTERVAL) -> None:
        self.ui = ui
        self.verb = verb
        self.total = total  # recipients expected, when a plan told us
        self.total_batches = total_batches
        self.interval = interval
        self.p = Progress()
        # (time, rows read, accepted, processed, batches submitted, batches completed)
        self._samples: collections.deque[tuple[float, int, int, int, int, int]] = (
            collections.deque())
        self._live: Live | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_line = ""
        self._started = self._updated = time.monotonic()

    # the library's callback: keep a copy, no I/O here
    def update(self, p: Progress) -> None:
        self.p = dataclasses.replace(p)
        now = self._updated = time.monotonic()
        self._samples.append((now, p.rows_read, p.accepted, p.processed, p.batches_submitted,
                              p.batches_completed))
        while len(self._samples) > 2 and now - self._samples[1][0] > _RATE_WINDOW:
            self._samples.popleft()

    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _rates(self) -> tuple[float, ...]:
        """Per second over the last ~10 s, up to now (so a stall shows as 0/s).

        Rows read, recipients accepted and processed, batches submitted and completed.
        """
        p = self.p
        now = (p.rows_read, p.accepted, p.processed, p.batches_submitted, p.batches_completed)
        t = time.monotonic()
        base = next((s for s in self._samples if t - s[0] <= _RATE_WINDOW), None)
        if base is None and self._samples:
            base = self._samples[-1]
        if base is None or t - base[0] < 1.0:  # too little history: the average so far
            dt = max(self.elapsed(), 1e-6)
            return tuple(v / dt for v in now)
        dt = t - base[0]
        return tuple((v - b) / dt for v, b in zip(now, base[1:], strict=True))

    def _expected(self) -> int | None:
        p = self.p
        if self.total is not None:
            return self.total
        if p.planning_done and p.batches_submitted >= p.batches_planned:
            return p.accepted
        return None

    def _batches(self) -> int | None:
        if self.total_batches is not None:
            return self.total_batches
        return self.p.batches_planned if self.p.planning_done else None

    def _eta(self) -> str:
        """Time left: the slowest of submitting, completing and processing what remains,
        and of each paced sender's schedule (through its windows and cap)."""
        age = time.monotonic() - self._updated  # a waiting job ticks rarely
        ahead = [sp.eta - age for sp in self.p.senders if sp.eta is not None]
        rest = self._rest()
        if ahead and (rest is None or max(ahead) > rest):
            return fmt_duration(max(ahead))
        return "-" if rest is None else fmt_duration(rest)

    def _rest(self) -> float | None:
        p = self.p
        batches = self._batches()
        if batches is None:
            return None
        _, _, processed_rate, submit_rate, complete_rate = self._rates()
        todo = [(batches - p.batches_submitted, submit_rate)]
        expected = self._expected()
        if p.processed and expected is not None and processed_rate > 0:
            # While the API processes, batches complete only at the end of each:
            # the processedCount rate is what tells how long is left.
            todo.append((expected - p.processed, processed_rate))
        else:
            todo.append((batches - p.batches_completed, complete_rate))
        eta = 0.0
        for left, rate in todo:
            if left <= 0:
                continue
            if rate <= 0:
                return None
            eta = max(eta, left / rate)
        return eta

    def line(self) -> str:
        p = self.p
        rows_rate, accepted_rate, processed_rate, _, _ = self._rates()
        batches = self._batches()
        seen = max(p.batches_planned, p.batches_submitted)
        planned = f"{seen}+" if batches is None else f"{batches}"
        processed = (f", {p.processed:,} processed ({processed_rate:,.0f}/s)"
                     if p.processed else "")
        if p.results_pages:
            processed += (f"; results {p.results_pages:,} pages, "
                          f"{p.results_batches} batches done")
        age = time.monotonic() - self._updated  # a waiting job ticks rarely
        senders = "".join(f"; {_sender_text(sp, age=age)}" for sp in p.senders if sp.rate)
        busy = [sp for sp in p.senders if sp.rate and (sp.waiting or sp.processed < sp.planned)]
        waiting = ""
        if busy and all(sp.waiting for sp in busy):
            first = min(busy, key=lambda sp: sp.wait or 0.0)
            waiting = (f"waiting: nothing may be sent now; {first.number} "
                       f"{first.waiting}, {fmt_wait((first.wait or 0.0) - age)}; ")
        return (
            f"{self.verb}: {waiting}{p.rows_read:,} rows read ({rows_rate:,.0f}/s); "
            f"batches {p.batches_submitted}/{planned} submitted, {p.batches_completed} completed; "
            f"{p.accepted:,} recipients accepted ({accepted_rate:,.0f}/s){processed}; "
            f"ETA {self._eta()}{senders}; retries {p.retries}, 429s {p.rate_limited}; "
            f"{fmt_duration(self.elapsed())}"
        )

    def __rich__(self) -> Group:
        p = self.p
        rows_rate, acc_rate, processed_rate, _, _ = self._rates()
        t = Table.grid(padding=(0, 2))
        t.add_column(style="bold")
        t.add_column(justify="right")
        t.add_column()
        batches = self._batches()
        seen = max(p.batches_planned, p.batches_submitted)
        planned = f"{seen:,}+" if batches is None else f"{batches:,}"
        t.add_row("rows read", f"{p.rows_read:,}",
                  "all read" if p.planning_done else f"{rows_rate:,.0f}/s")
        t.add_row("batches", f"{p.batches_submitted:,}/{planned}",
                  f"submitted and accepted, {p.batches_completed:,} completed")
        total = self._expected()
        of = f" of {total:,}" if total is not None else ""
        t.add_row("recipients", f"{p.accepted:,}", f"accepted{of}, {acc_rate:,.0f}/s")
        if p.processed:
            t.add_row("processed", f"{p.processed:,}", f"{processed_rate:,.0f}/s")
        if p.results_pages:
            t.add_row("results", f"{p.results_pages:,}",
                      f"pages fetched, {p.results_batches:,} batches done")
        t.add_row("ETA", self._eta(), f"elapsed {fmt_duration(self.elapsed())}")
        for sp in p.senders:
            if sp.rate:
                t.add_row(sp.number, f"{sp.processed:,}/{sp.planned:,}",
                          _sender_text(sp, False, age=time.monotonic() - self._updated))
        t.add_row("retries", f"{p.retries:,}", f"429s {p.rate_limited:,}")
        return Group(Text(f"hvsms {self.verb}", style="bold cyan"), t)

    @contextlib.asynccontextmanager
    async def shown(self) -> Any:
        if self.ui.quiet:
            yield self
            return
        if self.ui.tty:
            self.reopen()
        else:
            self._ticker = asyncio.create_task(self._tick())
        try:
            yield self
        finally:
            self.close()
            if self._ticker is not None:
                self._ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._ticker
                self._ticker = None

    def reopen(self) -> None:
        """Show the live display again after `close` (a question was asked)."""
        if self.ui.tty and not self.ui.quiet and self._live is None:
            self._live = Live(self, console=self.ui.console, refresh_per_second=4,
                              transient=True, redirect_stdout=True, redirect_stderr=True)
            self._live.start()

    def close(self) -> None:
        """Stop the live display (idempotent)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            line = self.line()
            if line != self._last_line:
                self._last_line = line
                click.echo(line)


# --- running a job -------------------------------------------------------------------

@dataclasses.dataclass
class Outcome:
    report: JobReport | None
    signals: int = 0  # SIGINT/SIGTERM received while the job ran
    joined: list[Path] = dataclasses.field(default_factory=list)  # failed.csv, outcomes.csv


def _join_outputs(job: Job, directory: Path, *, outcomes: bool) -> list[Path]:
    """Have the job write failed.csv (and outcomes.csv) from its journal when it ends,
    before a temporary journal is removed; returns the list the paths go into."""
    joined: list[Path] = []

    async def write(journal: str, report: JobReport) -> None:
        if report.dry_run:
            return
        try:
            joined.extend(await write_joined(journal, directory, outcomes=outcomes))
        except HvsmsError as exc:
            report.warnings.append(f"{_NOT_WRITTEN}: {exc}")

    job.on_journal = write
    return joined


def _sender_text(sp: SenderProgress, counts: bool = True, *, age: float = 0.0) -> str:
    """A sender's progress: processed of planned, its pace, the time it still needs
    and what it waits for (`age`: seconds since the snapshot)."""
    eta = fmt_duration(sp.eta - age) if sp.eta is not None else "-"
    done = f"{sp.number} {sp.processed:,}/{sp.planned:,} processed, " if counts else "processed, "
    waits = f", {sp.waiting} ({fmt_wait((sp.wait or 0.0) - age)})" if sp.waiting else ""
    return f"{done}{sp.rate or 0:,.1f}/s, ETA {eta}{waits}"


async def _run_job(job: Job, view: ProgressView, ui: Ui) -> Outcome:
    """Run `job` with SIGINT/SIGTERM handled: the first stops it, a second aborts."""
    loop = asyncio.get_running_loop()
    outcome = Outcome(report=None)

    def on_signal(signum: int) -> None:
        outcome.signals += 1
        if outcome.signals == 1:
            ui.say(f"{signal.Signals(signum).name}: stopping; requests in flight finish and "
                   "the journal is saved (signal again to abort at once)", always=True)
            job.stop()
            # A safety net: the library drains for `drain_timeout`; never hang past it.
            loop.call_later(job.options.drain_timeout + 15, abort)
            return
        abort()

    def abort() -> None:
        # The journal records intent before every POST and is synced on each
        # change, so leaving now is as safe as kill -9 (which resume handles).
        view.close()  # give the terminal its cursor back
        _abort_now(ui, job.report)

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
    try:
        async with view.shown():
            outcome.report = await job.run()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
    return outcome


def _abort_now(ui: Ui, report: JobReport) -> NoReturn:
    """A second signal: leave at once, without waiting for anything."""
    lines = ["aborted: no report written."]
    if report.emulator:
        lines.append(EMULATOR_ENDED)
    elif report.journal and not report.dry_run:
        lines.append(f"The journal is safe; resume with: hvsms resume {report.journal}")
    for line in lines:
        ui.say(line, always=True)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(EXIT_INTERRUPTED)


def _finish(outcome: Outcome, ui: Ui, directory: Path, *, schedule: Sequence[str] = ()
            ) -> int:
    """Write the report files, print the summary and the next step; the exit code.
    A dry run prints its plan as a send shows it before asking (`schedule` too)."""
    report = outcome.report
    assert report is not None
    written = write_reports(report, directory, joined=outcome.joined)
    if ui.json is not None:
        ui.json.event("summary", status=report.status, counts=report.to_dict()["counts"],
                      results=report.results, requests=report.requests.get("total_requests"),
                      elapsed=round(report.elapsed, 3), journal=report.journal)
    _show_outcome(ui, report, schedule)
    ui.say(f"reports: {directory}/ ({', '.join(p.name for p in written)})")
    if report.status == "paused":
        return _paused(ui, report)
    if outcome.signals or report.status == "interrupted":
        if report.emulator:
            ui.say(f"Interrupted. {EMULATOR_ENDED}", always=True)
        elif report.journal and not report.dry_run:
            ui.say("Interrupted: requests in flight finished and the journal is saved.",
                   always=True)
            ui.say(f"Resume with: hvsms resume {report.journal}", always=True, style="bold")
        else:
            ui.say("Interrupted.", always=True)
        return EXIT_INTERRUPTED
    if report.status == "completed":
        c = report.counts
        if report.dry_run:
            would = sum(b.messages for b in report.batches)
            ui.say(f"dry run complete, nothing was sent ({would:,} would be sent, "
                   f"{c.dropped:,} dropped)", always=True, style="bold green")
        else:
            where = (" on the built-in emulator: nothing was sent to phones" if report.emulator
                     else "")
            ui.say(f"job completed{where} ({c.accepted:,} accepted, {c.rejected:,} rejected, "
                   f"{c.dropped:,} dropped)", always=True, style="bold green")
            if c.pending:
                later = (f"hvsms status --refresh {report.journal}" if report.journal
                         else "a refresh (the job's journal was not kept)")
                ui.say(f"{c.pending:,} delivery receipt(s) still pending (queued, sent or "
                       f"SMS-CAR-104): run `{later}` later for the final counts",
                       always=True, style="yellow")
        return EXIT_OK
    ui.error(f"job {report.status}: {report.message or 'no detail'}")
    if report.journal and not report.emulator:
        click.echo(f"Resume with: hvsms resume {report.journal}", err=True)
    return EXIT_FAILED


def _show_outcome(ui: Ui, report: JobReport, schedule: Sequence[str]) -> None:
    """The summary (a dry run: its plan, as a send shows it before asking), notes,
    schedule and warnings."""
    if report.dry_run:
        if report.sender:
            ui.say(f"sender: {report.sender}")
        ui.table(plan_table(report, ascii_only=not ui.tty))
        _show_plan_extras(ui, report)
    else:
        ui.table(summary_table(report, ascii_only=not ui.tty))
    _say_notes(ui, report, schedule)
    res = report.results
    if res.get("batches") and not res.get("complete") and not report.dry_run and report.journal:
        ui.say(f"note: delivery results of {res.get('batches_done', 0)} of "
               f"{res.get('batches', 0)} batches fetched; the rest with: "
               f"hvsms results {report.journal}", style="yellow")


def _paused(ui: Ui, report: JobReport) -> int:
    """A job that stopped early (`engine.early_stop`): the reason, and the way on."""
    ui.error(report.message)
    if report.journal:
        click.echo(f"once fixed, resume with: hvsms resume {report.journal} "
                   "(or send with --no-early-stop to send regardless)", err=True)
    return EXIT_CARRIER


def _say_notes(ui: Ui, report: JobReport, schedule: Sequence[str]) -> None:
    """A report's notes, the schedule, then its warnings (a plan's and a job's alike)."""
    for note in report.notes:
        ui.say(f"note: {note}")
    for line in schedule:
        ui.say(line)
    for w in report.warnings:
        if w != _LIBRARY_EMULATOR_NOTE:
            kind = "note" if w.startswith("dry run") else "warning"
            # A report file missing is said even with --quiet: it is not on disk.
            ui.say(f"{kind}: {w}", style="yellow", always=w.startswith(_NOT_WRITTEN))


def _show_plan_extras(ui: Ui, report: JobReport) -> None:
    """What the plan adds to the counts: the preview and what smart encoding saved."""
    for line in preview_lines(report):
        ui.say(line)
    smart = smart_encoding_line(report)
    if smart:
        ui.say(smart)


# --- setup shared by the commands -------------------------------------------------------

def _credentials(ui: Ui) -> Credentials | None:
    """Credentials from RC_* variables over ./.env, read as the library reads them."""
    creds, notes = credentials_from_env()
    for note in notes:
        ui.say(f"note: {note}")
    if creds is not None and ui.redactor is not None:
        ui.redactor.add_secrets(creds.secrets)
    return creds


def _setup(ui: Ui, *, verbose: bool, debug: bool, log_json: str | None = None,
           plain_cells: bool = False) -> None:
    set_formula_guard(not plain_cells)
    ui.redactor = setup_logging(verbose=verbose, debug=debug, drop=(_LIBRARY_EMULATOR_NOTE,))
    if log_json:
        try:
            ui.json = add_json_log(log_json, ui.redactor)
        except OSError as exc:
            ui.error(f"--log-json {log_json}: {exc.strerror or exc}")
            raise SystemExit(EXIT_USAGE) from None


@contextlib.contextmanager
def _guard(ui: Ui) -> Iterator[None]:
    """Map errors to one or two plain lines and an exit code (a traceback with --debug)."""
    try:
        yield
    except (InputError, ConfigError, JournalError, UsageProblem) as exc:
        if ui.debug:
            traceback.print_exc()
        ui.error(str(exc))
        raise SystemExit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    except HvsmsError as exc:
        if ui.debug:
            traceback.print_exc()
        ui.error(str(exc))
        raise SystemExit(EXIT_FAILED) from None
    except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - the last resort: one line, not a traceback
        if ui.debug:
            traceback.print_exc()
        ui.error(f"internal error: {type(exc).__name__}: {exc}"
                 + ("" if ui.debug else "\n  (run again with --debug for the traceback)"))
        raise SystemExit(EXIT_FAILED) from None


def _confirm_allowed(yes: bool) -> None:
    if not yes and not sys.stdin.isatty():
        raise UsageProblem(
            "refusing to send with real credentials without confirmation: stdin is not a "
            "terminal\n  hint: add --yes to send without asking"
        )


def _confirm(ui: Ui, question: str) -> None:
    try:
        ok = click.confirm(question, default=False)
    except click.Abort:
        click.echo("")
        ui.say("aborted: nothing was sent", always=True)
        raise SystemExit(EXIT_INTERRUPTED) from None
    if not ok:
        ui.say("not confirmed: nothing was sent", always=True)
        raise SystemExit(EXIT_FAILED)


def _check_senders(ctx: click.Context, param: click.Parameter,
                   value: tuple[str, ...]) -> str | None:
    """`--from` values (repeatable, or `all`) as the job keeps them: numbers joined by commas."""
    try:
        return pool_spec(value or None)
    except SenderError as exc:
        why = str(exc).removeprefix("sender ").replace("(+15551234567)", "(like +14155550123)")
        raise click.BadParameter(why) from None


_DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|"}


def _check_delimiter(ctx: click.Context, param: click.Parameter,
                     value: str | None) -> str | None:
    if value is None:
        return None
    value = _DELIMITER_NAMES.get(value.lower(), value)
    if len(value) != 1 or value in '"\r\n':
        raise click.BadParameter(f"{value!r}: give one character, or tab")
    return value


_SEND_YES = "Send without asking (needed with credentials when stdin is not a terminal)."


def _common(f: Callable[..., Any] | None = None, *,
            yes_help: str = _SEND_YES) -> Callable[..., Any]:
    """Output and confirmation flags shared by `send`, `resume`, `retry` and `results`."""
    if f is None:
        return lambda g: _common(g, yes_help=yes_help)
    for decorator in reversed((
        click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
                     help="Directory for report.json and the CSV files [default: next to the "
                          "journal, else ./hvsms-report-<timestamp>]."),
        click.option("--yes", "-y", is_flag=True, help=yes_help),
        click.option("--quiet", "-q", is_flag=True,
                     help="No progress or summary: errors and the final line only."),
        click.option("--verbose", "-v", is_flag=True, help="Log retries and reconciliation."),
        click.option("--debug", is_flag=True, help="Debug logs, and tracebacks on errors."),
        click.option("--outcomes", is_flag=True,
                     help="Also write outcomes.csv: one line per data row with its final "
                          "state (dropped, rejected, delivered, failed, pending, not_sent)."),
        click.option("--plain-cells", is_flag=True,
                     help="Write the report files' cells as they are: no leading ' before a "
                          "cell starting with = + - @ (which keeps spreadsheets from running "
                          "it as a formula); for files read by programs."),
        click.option("--log-json", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Append one JSON object per event (batch planned/submitted/"
                          "completed, retry, 429, results page, summary) to FILE."),
    )):
        f = decorator(f)
    return f


# --- commands -----------------------------------------------------------------------

class _Commands(click.Group):
    """The commands; `emulator` is imported only when asked for (it is most of the
    package, and a send on real credentials never needs it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "emulator"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "emulator":
            from .emulator.cli import emulator

            return emulator
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hvsms")
def cli() -> None:
    """Send SMS in bulk through RingCentral's High Volume (A2P) SMS API.

    Without RC_* credentials (environment or ./.env) everything runs against
    the built-in emulator: nothing leaves the machine.
    """


@cli.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, readable=True))
@click.option("--text", "-t", help="Text for every row, or a template like 'Hi {name}'. "
                                   "A row's own text column wins.")
@click.option("--from", "sender", callback=_check_senders, metavar="E164|all", multiple=True,
              help="Sending number; give it several times for a pool (each recipient always "
                   "hears from the same one), or 'all' for every A2P SMS number of the account "
                   "[default: the account's first A2P SMS number].")
@click.option("--match-area-code", is_flag=True,
              help="With a pool: a local number of the recipient's area code when the pool "
                   "has one.")
@click.option("--horizon", "horizon_minutes", type=float, default=10.0, show_default=True,
              metavar="MINUTES",
              help="Most of each sender's throughput queued on the server, in minutes: a stop "
                   "leaves at most this in flight (0: send every batch at once).")
@click.option("--window", default=None, metavar="HH:MM-HH:MM|any",
              help="Hours a recipient may be texted, in their local time by area code "
                   "[default: 08:00-21:00; on an emulator on loopback: any]. 'any': no quiet "
                   "hours (transactional messages).")
@click.option("--quiet-hours", "quiet_hours", type=click.Choice(["federal", "states"]),
              default="federal", show_default=True,
              help="'states': also the stricter state rules (CT, FL, MD, MS, NJ, OK, RI, TX).")
@click.option("--daily-cap", type=int, default=None, metavar="N",
              help="Most messages per sender per day (UTC); the rest waits for the next day.")
@click.option("--rate", type=float, default=None, metavar="MSG/S",
              help="Messages per second of each sender [default: by number type, toll-free 8, "
                   "local 1, then learned from the server].")
@click.option("--journal", "-j", type=click.Path(dir_okay=False),
              help="The job's journal (SQLite); an existing one is resumed.")
@click.option("--to-column", default="to", show_default=True, help="Recipient column.")
@click.option("--text-column", default="text", show_default=True,
              help="Optional per-row text column.")
@click.option("--max-batch-bytes", type=int, default=DEFAULT_MAX_BATCH_BYTES, show_default=True,
              help="Largest request body, in bytes.")
@click.option("--max-batch-messages", type=int, default=DEFAULT_MAX_BATCH_MESSAGES,
              show_default=True, help="Most messages per batch (request).")
@click.option("--concurrency", type=int, default=4, show_default=True,
              help="Batches posted at once.")
@click.option("--region", default="US", show_default=True,
              help="Region for numbers in national format.")
@click.option("--strict", is_flag=True,
              help="Only send to valid numbers (not just possible ones).")
@click.option("--no-dedupe", is_flag=True, help="Keep duplicate recipients.")
@click.option("--suppress", type=click.Path(exists=True, dir_okay=False),
              help="CSV of numbers never to send to (a to/phone/number column, or one per line).")
@click.option("--encoding", default="utf-8", show_default=True, help="Encoding of FILE.")
@click.option("--delimiter", callback=_check_delimiter, metavar="CHAR",
              help="Field separator: , ; tab | or another character [default: detected from "
                   "the header and first rows].")
@click.option("--smart-encoding/--no-smart-encoding", default=True, show_default=True,
              help="Swap curly quotes, long dashes, odd spaces and the like for GSM-7 "
                   "look-alikes when that avoids UCS-2 (fewer segments); --no-smart-encoding "
                   "sends texts byte for byte.")
@click.option("--dry-run", is_flag=True,
              help="Plan and report, send nothing (needs no credentials).")
@click.option("--again", is_flag=True,
              help="Send even if the same file, text and sender went out in the last 24 hours.")
@click.option("--no-early-stop", is_flag=True,
              help="Send everything even when a number's first results show carrier "
                   "filtering (exit 3 otherwise, resumable).")
@click.option("--no-results", is_flag=True,
              help="Do not fetch every message's delivery result (failed.csv then stays "
                   "empty; `hvsms results` can fetch them later).")
@click.option("--no-events", is_flag=True,
              help="Do not subscribe to RingCentral's A2P events (WebSocket): poll only.")
@_common
def send(file: str, text: str | None, sender: str | None, journal: str | None,
         to_column: str, text_column: str, max_batch_bytes: int, max_batch_messages: int | None,
         concurrency: int, region: str, strict: bool, no_dedupe: bool, suppress: str | None,
         encoding: str, delimiter: str | None, smart_encoding: bool, dry_run: bool,
         again: bool, no_early_stop: bool, no_results: bool, report_dir: Path | None,
         yes: bool, quiet: bool,
         verbose: bool, debug: bool, outcomes: bool, log_json: str | None,
         plain_cells: bool = False, match_area_code: bool = False, horizon_minutes: float = 10.0,
         rate: float | None = None, window: str | None = None, quiet_hours: str = "federal",
         daily_cap: int | None = None, no_events: bool = False) -> NoReturn:
    """Send one SMS to every row of FILE (a CSV with a header row)."""
    ui = Ui(quiet=quiet, debug=debug)
    _setup(ui, verbose=verbose, debug=debug, log_json=log_json, plain_cells=plain_cells)
    with _guard(ui):
        options = JobOptions(
            to_column=to_column, text_column=text_column, encoding=encoding,
            max_batch_bytes=max_batch_bytes, max_batch_messages=max_batch_messages,
            concurrency=concurrency, region=region.upper(),
            validate="strict" if strict else "possible", dedupe=not no_dedupe,
            suppress=suppress, fetch_delivery=not no_results, delimiter=delimiter,
            smart_encoding=smart_encoding, match_area_code=match_area_code,
            horizon=horizon_minutes * 60 if horizon_minutes > 0 else None, rate=rate,
            window=window, quiet_hours="states" if quiet_hours == "states" else "federal",
            daily_cap=daily_cap, events=not no_events, early_stop=not no_early_stop,
        )
        code = _send(ui, file, text=text, sender=sender, journal=journal, options=options,
                     dry_run=dry_run, report_dir=report_dir, yes=yes, again=again,
                     outcomes=outcomes)
    raise SystemExit(code)


def _existing_job_done(journal: str | None, *, text: str | None = None,
                       sender: str | None = None, options: JobOptions | None = None) -> bool:
    """Before planning or asking: refuse a journal in use or of another job; True if its
    job is already done."""
    if not journal or not os.path.exists(journal):
        return False
    holder = JournalLock.holder(journal)
    if holder is not None:
        raise JournalLocked(journal, str(holder))
    with Journal.open(journal) as j:
        if options is not None:
            refuse_other_settings(j, text, sender, options)
        return job_done(j)


def _nothing_left(ui: Ui, journal: str) -> int:
    ui.say(f"nothing left to send: every batch of the job in {journal} completed earlier "
           f"(hvsms status {journal} shows it)", always=True, style="bold green")
    return EXIT_OK


def _send(ui: Ui, file: str, *, text: str | None, sender: str | None, journal: str | None,
          options: JobOptions, dry_run: bool, report_dir: Path | None, yes: bool,
          again: bool = False, outcomes: bool = False) -> int:
    if dry_run:
        creds = _credentials(ui)
        if creds is None:
            ui.say("Dry run: nothing is sent; no credentials, so planned as a send on the "
                   "built-in emulator would be.")
        else:
            ui.say(f"Dry run: nothing is sent; planned with the senders and opt-outs of "
                   f"{creds.server_url}.")
        # Never the user's journal: a dry run's plan must not become the real job's
        # (it is not confirmed). The report still goes next to it.
        view = ProgressView(ui, "planning")
        job = Job(file, text=text, sender=sender, credentials=creds, journal=None,
                  options=options, progress=view.update, dry_run=True)
        outcome = asyncio.run(_run_job(job, view, ui))
        return _finish(outcome, ui, report_dir or default_report_dir(journal),
                       schedule=job.schedule)

    if _existing_job_done(journal, text=text, sender=sender, options=options):
        assert journal is not None
        return _nothing_left(ui, journal)
    creds = _credentials(ui)
    directory = report_dir or default_report_dir(journal)
    view = ProgressView(ui, "sending")
    asked: _Question | None = None
    if creds is None:
        ui.say(EMULATOR_LINE, style="bold yellow")
    else:
        _confirm_allowed(yes)
        ui.say(f"server: {creds.server_url}")
        if journal and os.path.exists(journal):
            ui.say(f"journal: {journal} exists: the job recorded there is resumed")
        # One job: it logs in, plans the whole file with the real sender and
        # opt-outs, asks here, then sends what it planned.
        view.verb = "planning"
        asked = _Question(ui, view, creds.server_url, yes=yes)
    job = Job(file, text=text, sender=sender, credentials=creds, journal=journal,
              options=options, progress=view.update, again=again,
              report_dir=str(directory.absolute()),
              confirm=asked.confirm if asked is not None else None)
    joined = _join_outputs(job, directory, outcomes=outcomes)
    outcome = asyncio.run(_run_job(job, view, ui))
    if asked is not None and asked.answer in ("no", "abort") and not outcome.signals:
        if outcome.report is not None:
            job.files.discard(outcome.report, declined=True)  # a plan nobody sent
        return asked.declined()
    report = outcome.report
    if report is not None and job.stage == "session" and report.status == "failed":
        # Login or sender refused, server unreachable: nothing was read or sent.
        job.files.drop_if_empty(report)
        ui.error(report.message)
        return EXIT_FAILED
    outcome.joined = joined
    return _finish(outcome, ui, directory)


class _Question:
    """Shows the job's plan and asks before it sends (`Job(confirm=...)`)."""

    def __init__(self, ui: Ui, view: ProgressView, server: str, *, yes: bool) -> None:
        self.ui, self.view, self.server, self.yes = ui, view, server, yes
        self.answer: str | None = None  # yes | no | abort; None: never asked

    async def confirm(self, plan: JobReport, schedule: list[str]) -> bool:
        ui, view = self.ui, self.view
        view.close()
        todo = [b for b in plan.batches if b.status in TO_SEND]
        total = sum(b.messages for b in todo)
        ui.say(f"sender: {plan.sender}")
        ui.table(plan_table(plan, ascii_only=not ui.tty))
        _show_plan_extras(ui, plan)
        _say_notes(ui, plan, schedule)
        self.answer = "yes" if self.yes else self._ask(f"Send {total:,} messages via "
                                                        f"{self.server}?")
        if self.answer != "yes":
            return False
        view.verb, view.total = "sending", total  # (pacing may cut batches: not their count)
        view.reopen()
        return True

    def _ask(self, question: str) -> str:
        try:
            return "yes" if click.confirm(question, default=False) else "no"
        except click.Abort:
            click.echo("")
            return "abort"

    def declined(self) -> int:
        if self.answer == "no":
            self.ui.say("not confirmed: nothing was sent", always=True)
            return EXIT_FAILED
        self.ui.say("aborted: nothing was sent", always=True)
        return EXIT_INTERRUPTED


@cli.command()
@click.argument("journal", type=click.Path(dir_okay=False))
@_common
def resume(journal: str, report_dir: Path | None, yes: bool, quiet: bool, verbose: bool,
           debug: bool, outcomes: bool, log_json: str | None,
           plain_cells: bool = False) -> NoReturn:
    """Continue the job recorded in JOURNAL (after an interruption or a failure)."""
    ui = Ui(quiet=quiet, debug=debug)
    _setup(ui, verbose=verbose, debug=debug, log_json=log_json, plain_cells=plain_cells)
    with _guard(ui):
        if _existing_job_done(journal):
            raise SystemExit(_nothing_left(ui, journal))
        with Journal.open(journal) as j:
            inputs = j.inputs
            batches = j.batches()
            job_sender = j.meta("sender") or inputs.get("sender")
        creds = _credentials(ui)
        todo = [b for b in batches if b.state in TO_SEND]
        if creds is None:
            ui.say(EMULATOR_LINE, style="bold yellow")
        else:
            _confirm_allowed(yes)
            ui.say(f"server: {creds.server_url}")
            ui.say(f"sender: {job_sender or 'the first A2P SMS number of the account'}")
            ui.say(f"job: {inputs.get('source')}: {len(todo)} of {len(batches)} planned "
                   "batches still to send")
            if not yes:
                _confirm(ui, f"Resume sending via {creds.server_url}?")
        view = ProgressView(ui, "resuming")
        job = journaled_job(inputs, journal=journal, credentials=creds, progress=view.update)
        directory = report_dir or default_report_dir(journal)
        joined = _join_outputs(job, directory, outcomes=outcomes)
        outcome = asyncio.run(_run_job(job, view, ui))
        outcome.joined = joined
        code = _finish(outcome, ui, directory)
    raise SystemExit(code)


@cli.command()
@click.argument("journal", type=click.Path(dir_okay=False))
@_common(yes_help="Accepted for symmetry with send and resume; results sends nothing, so "
                  "it never asks.")
def results(journal: str, report_dir: Path | None, yes: bool, quiet: bool, verbose: bool,
            debug: bool, outcomes: bool, log_json: str | None,
            plain_cells: bool = False) -> NoReturn:
    """Fetch (or finish fetching) every message's delivery result for the job in JOURNAL.

    Sends no message: follows batches still processing, lists the messages of
    every completed batch not fetched yet (and again those still pending),
    then writes failed.csv (and outcomes.csv) joined to the CSV's lines.
    """
    ui = Ui(quiet=quiet, debug=debug)
    _setup(ui, verbose=verbose, debug=debug, log_json=log_json, plain_cells=plain_cells)
    with _guard(ui):
        inputs = _journal_inputs(journal)
        creds = _credentials(ui)
        if creds is None:
            ui.say(EMULATOR_LINE, style="bold yellow", always=True)
        else:
            ui.say(f"server: {creds.server_url}", always=True)
        view = ProgressView(ui, "results")
        job = journaled_job(inputs, journal=journal, credentials=creds, progress=view.update)
        job.results_only = True
        directory = report_dir or default_report_dir(journal)
        joined = _join_outputs(job, directory, outcomes=outcomes)
        outcome = asyncio.run(_run_job(job, view, ui))
        outcome.joined = joined
        code = _finish(outcome, ui, directory)
    raise SystemExit(code)


@cli.command()
@click.argument("journal", type=click.Path(dir_okay=False))
@click.option("--journal", "-j", "new_journal", type=click.Path(dir_okay=False),
              help="The retry job's own journal [default: <JOURNAL's name>-retry.journal].")
@click.option("--dry-run", is_flag=True, help="Write the retry CSV and plan, send nothing.")
@_common
def retry(journal: str, new_journal: str | None, dry_run: bool, report_dir: Path | None,
          yes: bool, quiet: bool, verbose: bool, debug: bool, outcomes: bool,
          log_json: str | None, plain_cells: bool = False) -> NoReturn:
    """Send again, as a new job, the rows of JOURNAL's job that failed for a temporary reason.

    Same text and sender; the rows (with their original columns) go to
    <JOURNAL's name>-retry.csv. Permanent failures are left out, and so are
    messages with no final status (SMS-CAR-104/199), which may have arrived.
    """
    ui = Ui(quiet=quiet, debug=debug)
    _setup(ui, verbose=verbose, debug=debug, log_json=log_json, plain_cells=plain_cells)
    with _guard(ui):
        inputs = _journal_inputs(journal)
        with Journal.open(journal) as j:
            sender = j.meta("sender") or inputs.get("sender")
            todo = retry_lines(j)
            base = Path(journal)
            csv_path = base.with_name(f"{base.stem}-retry.csv")
            if todo.lines:
                with open_private(csv_path) as f:
                    rows = asyncio.run(write_retry_csv(j, todo.lines, f))
        left = (f" ({todo.permanent:,} failed permanently and {todo.pending:,} have no final "
                "status yet: left out)")
        if not todo.lines:
            ui.say(f"nothing to retry: no message failed for a temporary reason{left}",
                   always=True)
            raise SystemExit(EXIT_OK)
        ui.say(f"retry: {rows:,} rows written to {csv_path}{left}", always=True)
        options = dict(inputs.get("options") or {})
        options["encoding"] = "utf-8"  # the retry CSV is written as UTF-8
        new_journal = new_journal or str(base.with_name(f"{base.stem}-retry.journal"))
        code = _send(ui, str(csv_path), text=inputs.get("text"), sender=sender,
                     journal=new_journal, options=JobOptions(**options), dry_run=dry_run,
                     report_dir=report_dir, yes=yes, outcomes=outcomes,
                     again=True)  # a retry is meant to send again
    raise SystemExit(code)


def _journal_inputs(journal: str) -> dict[str, Any]:
    with Journal.open(journal) as j:
        return j.inputs


@cli.command()
@click.argument("journal", type=click.Path(dir_okay=False))
@click.option("--watch", "-w", is_flag=True, help="Keep showing it until the job is done.")
@click.option("--interval", type=float, default=2.0, show_default=True,
              help="Seconds between updates with --watch.")
@click.option("--refresh", is_flag=True,
              help="Ask the API for the batches' delivery counts again (receipts that "
                   "came after the job) and rewrite the report files. Sends nothing.")
@click.option("--report", "report_dir", type=click.Path(file_okay=False, path_type=Path),
              help="With --refresh: directory of the report files [default: next to the "
                   "journal].")
def status(journal: str, watch: bool, interval: float, refresh: bool,
           report_dir: Path | None) -> NoReturn:
    """Show where the job in JOURNAL stands, from the journal alone (sends nothing).

    With --refresh, the delivery counts are fetched again first.
    """
    ui = Ui()
    with _guard(ui):
        if refresh:
            raise SystemExit(_refresh(ui, journal, report_dir or default_report_dir(journal)))
        if not watch:
            state = read_status(journal)
            ui.table(status_view(state, ascii_only=not ui.tty))
            if not state["done"]:
                with Journal.open(journal) as j:
                    for line in journal_schedule(j, time.time()):
                        ui.say(line)
            raise SystemExit(EXIT_OK)
        code = _watch(ui, journal, max(0.2, interval))
    raise SystemExit(code)


@cli.command()
@click.argument("journal", type=click.Path(dir_okay=False))
@click.option("--wait", "wait_seconds", type=float, default=60.0, show_default=True,
              help="Seconds to wait for the job to stop (0: do not wait).")
def stop(journal: str, wait_seconds: float) -> NoReturn:
    """Stop the hvsms process running the job in JOURNAL, as Ctrl-C would.

    Batches already accepted by the server still go out (there is no cancel):
    with pacing, at most each sender's horizon. `hvsms resume JOURNAL` carries on.
    """
    ui = Ui()
    with _guard(ui):
        holder = request_stop(journal)
        ui.say(f"asked {holder} to stop", always=True)
        if wait_seconds > 0 and not wait_stopped(journal, wait_seconds):
            ui.error(f"still running after {wait_seconds:g} s (it finishes its POSTs first)")
            raise SystemExit(EXIT_FAILED)
        if wait_seconds > 0:
            ui.say(f"stopped; continue with: hvsms resume {journal}", always=True)
    raise SystemExit(EXIT_OK)


def _refresh(ui: Ui, journal: str, directory: Path) -> int:
    if not os.path.exists(journal):
        raise JournalError(f"{journal}: no such journal")
    creds = _credentials(ui)
    report = asyncio.run(refresh_job(journal, credentials=creds))
    if report.status == "failed":
        # The job did not fail: the refresh did. Its reports stay as they were.
        ui.error(f"refresh failed: {report.message or 'no detail'}; the reports in "
                 f"{directory}/ were left as they were")
        return EXIT_FAILED
    joined: list[Path] = []
    try:
        joined = asyncio.run(write_joined(journal, directory,
                                          outcomes=(directory / "outcomes.csv").exists()))
    except HvsmsError as exc:
        report.warnings.append(f"{_NOT_WRITTEN}: {exc}")
    written = write_reports(report, directory, joined=joined)
    ui.table(summary_table(report, ascii_only=not ui.tty))
    for w in report.warnings:
        if w != _LIBRARY_EMULATOR_NOTE:
            ui.say(f"warning: {w}", style="yellow", always=True)
    ui.say(f"reports: {directory}/ ({', '.join(p.name for p in written)})")
    c = report.counts
    ui.say(f"{c.delivered:,} delivered, {c.failed:,} failed, {c.pending:,} pending"
           + (f"; {report.message}" if report.message else ""), always=True)
    return EXIT_OK


def _watch(ui: Ui, journal: str, interval: float) -> int:
    state = read_status(journal)
    try:
        if ui.tty:
            with Live(status_view(state), console=ui.console, auto_refresh=False) as live:
                while not _settled(state):
                    time.sleep(interval)
                    state = read_status(journal)
                    live.update(status_view(state), refresh=True)
        else:
            last = ""
            while True:
                line = status_line(state)
                if line != last:
                    click.echo(line)
                    last = line
                if _settled(state):
                    break
                time.sleep(interval)
                state = read_status(journal)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return EXIT_OK


def _settled(state: dict[str, Any]) -> bool:
    """Nothing more will change by watching: done, or nobody is following the job."""
    return bool(state["done"] or state["following"] is None)


# --- status from the journal --------------------------------------------------------

def read_status(path: str) -> dict[str, Any]:
    """Everything `status` shows, read from the journal (no network), counted as the
    job's report counts (`engine.summary`)."""
    holder = JournalLock.holder(path)
    with Journal.open(path) as j:
        snap = Snapshot.read(j, rows=False)
    c = summarise(snap).counts
    states = collections.Counter(str(b.state) for b in snap.batches)
    return {
        "journal": path,
        "source": snap.inputs.get("source"),
        "started": snap.inputs.get("started"),
        "sender": snap.meta["sender"] or snap.inputs.get("sender"),
        "planned_all": snap.planned_all,
        "rows": c.read,
        "batches": len(snap.batches),
        "states": dict(states),
        "recipients": sum(b.messages for b in snap.batches if b.state != SPLIT),
        "accepted": c.accepted,
        "rejected": c.rejected,
        "processed": c.processed,
        "delivered": c.delivered,
        "failed": c.failed,
        "pending": c.pending,
        "dropped": c.dropped,
        "submitted": c.submitted,
        "not_sent": c.not_sent,
        "dropped_kinds": c.dropped_kinds(),
        "to_send": to_send(snap),  # as resume sends
        "done": snap.planned_all and all_completed(snap),
        "failed_batches": states.get(FAILED, 0),
        "following": str(holder) if holder is not None else None,
        "emulator": snap.meta["emulator"] == "1",
    }


_STATE_ORDER = (PLANNED, SUBMITTING, UNCERTAIN, SUBMITTED, COMPLETED, FAILED, SPLIT)


def _states_text(states: dict[str, int]) -> str:
    names = [s for s in _STATE_ORDER if s in states] + sorted(set(states) - set(_STATE_ORDER))
    return ", ".join(f"{states[s]:,} {s}" for s in names) or "none yet"


def _verdict(state: dict[str, Any]) -> str:
    if state["done"]:
        return "done: every batch completed"
    if state["following"] is None:
        return _verdict_unfollowed(state)
    if state["failed_batches"]:
        return f"{state['failed_batches']} batch(es) failed; resume to retry the rest"
    if not state["planned_all"]:
        return "not finished: the file was not fully read yet (running, or interrupted)"
    if state["to_send"]:
        return f"not finished: {state['to_send']:,} recipients still to send"
    return "all sent; waiting for the API to finish processing"


def _verdict_unfollowed(state: dict[str, Any]) -> str:
    """No process has the journal: nothing moves until someone resumes it."""
    if state["emulator"] and any(state["states"].get(s) for s in (SUBMITTING, UNCERTAIN,
                                                                     SUBMITTED)):
        return ("stopped: its batches lived in a built-in emulator that has ended; "
                "nothing reached a phone")
    return f"stopped: no process is following this job; hvsms resume {state['journal']} will"


def status_view(state: dict[str, Any], *, ascii_only: bool = False) -> Table:
    from rich import box

    t = Table(title=f"Job {state['source']}", title_justify="left", show_header=False,
              box=None if ascii_only else box.SIMPLE_HEAD)
    t.add_column("what", style="bold", no_wrap=True)
    t.add_column("value", overflow="fold")
    kinds = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in sorted(
        state["dropped_kinds"].items()))
    rows = f"{state['rows']:,}"
    t.add_row("journal", state["journal"])
    t.add_row("started", str(state["started"] or "-"))
    t.add_row("sender", str(state["sender"] or "-"))
    t.add_row("rows read", rows + ("" if state["planned_all"] else " (reading not finished)"))
    t.add_row("dropped", f"{state['dropped']:,}" + (f" ({kinds})" if kinds else ""))
    t.add_row("sent", f"{state['submitted']:,}: accepted {state['accepted']:,}, "
                      f"rejected {state['rejected']:,}")
    t.add_row("not yet sent", f"{state['not_sent']:,}")
    t.add_row("batches", f"{state['batches']:,}: {_states_text(state['states'])}")
    t.add_row("processed", f"{state['processed']:,}")
    t.add_row("delivered", f"{state['delivered']:,}")
    t.add_row("failed", f"{state['failed']:,}")
    t.add_row("pending", f"{state['pending']:,}" + (
        " (no final receipt yet: hvsms status --refresh)" if state["pending"] and state["done"]
        else ""))
    if state["following"] is not None:
        t.add_row("followed by", f"hvsms, {state['following']}")
    t.add_row("status", _verdict(state))
    return t


def status_line(state: dict[str, Any]) -> str:
    return (
        f"batches {state['batches']}: {_states_text(state['states'])}; "
        f"rows read {state['rows']:,}, dropped {state['dropped']:,}, "
        f"sent {state['submitted']:,}, not yet sent {state['not_sent']:,}; "
        f"accepted {state['accepted']:,}, processed {state['processed']:,}, "
        f"delivered {state['delivered']:,}, failed {state['failed']:,}; {_verdict(state)}"
    )


def main() -> None:
    """Console-script entry point (`hvsms`, `python -m engine`)."""
    cli(prog_name="hvsms")
