"""A job: the stages wired in one TaskGroup, its shutdown, and its report.

    planner --queue--> submitters (N) --track--> poller
       \\____________ journal (every state change) ____________/

`send_bulk` and `resume` are thin wrappers around `Job`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .account import open_api, pick_sender
from .api.a2p import A2P
from .api.auth import AuthSession
from .api.http import ApiClient
from .chunker import Chunker, body_header
from .clock import SYSTEM_CLOCK, Clock
from .codes import describe
from .config import Credentials, JobOptions
from .delivery import ResultsFetcher
from .errors import (
    ApiError,
    ConfigError,
    HvsmsError,
    InputError,
    JobFailed,
    JournalError,
)
from .history import claim, new_journal_path
from .hygiene import Blocklist, Hygiene
from .journal import (
    COMPLETED,
    FAILED,
    PLANNED,
    SPLIT,
    SPLIT_BASE,
    SUBMITTED,
    SUBMITTING,
    UNCERTAIN,
    BatchRecord,
    Journal,
    ResultState,
    fingerprint,
)
from .lanes import Lanes
from .numberset import NumberSet, Seen
from .pacing import PacedLanes, Pacer, type_rate
from .phones import Normalizer
from .planner import BodyBuilder, HotBudget, Planner, PlanStats
from .poller import Poller, refresh_counts
from .preview import OPT_OUT_WARNING, has_opt_out_wording
from .preview import describe as describe_message
from .quiet_hours import ANY as ANY_HOURS
from .quiet_hours import FEDERAL_WINDOW, QuietHours, parse_window
from .reader import DELIMITERS, CsvSource, Header
from .report import BatchReport, DroppedRow, FailedRow, JobReport
from .schedule import format_schedule, on_loopback, schedule
from .segments import MAX_TEXT_CHARS, segments, text_length
from .senders import ALL, SenderPool, pace_weight, parse_senders
from .smartencoding import smarten
from .submitter import Submitter
from .suppress import load_suppress
from .templates import BoundTemplate, Template

__all__ = ["Job", "Progress", "SenderProgress", "job_done", "journal_differences", "refresh",
           "refuse_other_settings", "results", "resume", "send_bulk"]

log = logging.getLogger("engine.job")
_T = TypeVar("_T")

# A placeholder sender for a dry run with no account: same length as a US number.
_DRY_RUN_SENDER = "+10000000000"
# A resumed job sends these again: `failed` means the server refused the POST
# (it did not act on it), so once the cause is fixed, sending it is safe.
TO_SEND = (PLANNED, SUBMITTING, UNCERTAIN, FAILED)
# Options that change what is sent to whom: a journal's job keeps them.
PLAN_OPTIONS = ("to_column", "text_column", "encoding", "max_batch_bytes", "max_batch_messages",
                "region", "validate", "dedupe", "suppress", "fetch_opt_outs", "empty_variables",
                "delimiter", "smart_encoding", "match_area_code", "window", "quiet_hours",
                "rate")
# Seconds: "no horizon" for a job that is paced only for its quiet hours.
_NO_HORIZON = 1e9
_EMULATOR_NOTE = "no RC_* credentials: running on the built-in emulator; nothing leaves this machine"


@dataclass(slots=True)
class Progress:
    """A snapshot handed to the `progress` callback."""

    rows_read: int = 0
    batches_planned: int = 0
    batches_submitted: int = 0
    batches_completed: int = 0
    accepted: int = 0
    processed: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed: float = 0.0
    planning_done: bool = False
    results_pages: int = 0  # pages of the messages list fetched (delivery results)
    results_batches: int = 0  # batches whose results are all in
    senders: tuple[SenderProgress, ...] = ()  # per sender number, once batches exist


@dataclass(frozen=True, slots=True)
class SenderProgress:
    """One sender number of the job: its messages planned and processed so far, and
    its pace in messages a second (learned by pacing; None when not paced)."""

    number: str
    planned: int
    processed: int
    rate: float | None

    @property
    def eta(self) -> float | None:
        """Seconds until the server has processed the rest, at the sender's pace."""
        return (self.planned - self.processed) / self.rate if self.rate else None


ProgressCallback = Callable[[Progress], None]


async def send_bulk(
    source: str | os.PathLike[str],
    *,
    text: str | None = None,
    sender: str | Sequence[str] | None = None,
    credentials: Credentials | None = None,
    journal: str | os.PathLike[str] | None = None,
    options: JobOptions | None = None,
    progress: ProgressCallback | None = None,
    dry_run: bool = False,
    again: bool = False,
    clock: Clock | None = None,
) -> JobReport:
    """Send one SMS to every row of a CSV file; returns what happened to each row.

    `sender` is one number, several (a pool: each recipient always hears from
    the same one of them, see `engine.senders`), or `"all"` for every A2P SMS
    number of the account; None: the account's first A2P SMS number. `clock`
    (wall-clock epoch seconds, `engine.clock.Clock`) is what pacing, quiet hours
    and caps go by: a test passes an emulator's compressed one.

    With an existing `journal`, the job recorded there is resumed (its text,
    sender and options must be the same). Without one, the job's journal is
    kept in the user's state directory. A new job whose file, text, sender and
    server were sent in the last 24 hours is refused (`RepeatedJob`) unless
    `again` is true.
    """
    job = Job(
        os.fspath(source), text=text, sender=pool_spec(sender), credentials=credentials,
        journal=os.fspath(journal) if journal is not None else None,
        options=options, progress=progress, dry_run=dry_run, again=again, clock=clock,
    )
    return await job.run()


async def resume(
    journal: str | os.PathLike[str],
    *,
    credentials: Credentials | None = None,
    progress: ProgressCallback | None = None,
    clock: Clock | None = None,
) -> JobReport:
    """Continue the job recorded in `journal` (poll only, if everything was sent)."""
    path = os.fspath(journal)
    with Journal.open(path) as j:
        inputs = j.inputs
    return await Job.from_inputs(inputs, journal=path, credentials=credentials,
                                 progress=progress, clock=clock).run()


async def refresh(
    journal: str | os.PathLike[str],
    *,
    credentials: Credentials | None = None,
) -> JobReport:
    """Fetch the status and delivery counts of every batch of the job in
    `journal` again, so pending receipts turn into delivered or failed; the
    journal is updated and the returned report says where every row stands."""
    path = os.fspath(journal)
    j = Journal.open(path)
    try:
        inputs = j.inputs
    finally:
        j.close()
    job = Job.from_inputs(inputs, journal=path, credentials=credentials, progress=None)
    return await job.refresh()


async def results(
    journal: str | os.PathLike[str],
    *,
    credentials: Credentials | None = None,
    progress: ProgressCallback | None = None,
) -> JobReport:
    """Fetch (or finish fetching) the delivery results of the job in `journal`.

    Sends nothing: follows the batches still processing, then lists every
    completed batch's messages that are not in the journal yet (and again
    those that were still pending). `hvsms results JOURNAL` does this.
    """
    path = os.fspath(journal)
    j = Journal.open(path)
    try:
        inputs = j.inputs
    finally:
        j.close()
    job = Job.from_inputs(inputs, journal=path, credentials=credentials, progress=progress)
    job.results_only = True
    return await job.run()


class _Stopped(Exception):
    """Internal: the job was stopped before it sent anything."""


class Job:
    def __init__(
        self,
        source: str,
        *,
        text: str | None,
        sender: str | None,
        credentials: Credentials | None,
        journal: str | None,
        options: JobOptions | None,
        progress: ProgressCallback | None,
        dry_run: bool = False,
        again: bool = False,
        resuming: bool = False,
        report_dir: str | None = None,
        login: AuthSession | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.source_path = source
        self.again = again
        self.resuming = resuming  # the inputs are the journal's own
        self.report_dir = report_dir  # where the caller writes the report, if it does
        # A session from `account.check_account` (same credentials), used instead
        # of a second login.
        self.login = login
        self.text = text
        self.sender = pool_spec(sender)
        self.credentials = credentials
        self.journal_path = journal
        self.options = options or JobOptions()
        self.progress_cb = progress
        self.dry_run = dry_run
        self.report = JobReport(source=source, dry_run=dry_run)
        self.progress = Progress()
        self._stop = asyncio.Event()
        self._started = time.monotonic()
        self._temp_dir: str | None = None
        self._auto_journal = False  # in the state directory, named by the job
        self._new_journal = False
        self._client: ApiClient | None = None
        self._journal: Journal | None = None
        self._poller: Poller | None = None
        self._recs: dict[int, BatchRecord] = {}  # the job's batches, for per-sender progress
        self._results: ResultsFetcher | None = None
        # Only fetch delivery results (and follow batches still processing): send nothing.
        self.results_only = False
        # Called with the journal's path once the job ended, before a temporary
        # journal is removed: the CLI writes the files joined from it then.
        self.on_journal: Callable[[str, JobReport], Awaitable[None]] | None = None
        self._pacer: Pacer | None = None
        self._quiet: QuietHours | None = None
        self._window_text: str | None = None
        self.schedule: list[str] = []  # the plan's schedule, once every row is planned
        self.clock = clock or SYSTEM_CLOCK

    @classmethod
    def from_inputs(
        cls, inputs: dict[str, Any], *, journal: str, credentials: Credentials | None,
        progress: ProgressCallback | None, clock: Clock | None = None,
    ) -> Job:
        opts = dict(inputs.get("options") or {})
        # A job planned before smart encoding existed is sent byte for byte, as planned.
        opts.setdefault("smart_encoding", False)
        return cls(
            str(inputs["source"]), text=inputs.get("text"), sender=inputs.get("sender"),
            credentials=credentials, journal=journal, options=JobOptions(**opts),
            progress=progress, resuming=True, clock=clock,
        )

    def stop(self) -> None:
        """Ask the job to stop: no new batches; in-flight POSTs finish, then it returns.

        Before sending starts (login, reading the opt-out list) it returns at once;
        a request waiting to be retried gives up instead of waiting.
        """
        self._stop.set()
        if self._client is not None:
            self._client.stopping.set()
        if self._pacer is not None:
            self._pacer.changed.set()  # paced lanes waiting for the server: stop now

    # --- refreshing the delivery counts of a sent job ----------------------------

    async def refresh(self) -> JobReport:
        """Re-read every accepted batch (`refresh`); sends nothing."""
        report = self.report
        assert self.journal_path is not None
        report.journal = self.journal_path
        journal = self._journal = Journal.own(self.journal_path, dict)  # it writes: one at a time
        try:
            async with contextlib.AsyncExitStack() as stack:
                a2p, sender = await self._connect(stack, journal.meta("sender") or self.sender)
                report.sender = sender
                since = self._since(journal)
                for rec in journal.batches():
                    if rec.batch_id is None or rec.state not in (SUBMITTED, COMPLETED):
                        continue
                    info = await a2p.get_batch(rec.batch_id)
                    if info.completed:
                        await refresh_counts(a2p, journal, rec, info, since=since)
                    else:
                        journal.update(rec.seq, processed=info.processed, status=info.status)
                self._summarise(journal)  # per-message results: `results`
        except HvsmsError as exc:
            self._summarise(journal)
            report.status, report.message = "failed", str(exc)
        finally:
            report.elapsed = time.monotonic() - self._started
            journal.close()
        if report.status == "running":
            report.message = "batches still processing: refresh again later"
        return report

    # --- the run ------------------------------------------------------------------

    async def run(self) -> JobReport:
        report = self.report
        try:
            async with contextlib.AsyncExitStack() as stack:
                await self._run(stack)
        except (InputError, ConfigError, JournalError):
            self._discard_journal()
            raise
        except _Stopped:
            report.status = "interrupted"
            report.message = "interrupted before sending: nothing was sent"
            self._discard_journal()
        except HvsmsError as exc:
            report.status, report.message = "failed", str(exc)
        except BaseExceptionGroup as group:
            errors = _flatten(group)
            for err in errors:
                if isinstance(err, (InputError, ConfigError, JournalError)):
                    self._discard_journal()
                    raise err from None
            if not all(isinstance(e, HvsmsError) for e in errors):
                raise
            report.status = "failed"
            report.message = "; ".join(dict.fromkeys(str(e) for e in errors))
        finally:
            report.elapsed = time.monotonic() - self._started
        if report.status == "running":
            report.status = "failed"
        if self.on_journal is not None and report.journal and os.path.exists(report.journal):
            await self.on_journal(report.journal, report)
        self._finish_journal()
        return report

    async def _run(self, stack: contextlib.AsyncExitStack) -> None:
        opts, report = self.options, self.report
        source = CsvSource(self.source_path, encoding=opts.encoding, delimiter=opts.delimiter)
        header = await source.header()
        self._read_notes(header, source.path)
        default_text, bound, text_idx, select = self._texts(header, source.path)
        default_saved = 0
        if default_text is not None and opts.smart_encoding:
            smart = smarten(default_text)
            default_saved = segments(default_text) - segments(smart)
            default_text = smart

        journal = self._journal = self._open_journal()
        stack.callback(journal.close)
        known = {b.seq: b for b in journal.batches()}
        if self.sender is None or self.sender == ALL:
            # A resumed job keeps its sender (a pool: the numbers it began with).
            self.sender = journal.meta("sender") or self.sender
        if not self.dry_run and not self.results_only and job_done(journal):
            # Done is done: nothing to send, no login, whichever server it was on
            # (but a file that changed since is still said to have changed).
            await self._stoppable(self._check_input(source, header, select, journal))
            self._summarise(journal)
            report.status = "completed"
            report.message = "nothing left to send: every batch of this job completed earlier"
            return

        # Log in and check the sender before the file is read (`_check_input`):
        # a wrong URL, refused credentials or sender show up at once.
        sender = self.sender
        a2p: A2P | None = None
        if not self.dry_run and not self._no_rows(source.path, header.data_start):
            a2p, sender = await self._connect(stack, sender)
        elif not self.dry_run:
            report.message = "the file has no rows: nothing to send"
        elif sender is None or sender == ALL:
            sender = _DRY_RUN_SENDER
            report.warnings.append("dry run without a sender: sized with a 12-character number")
        else:
            parse_senders(sender)  # raises SenderError for anything but E.164 numbers
        report.sender = sender
        sender = sender or _DRY_RUN_SENDER  # a file with no rows is never sent
        if a2p is not None:
            if journal.meta("sender") not in (None, sender):
                raise JournalError(
                    f"the job was sending from {journal.meta('sender')}, not {sender}")
            journal.set_meta("sender", sender)
        await self._stoppable(self._check_input(source, header, select, journal))

        normalizer = Normalizer(opts.region, strict=opts.validate == "strict")
        # Nothing is planned or sent when only fetching results: no lists needed.
        blocklists = [] if self.results_only else await self._blocklists(a2p, sender, normalizer)

        file_size = os.path.getsize(source.path)
        pool = sender_pool(sender, opts.match_area_code, by_pace=opts.rate is None)
        quiet = self._quiet = self.quiet_hours()
        lanes = Lanes(sender.split(","), pool=pool, quiet=quiet) if pool or quiet else None
        heads = {n: body_header(n, default_text) for n in sender.split(",")}
        head = heads[sender.split(",")[0]]
        chunker = Chunker(header_size=len(head), max_bytes=opts.max_batch_bytes,
                          max_messages=opts.max_batch_messages)

        def chunker_for(number: str) -> Chunker:
            return Chunker(header_size=len(heads[number]), max_bytes=opts.max_batch_bytes,
                           max_messages=opts.max_batch_messages)
        lane_chunkers = [chunker_for(n) for n in heads] if lanes else []
        hygiene = Hygiene(
            normalizer=normalizer, default_text=default_text, template=bound,
            has_text_column=text_idx is not None,
            # A row is at least ~13 bytes: sizes the dedupe filter once, up front.
            seen=Seen(expected=file_size // 13) if opts.dedupe else None,
            blocklists=blocklists, empty_variables=opts.empty_variables,
            max_message_size=min(c.room for c in [chunker, *lane_chunkers]),
            smart_encoding=opts.smart_encoding, default_saved=default_saved,
        )
        # Bodies are sent from what planning built, within this many bytes;
        # past it they are rebuilt from the file (flat memory, any file size).
        budget = HotBudget(0 if self.dry_run else opts.hot_bytes)
        planner = Planner(source=source, header=header, select=select, hygiene=hygiene,
                          chunker=chunker, file_size=file_size,
                          budget=None if self.dry_run else budget, lanes=lanes,
                          chunker_for=chunker_for)
        replay_hygiene = Hygiene(
            normalizer=normalizer, default_text=default_text, template=bound,
            has_text_column=text_idx is not None, seen=None, blocklists=(),
            empty_variables=opts.empty_variables, max_message_size=chunker.room,
            smart_encoding=opts.smart_encoding,
        )
        builder = BodyBuilder(source=source, header=header, select=select,
                              hygiene=replay_hygiene, head=head, budget=budget, lanes=lanes,
                              heads=heads)
        try:
            if a2p is None:
                await self._plan_only(planner, journal, known)
            elif self.results_only:
                await self._results_only(builder, journal, known, a2p, sender)
            else:
                await self._send(planner, builder, journal, known, a2p, sender)
        finally:
            # Even a failed job's report says what was read, planned and sent.
            self._summarise(journal)

    async def _blocklists(self, a2p: A2P | None, sender: str,
                          normalizer: Normalizer) -> list[Blocklist]:
        """The sender's opt-outs and the `suppress` list (plain, a journal or a failed.csv).
        A pool: whoever opted out of one of its numbers hears from none of them."""
        opts, report = self.options, self.report
        blocklists: list[Blocklist] = []
        if a2p is not None and opts.fetch_opt_outs:
            opted = [n for one in sender.split(",")
                     for n in await self._stoppable(self._opt_outs(a2p, one))]
            blocklists.append(Blocklist(NumberSet.from_numbers(opted), "opted_out",
                                        f"opted out of messages from {sender}"))
        elif self.dry_run and opts.fetch_opt_outs:
            report.warnings.append("dry run: the sender's opt-out list was not fetched")
        if opts.suppress:
            lists, warnings = load_suppress(opts.suppress, normalizer)
            blocklists.extend(lists)
            report.warnings.extend(warnings)
        return blocklists

    def quiet_hours(self) -> QuietHours | None:
        """The job's quiet hours (None: off). `window=None` is 08:00-21:00 for a real
        service and off for an emulator on loopback (no phone is ever reached)."""
        opts, report = self.options, self.report
        text = opts.window
        if text is None:
            text = ANY_HOURS if report.server and on_loopback(report.server) else FEDERAL_WINDOW
        span = parse_window(text)
        if span is None:
            if report.server and not on_loopback(report.server):
                report.warnings.append(
                    "quiet hours off (--window any): messages go out at any hour, as they "
                    "should only for transactional messages")
            return None
        states = opts.quiet_hours == "states"
        self._window_text = text + (" + state rules" if states else "")
        report.warnings.append(
            f"quiet hours: {text} in each recipient's local time (by area code)"
            + (", narrowed by the state rules" if states else ""))
        return QuietHours(span, states=states)

    def _texts(
        self, header: Header, path: str
    ) -> tuple[str | None, BoundTemplate | None, int | None, list[int]]:
        """The default text, the bound template and the columns to read."""
        opts = self.options
        to_idx, note = header.recipient(opts.to_column, path=path, usual=opts.to_column == "to")
        if note:
            self.report.notes.append(f"{path}: {note}")
        text_idx = header.find(opts.text_column)
        if self.text is None and text_idx is None:
            raise ConfigError(
                f"no text: give a default text (--text) or a {opts.text_column!r} column"
            )
        if self.text is not None and not self.text.strip():
            raise ConfigError("the text is empty: the API refuses empty messages "
                              "(give the message with --text)")
        default_text, bound = self.text, None
        if self.text is not None:
            template = Template(self.text)
            if template.is_static:
                default_text = template.bind(header.columns).render(())  # unescapes {{ }}
            else:
                bound, default_text = template.bind(header.columns), None
        if default_text is not None and text_length(default_text) > MAX_TEXT_CHARS:
            raise ConfigError(
                f"the default text is {text_length(default_text)} characters; the API's "
                f"limit is {MAX_TEXT_CHARS}"
            )
        select = [to_idx] + ([text_idx] if text_idx is not None else [])
        if bound is not None:
            select += [header.columns.index(f) for f in bound.fields]
        return default_text, bound, text_idx, select

    def _read_notes(self, header: Header, path: str) -> None:
        """Say how the file was read where a spreadsheet export differs from plain CSV."""
        notes = self.report.notes
        if header.delimiter != ",":
            how = "detected from the header" if header.detected else "--delimiter"
            notes.append(f"{path}: read as {DELIMITERS.get(header.delimiter, 'other')}-separated "
                         f"({how}{'; --delimiter to choose another' if header.detected else ''})")
        if header.cr_only:
            notes.append(f"{path}: old Mac line endings (CR only): each CR read as a new line")

    async def _connect(
        self, stack: contextlib.AsyncExitStack, sender: str | None
    ) -> tuple[A2P, str]:
        opts, report = self.options, self.report
        creds = self.credentials or Credentials.from_env()
        if creds is None:
            # Only when needed: keeps the import light. The fast service keeps a
            # trial run quick (instant receipts, no per-number pace).
            from .emulator import Emulator, EmulatorConfig

            emu = await stack.enter_async_context(Emulator(EmulatorConfig.fast()))
            creds = emu.credentials
            report.emulator = True
            report.warnings.append(_EMULATOR_NOTE)
            log.warning(_EMULATOR_NOTE)
        report.server = creds.server_url
        client, a2p, auth = await open_api(stack, creds, opts, on_retry=lambda _: self._tick(),
                                           session=self.login)
        self._client = client
        if self._stop.is_set():
            client.stopping.set()
        sender = await self._stoppable(pick_sender(a2p, sender))
        await self._check_server(a2p, creds.server_url, report.emulator, auth.owner_id)
        return a2p, sender

    async def _stoppable(self, aw: Awaitable[_T]) -> _T:
        """`aw`, unless the job is stopped first: then it is cancelled (nothing was sent)."""
        task = asyncio.ensure_future(aw)
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise _Stopped
        return task.result()

    @staticmethod
    async def _opt_outs(a2p: A2P, sender: str) -> list[str]:
        return [n async for n in a2p.opt_outs(sender=sender)]

    async def _check_server(self, a2p: A2P, url: str, emulator: bool, owner: str | None) -> None:
        """A job's batches live on one server: refuse, before anything is sent, to
        continue them on another. Identity is the server's data (the user the
        login reports, the job's batches), not the URL alone: a proxy is fine."""
        journal = self._journal
        assert journal is not None
        # Refused (`failed`) batches are on no server; the others may be.
        sent = [b for b in journal.batches() if b.state not in (PLANNED, FAILED, SPLIT)]
        was, was_emulator = journal.meta("server"), journal.meta("emulator") == "1"
        was_owner = journal.meta("owner")
        if sent and was_emulator:
            raise JournalError(
                f"{journal.path}: {len(sent)} batch(es) of this job went to the built-in "
                "emulator of an earlier run, which ended with it (nothing reached a phone); "
                "they can never be completed"
            )
        if sent and was is not None:
            other = was_owner is not None and owner is not None and was_owner != owner
            if not other and was != url:
                other = not await self._holds_batch(a2p, sent, can_tell=was_owner is not None)
            if other:
                raise JournalError(
                    f"{journal.path}: {len(sent)} batch(es) of this job are on {was}; "
                    f"{url} is another server or account, so the job cannot continue there "
                    "(nothing was sent)"
                )
        journal.set_meta("server", url)
        journal.set_meta("emulator", "1" if emulator else "0")
        if owner is not None:
            journal.set_meta("owner", owner)

    @staticmethod
    async def _holds_batch(a2p: A2P, sent: list[BatchRecord], *, can_tell: bool) -> bool:
        """Whether this server knows one of the job's batches (by another URL)."""
        ids = [b.batch_id for b in sent if b.batch_id]
        if not ids:
            return can_tell  # nothing to look up: the same user is the best evidence
        try:
            await a2p.get_batch(ids[0])
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _open_journal(self) -> Journal:
        path = self.journal_path
        if path is None and self.dry_run:
            self._temp_dir = tempfile.mkdtemp(prefix="hvsms-")
            path = os.path.join(self._temp_dir, "job.journal")
        elif path is None:
            path = new_journal_path(self.source_path)
            self._auto_journal = True
        self.report.journal = path
        self._new_journal = not os.path.exists(path)
        journal = Journal.own(path, self._inputs)
        if self._new_journal:
            return journal
        inputs = journal.inputs
        if os.path.abspath(str(inputs.get("source"))) != os.path.abspath(self.source_path):
            journal.close()
            raise JournalError(f"{path} is the journal of {inputs.get('source')}, "
                               f"not of {self.source_path}")
        if not self.resuming:
            try:
                refuse_other_settings(journal, self.text, self.sender, self.options)
            except JournalError:
                journal.close()
                raise
        return journal

    def _inputs(self) -> dict[str, Any]:
        st = os.stat(self.source_path)
        return {
            "source": os.path.abspath(self.source_path),
            "text": self.text,
            "sender": self.sender,
            "options": self.options.to_dict(),
            "size": st.st_size,
            "mtime": st.st_mtime,
            "fingerprint": None,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }

    async def _check_input(
        self, source: CsvSource, header: Header, select: list[int], journal: Journal
    ) -> None:
        """Before anything is sent: a file that cannot be read anywhere is refused
        (with its line), and one that changed since the job began too."""
        st = os.stat(self.source_path)
        digest, suspicious = await asyncio.to_thread(
            fingerprint, self.source_path, source.encoding
        )
        if suspicious:
            async for _ in source.blocks(header, select):  # raises InputError with the line
                pass
        recorded = journal.meta("fingerprint")
        if recorded is None:
            journal.set_meta("fingerprint", digest)
            return
        if recorded != digest or journal.inputs.get("size") != st.st_size:
            raise JournalError(
                f"{self.source_path} changed since the job began (size or content differs); "
                "refusing to resume: nothing was sent"
            )

    @staticmethod
    def _no_rows(path: str, data_start: int) -> bool:
        """True for a header-only file: then not even a login is needed."""
        if os.path.getsize(path) - data_start > 4096:
            return False
        with open(path, "rb") as f:
            f.seek(data_start)
            return not f.read().strip()

    def _since(self, journal: Journal) -> str:
        started = str(journal.inputs.get("started") or "")
        try:
            t = dt.datetime.fromisoformat(started)
        except ValueError:
            t = dt.datetime.now(dt.UTC)
        return (t - dt.timedelta(minutes=5)).isoformat(timespec="seconds").replace("+00:00", "Z")

    async def _plan_only(self, planner: Planner, journal: Journal,
                         known: dict[int, BatchRecord]) -> None:
        async def emit(rec: BatchRecord, dropped: list[tuple[DroppedRow, str]]) -> None:
            if rec.seq not in known:
                journal.add_batch(rec, dropped)
            self.progress.batches_planned = rec.seq
            _log_planned(rec, dry_run=self.dry_run)
            self._tick()

        stats = await planner.run(emit, journal.add_dropped, self._on_block, self._stop.is_set)
        self._planned(journal, stats)

    async def _send(
        self, planner: Planner, builder: BodyBuilder, journal: Journal,
        known: dict[int, BatchRecord], a2p: A2P, sender: str,
    ) -> None:
        opts = self.options
        if self._new_journal and not self.report.emulator:  # a built-in one sends nowhere
            claim(fingerprint=str(journal.meta("fingerprint")), text=self.text, sender=sender,
                  server=str(self.report.server), journal=journal.path,
                  report=self.report_dir, again=self.again)
        since = self._since(journal)
        poller = self._poller = Poller(
            a2p=a2p, journal=journal, sender=sender, since=since, base=opts.poll_interval,
            cap=opts.max_poll_interval, on_update=self._on_update,
        )
        submitter = Submitter(a2p=a2p, journal=journal, builder=builder, sender=sender,
                              since=since, reconcile_after=opts.reconcile_after,
                              on_submitted=lambda rec: self._on_submitted(rec, poller))
        lanes = self._lanes(a2p, sender, builder, journal, submitter)
        self._recs.update(known)
        for rec in known.values():
            if rec.state == SUBMITTED:
                poller.track(rec)
                self.progress.batches_submitted += 1
                self.progress.accepted += rec.accepted or 0
                if self._pacer is not None:
                    self._pacer.adopt(lanes.sender_of(rec) if lanes else sender, rec,
                                      self.clock.now())
        fetcher = self._fetcher(a2p, journal, builder, since) if opts.fetch_delivery else None
        for rec in known.values():
            if fetcher is not None:
                fetcher.offer(rec)
        fetching = asyncio.create_task(fetcher.run()) if fetcher is not None else None
        main = asyncio.create_task(self._pipeline(planner, journal, known, submitter, poller,
                                                  lanes))
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({main, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not main.done():
                # Two-phase stop: no new batches, no more polling; in-flight POSTs
                # get `drain_timeout`, then are cancelled (their intent is journaled).
                poller.close()
                poller.open.clear()
                await asyncio.wait({main}, timeout=opts.drain_timeout)
            if not main.done():
                main.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await main
            elif self._stop.is_set() and _only_ours(main.exception()):
                # Requests the stop cut short (a retry not waited for): the job is
                # interrupted, not failed; the journal knows what was sent.
                log.info("stopped: %s", main.exception())
            else:
                main.result()
        finally:
            stopped.cancel()
            if fetching is not None and (self._stop.is_set() or not main.done()
                                         or main.cancelled() or main.exception()):
                fetching.cancel()
        self.report.reconciled = submitter.reconciled
        self.report.resent_after_check = submitter.resent
        self.report.warnings.extend(submitter.notes)
        if submitter.splits:
            self.report.warnings.append(
                f"{submitter.splits} batch(es) were too large for the server (HTTP 413) and "
                "were sent as two halves each")
        if fetcher is not None and fetching is not None:
            await self._finish_fetching(fetcher, fetching)
        if submitter.failures and not self._stop.is_set():  # stopped: resume sends them
            raise JobFailed("; ".join(submitter.failures[:5]), resumable=True)

    def _lanes(self, a2p: A2P, sender: str, builder: BodyBuilder, journal: Journal,
               submitter: Submitter) -> PacedLanes | None:
        """Paced submission (`engine.pacing`), unless the options turn it off."""
        opts = self.options
        if opts.horizon is None and self._quiet is None and opts.daily_cap is None:
            return None
        # Quiet hours and caps need paced lanes even without a horizon: a batch is timed.
        horizon = opts.horizon if opts.horizon is not None else _NO_HORIZON
        pacer = self._pacer = Pacer()
        for number in sender.split(","):
            rate = opts.rate or type_rate(number, a2p.payment_types.get(number))
            pacer.add(number, rate, horizon, learn=opts.rate is None, cap=opts.daily_cap)

        async def split(rec: BatchRecord, k: int) -> tuple[BatchRecord, BatchRecord]:
            front, rest = await builder.cut(rec, journal.dropped_lines(rec.seq), k, 0)
            rest.seq = journal.next_seq()  # now: lanes cut at once
            journal.cut(front, rest)
            return front, rest

        return PacedLanes(pacer=pacer, default_sender=sender, submit=submitter.submit,
                          split=split, stopped=self._stop.is_set, clock=self.clock, a2p=a2p,
                          quiet=self._quiet,
                          on_probe=self._on_update, concurrency=opts.concurrency)

    async def _pipeline(
        self, planner: Planner, journal: Journal, known: dict[int, BatchRecord],
        submitter: Submitter, poller: Poller, lanes: PacedLanes | None = None,
    ) -> None:
        concurrency = self.options.concurrency
        # Unbounded, so the end-of-work markers can always be put; the
        # semaphore is the backpressure that keeps the planner `concurrency` ahead.
        queue: asyncio.Queue[BatchRecord | None] = asyncio.Queue()
        ahead = asyncio.Semaphore(concurrency)

        async def put(rec: BatchRecord) -> None:
            await ahead.acquire()
            queue.put_nowait(rec)

        async def emit(rec: BatchRecord, dropped: list[tuple[DroppedRow, str]]) -> None:
            rec = _reconcile_plan(journal, known, rec, dropped)
            self._recs[rec.seq] = rec
            self.progress.batches_planned = rec.seq
            _log_planned(rec, dry_run=self.dry_run)
            if rec.state in TO_SEND:
                await put(rec)

        async def plan() -> None:
            try:
                done = journal.meta("planned") == "complete"
                # Planned before: no need to read the file again. Halves of batches
                # split (413) before a stop are never planned again either way.
                for rec in known.values():
                    if rec.state in TO_SEND and (done or rec.seq >= SPLIT_BASE):
                        await put(rec)
                if done:
                    self.progress.batches_planned = len(known)
                    self.progress.planning_done = True
                else:
                    stats = await planner.run(emit, journal.add_dropped, self._on_block,
                                              self._stop.is_set)
                    self._planned(journal, stats)
            finally:
                for _ in range(concurrency):
                    queue.put_nowait(None)

        async def submit() -> None:
            while (rec := await queue.get()) is not None:
                ahead.release()
                if not self._stop.is_set():
                    await submitter.submit(rec)

        async def submit_all() -> None:
            if lanes is not None:
                await lanes.run(queue, concurrency, ahead.release,
                                lambda: journal.meta("planned") == "complete")
            else:
                await _together(submit, concurrency)
            poller.close()

        async with asyncio.TaskGroup() as tg:
            tg.create_task(plan())
            tg.create_task(submit_all())
            tg.create_task(poller.run())

    def _planned(self, journal: Journal, stats: PlanStats) -> None:
        if self._stop.is_set():
            return
        journal.set_meta("planned", "complete")
        journal.set_meta("rows", str(stats.rows))
        journal.set_meta("segments", str(stats.segments))
        journal.set_meta("smart_encoding", f"{stats.smart_changed},{stats.smart_saved}")
        self.report.preview = [describe_message(*sample) for sample in stats.samples]
        texts = [text for _, _, text in stats.samples]
        if texts and not any(map(has_opt_out_wording, texts)):
            self.report.warnings.append(OPT_OUT_WARNING)
        if stats.shortener:
            journal.set_meta("shortener", stats.shortener)
        self.schedule = self._schedule(journal)
        self.progress.planning_done = True
        self._tick()

    # --- delivery results -----------------------------------------------------

    def _fetcher(self, a2p: A2P, journal: Journal, builder: BodyBuilder,
                 since: str) -> ResultsFetcher:
        fetcher = self._results = ResultsFetcher(
            a2p=a2p, journal=journal, builder=builder, since=since, on_page=self._on_page)
        self.progress.results_batches = sum(
            1 for st in fetcher.states.values() if st.complete and st.resolved)
        return fetcher

    async def _finish_fetching(self, fetcher: ResultsFetcher,
                               fetching: asyncio.Task[None]) -> None:
        """Every batch is sent and followed: let the fetcher finish (unless stopped)."""
        if fetching.done():
            with contextlib.suppress(asyncio.CancelledError):
                await fetching
            return
        fetcher.close()
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({fetching, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not fetching.done():
                fetching.cancel()  # stopped: the journal has every page fetched so far
            with contextlib.suppress(asyncio.CancelledError):
                await fetching

    async def _results_only(
        self, builder: BodyBuilder, journal: Journal, known: dict[int, BatchRecord],
        a2p: A2P, sender: str,
    ) -> None:
        """`hvsms results`: follow open batches to completion, fetch every result."""
        opts = self.options
        since = self._since(journal)
        fetcher = self._fetcher(a2p, journal, builder, since)
        poller = self._poller = Poller(
            a2p=a2p, journal=journal, sender=sender, since=since, base=opts.poll_interval,
            cap=opts.max_poll_interval, on_update=self._on_update,
        )
        for rec in known.values():
            if rec.state == SUBMITTED:
                poller.track(rec)
            fetcher.offer(rec, refresh=True)
        poller.close()

        async def follow() -> None:
            try:
                await poller.run()
            finally:
                fetcher.close()

        async def both() -> None:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(follow())
                tg.create_task(fetcher.run())

        main = asyncio.create_task(both())
        stopped = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({main, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            if not main.done():
                main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await main

    def _on_page(self, rec: BatchRecord, st: ResultState) -> None:
        self.progress.results_pages += 1
        if st.complete:
            self.progress.results_batches += 1
        self._tick()

    def _schedule(self, journal: Journal) -> list[str]:
        """The plan's schedule: per sender and in total (engine.schedule)."""
        opts = self.options
        numbers = (self.report.sender or _DRY_RUN_SENDER).split(",")
        paces = self._pacer.senders if self._pacer is not None else {}
        rates = {n: paces[n].rate if n in paces else opts.rate or type_rate(n, None)
                 for n in numbers}
        work = [(b.sender or numbers[0], b.zone, b.messages) for b in journal.batches()
                if b.state in TO_SEND]
        plans = schedule(work, rates, start=self.clock.now(), quiet=self._quiet,
                         cap=opts.daily_cap)
        window = self._window_text or "any (no quiet hours)"
        return format_schedule(plans, window=window)

    # --- progress ---------------------------------------------------------------

    def _on_block(self, stats: PlanStats) -> None:
        self.progress.rows_read = stats.rows
        self._tick()

    def _on_submitted(self, rec: BatchRecord, poller: Poller) -> None:
        log.info("batch %d submitted as %s", rec.seq, rec.batch_id, extra={
            "event": "batch_submitted", "batch": rec.seq, "batch_id": rec.batch_id,
            "accepted": rec.accepted, "rejected": rec.rejected})
        if self._pacer is not None:
            self._pacer.submitted(rec.sender or poller.sender, rec, self.clock.now())
        self._recs[rec.seq] = rec  # (a 413's halves are new records)
        self.progress.batches_submitted += 1
        self.progress.accepted += rec.accepted or 0
        poller.track(rec)
        self._tick()

    def _on_update(self, rec: BatchRecord) -> None:
        if self._pacer is not None and self._poller is not None:
            self._pacer.seen(rec.sender or self._poller.sender, rec, self.clock.now())
        if rec.state == COMPLETED:
            self.progress.batches_completed += 1
            log.info("batch %d completed", rec.seq, extra={
                "event": "batch_completed", "batch": rec.seq, "batch_id": rec.batch_id,
                "delivered": rec.delivered, "failed": rec.failed})
            if self._results is not None:
                self._results.offer(rec)
        if self._poller is not None:
            self.progress.processed = self._poller.processed_total()
        self._tick()

    def _tick(self) -> None:
        p = self.progress
        p.elapsed = time.monotonic() - self._started
        if self._client is not None:
            p.retries = self._client.stats.retries
            p.rate_limited = self._client.stats.rate_limited
        if self._recs:
            p.senders = self._sender_progress()
        if self.progress_cb is not None:
            self.progress_cb(p)

    def _sender_progress(self) -> tuple[SenderProgress, ...]:
        only = (self.report.sender or "").split(",")[0]
        planned: Counter[str] = Counter()
        processed: Counter[str] = Counter()
        for rec in self._recs.values():
            if rec.state != SPLIT:
                who = rec.sender or only
                planned[who] += rec.accepted if rec.accepted is not None else rec.messages
                processed[who] += rec.processed or 0
        paces = self._pacer.senders if self._pacer is not None else {}
        return tuple(SenderProgress(n, planned[n], processed[n],
                                    paces[n].rate if n in paces else None)
                     for n in sorted(planned))

    # --- the report -------------------------------------------------------------

    def _summarise(self, journal: Journal) -> None:
        report, c = self.report, self.report.counts
        kinds: Counter[str] = Counter()
        report.dropped.clear()
        for row, kind in journal.dropped():
            report.dropped.append(row)
            kinds[kind] += 1
        c.invalid, c.duplicates = kinds["invalid"], kinds["duplicates"]
        c.opted_out, c.suppressed, c.too_long = kinds["opted_out"], kinds["suppressed"], kinds["too_long"]
        c.outside_us_canada = kinds["outside_us_canada"]
        c.read = int(journal.meta("rows") or 0)
        c.segments = int(journal.meta("segments") or 0)
        if journal.meta("shortener"):
            report.warnings.append(
                f"a text uses the link shortener {journal.meta('shortener')}: carriers often "
                "filter such links (SMS-CAR-435)"
            )
        report.estimated_cost = c.segments * self.options.price_per_segment
        changed, _, saved = (journal.meta("smart_encoding") or "").partition(",")
        if changed and int(changed):
            report.smart_encoding = {
                "messages": int(changed), "segments_before": c.segments + int(saved),
                "segments_after": c.segments,
                "cost_saved": round(int(saved) * self.options.price_per_segment, 6),
            }
        report.rejected = journal.rejected()
        cost = 0.0
        have_cost = False
        report.batches.clear()
        for rec in journal.batches():
            report.batches.append(BatchReport(
                seq=rec.seq, first_line=rec.first_line, last_line=rec.last_line,
                messages=rec.messages, bytes=rec.bytes, id=rec.batch_id,
                status=rec.status or rec.state, accepted=rec.accepted or 0,
                processed=rec.processed or 0, rejected=rec.rejected or 0, cost=rec.cost,
                delivered=rec.delivered or 0, failed=rec.failed or 0,
                pending=_pending(rec), error_codes=_parse_codes(rec.error_codes),
            ))
            if rec.state in (SUBMITTED, COMPLETED):
                c.submitted += rec.messages
            c.accepted += rec.accepted or 0
            c.rejected += rec.rejected or 0
            c.processed += rec.processed or 0
            c.delivered += rec.delivered or 0
            c.failed += rec.failed or 0
            c.pending += _pending(rec)
            if rec.cost is not None:
                cost += rec.cost
                have_cost = True
        report.cost = cost if have_cost else None
        if self._client is not None:
            report.requests = self._client.stats.to_dict()
        self._summarise_results(journal)
        states = {r.state for r in journal.batches()}
        if self.dry_run:
            report.status = "completed"
            report.message = f"dry run: {len(report.batches)} batches planned, nothing sent"
        elif self._stop.is_set():
            report.status = "interrupted"
            report.message = (
                "interrupted: the batches lived in the built-in emulator, which ended with "
                "this run; nothing reached a phone" if report.emulator
                else f"interrupted; resume with: hvsms resume {report.journal}")
        elif states - {SPLIT} <= {COMPLETED}:
            report.status = "completed"
            if c.pending:
                report.message = pending_note(c.pending, report.journal)
        elif FAILED in states:
            report.status = "failed"
        elif self.results_only and report.results.get("complete"):
            report.status = "completed"  # results of what was sent; the rest is unsent

    def _summarise_results(self, journal: Journal) -> None:
        report = self.report
        states = journal.result_states()
        sent = [b for b in journal.batches() if b.state in (SUBMITTED, COMPLETED)]
        done = [st for st in states.values() if st.complete and st.resolved]
        report.failed.clear()
        permanent = 0
        ids = {b.seq: b.batch_id or "" for b in sent}
        for line, to, status, code, seq in journal.results(failed_only=True):
            info = describe(code)
            permanent += info.permanent
            report.failed.append(FailedRow(to, status, code, ids.get(seq, ""), line,
                                           info.description, info.permanent))
        report.results = {
            "complete": bool(sent) and len(done) == len(sent),
            "batches": len(sent),
            "batches_done": len(done),
            "pages": sum(st.pages for st in states.values()),
            "delivered": sum(st.delivered for st in states.values()),
            "failed": sum(st.failed for st in states.values()),
            "pending": sum(st.pending for st in states.values()),
            "permanent": permanent,
        }
        if self._results is not None:
            report.warnings.extend(self._results.warnings)

    def _discard_journal(self) -> None:
        """A refused job: drop the journal it made itself unless something was sent."""
        path = self.report.journal
        made = self._temp_dir is not None or (self._auto_journal and self._new_journal)
        if path is None or not made:
            return
        sent = False
        if os.path.exists(path):
            with Journal.open(path) as journal:  # the job's own is closed by now
                sent = any(b.state != PLANNED for b in journal.batches())
        if sent:
            log.warning("the job's journal is kept at %s", path)
            return
        if self._temp_dir is not None:
            shutil.rmtree(self._temp_dir, ignore_errors=True)
        else:
            _remove_journal(path)
        self.report.journal = None

    def _finish_journal(self) -> None:
        report = self.report
        if report.status == "running":
            report.status = "failed"
        if self._temp_dir is not None:  # a dry run's: a plan is not a job
            shutil.rmtree(self._temp_dir, ignore_errors=True)
            report.journal = None
            return
        if self._auto_journal and report.emulator and report.journal:
            # Its batches ended with the built-in emulator: nothing to resume or guard.
            _remove_journal(report.journal)
            report.journal = None
        if report.status == "failed":
            self._discard_journal()  # kept only if something was sent
        if report.journal and self._auto_journal and report.status != "completed" \
                and not report.emulator:
            report.message = (report.message + f" (journal kept: {report.journal})").strip()


def pool_spec(sender: str | Sequence[str] | None) -> str | None:
    """A `sender` argument as the job keeps it: one number, numbers joined by
    commas (a pool), "all", or None."""
    wanted = parse_senders(sender)
    return None if wanted is None else ",".join(wanted)


def sender_pool(sender: str, match_area_code: bool, *, by_pace: bool = True
                ) -> SenderPool | None:
    """The pool of a job sending from `sender` (numbers joined by commas); None for one.
    Recipients are shared by each number's pace (`pace_weight`) unless `by_pace` is
    false (one `rate` for all)."""
    numbers = tuple(sender.split(","))
    if len(numbers) < 2:
        return None
    weights = tuple(pace_weight(n) for n in numbers) if by_pace else None
    return SenderPool(numbers, match_area_code, weights)


async def _together(work: Callable[[], Coroutine[Any, Any, None]], n: int) -> None:
    """`n` copies of `work` at once, in one task group."""
    async with asyncio.TaskGroup() as tg:
        for _ in range(n):
            tg.create_task(work())


def _remove_journal(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-lock"):
        with contextlib.suppress(OSError):
            os.unlink(path + suffix)


def refuse_other_settings(
    journal: Journal, text: str | None, sender: str | None, options: JobOptions
) -> None:
    """A journal holds one job: asked to send with other settings, refuse and say which."""
    differences = journal_differences(journal, text, sender, options)
    if differences:
        raise JournalError(
            f"{journal.path} holds a job with other settings; refusing to mix them "
            "(nothing was sent):\n" + "\n".join(f"  {d}" for d in differences)
            + "\n  hint: continue that job as it was with `hvsms resume "
            f"{journal.path}`, or give a new journal for a new job"
        )


def journal_differences(
    journal: Journal, text: str | None, sender: str | None, options: JobOptions
) -> list[str]:
    """What a new call asks for that the journaled job does not do (empty: the same job)."""
    inputs = journal.inputs
    out = []
    if inputs.get("text") != text:
        out.append(f"text: {inputs.get('text')!r} in the journal, {text!r} now")
    was_sender = journal.meta("sender") or inputs.get("sender")
    if sender is not None and sender != ALL and was_sender not in (None, sender):
        out.append(f"sender: {was_sender} in the journal, {sender} now")
    old = dict(inputs.get("options") or {})
    new = options.to_dict()
    for name in PLAN_OPTIONS:
        if name in old and old[name] != new[name]:
            out.append(f"{name}: {old[name]!r} in the journal, {new[name]!r} now")
    return out


def job_done(journal: Journal) -> bool:
    """Every row planned, every batch completed and, where they can still be had, its
    delivery results fetched: nothing is left to do."""
    batches = journal.batches()
    if journal.meta("planned") != "complete" or any(
            b.state not in (COMPLETED, SPLIT) for b in batches):
        return False
    wanted = (journal.inputs.get("options") or {}).get("fetch_delivery", True)
    if not wanted or journal.meta("emulator") == "1":  # a built-in emulator's ended with it
        return True
    states = journal.result_states()
    return all(
        (st := states.get(b.seq)) is not None and st.complete and st.resolved
        for b in batches if b.state == COMPLETED and b.batch_id and b.accepted)


def _reconcile_plan(
    journal: Journal, known: dict[int, BatchRecord], rec: BatchRecord,
    dropped: list[tuple[DroppedRow, str]],
) -> BatchRecord:
    """A freshly planned batch, or its journaled twin when resuming (must match)."""
    old = known.get(rec.seq)
    if old is None:
        journal.add_batch(rec, dropped)
        return rec
    if (old.start, old.stop, old.messages, old.bytes) != (rec.start, rec.stop, rec.messages,
                                                          rec.bytes):
        raise JournalError(
            f"batch {rec.seq} plans differently than when the job began "
            "(input or options changed); refusing to resume"
        )
    return old


def _pending(rec: BatchRecord) -> int:
    """Accepted messages with no final receipt (yet): neither delivered nor failed."""
    if rec.batch_id is None:
        return 0
    return max(0, (rec.accepted or 0) - (rec.delivered or 0) - (rec.failed or 0))


def pending_note(pending: int, journal: str | None) -> str:
    """The final status of a job whose receipts are still coming."""
    later = (f"hvsms status --refresh {journal}" if journal
             else "a refresh (the job's journal was not kept)")
    return (f"all batches processed; {pending:,} delivery receipt(s) still pending "
            f"(queued, sent or SMS-CAR-104): run `{later}` later for the final counts")


def _log_planned(rec: BatchRecord, *, dry_run: bool = False) -> None:
    log.info("batch %d planned: lines %d-%d, %d messages", rec.seq, rec.first_line,
             rec.last_line, rec.messages, extra={
                 "event": "batch_planned", "batch": rec.seq, "first_line": rec.first_line,
                 "last_line": rec.last_line, "messages": rec.messages, "bytes": rec.bytes,
                 "dry_run": dry_run})


def _parse_codes(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in (text or "").split(","):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = int(v)
    return out


def _only_ours(exc: BaseException | None) -> bool:
    """`exc` is one of ours (or a group of only ours)."""
    if exc is None:
        return False
    errors = _flatten(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
    return all(isinstance(e, HvsmsError) for e in errors)


def _flatten(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    out: list[BaseException] = []
    for exc in group.exceptions:
        out.extend(_flatten(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    return out
