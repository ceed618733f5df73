"""A job: named stages, run in order, and one report.

    preflight   the file and the text (`engine.preflight`), the journal's place
                and whether it may be reused (`engine.journal_policy`)
    session     login, the sender(s), the server check (`engine.session`)
    plan        rows -> batches, with the real sender and opt-outs (`engine.plan`)
    dispatch    submitters, poller and results fetcher (`engine.dispatch`)
    summarise   the report, from the journal alone (`engine.summary`)

`send_bulk`, `resume`, `results` and `refresh` are thin wrappers around `Job`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from .account import read_configs
from .clock import SYSTEM_CLOCK, Clock
from .config import Credentials, JobOptions
from .delivery import ResultsFetcher
from .dispatch import Dispatch, flatten
from .errors import (
    CarrierStopped,
    ConfigError,
    HvsmsError,
    InputError,
    JournalError,
    JournalUnwritable,
)
from .journal import COMPLETED, SUBMITTED, BatchRecord, Journal
from .journal_policy import (
    PLAN_OPTIONS,
    JobJournal,
    job_done,
    journal_differences,
    refuse_other_settings,
)
from .plan import (
    DRY_RUN_SENDER,
    Plan,
    Window,
    make_plan,
    plan_all,
    plan_schedule,
    pool_spec,
    record_plan,
    sender_pool,
    unsent_sender,
    window,
)
from .poller import refresh_counts
from .preflight import Prepared, check, prepare
from .progress import Progress, ProgressCallback, SenderProgress, Tracker
from .registration import NumberConfig, daily_caps
from .report import JobReport
from .schedule import on_loopback
from .senders import ALL
from .sent_counts import SentCounts, day_of
from .session import EMULATOR_NOTE, Session
from .stopping import Stopped, unless_stopped
from .summary import TO_SEND, Snapshot, outcome, summarise

__all__ = ["PLAN_OPTIONS", "TO_SEND", "Job", "Progress", "SenderProgress", "job_done",
           "journal_differences", "journaled_job", "pool_spec", "refresh",
           "refuse_other_settings", "results", "resume", "send_bulk", "sender_pool"]

# Asked once the whole plan is in the journal, before anything is sent: the
# report so far (counts, batches, preview) and the schedule; False: send nothing.
Confirm = Callable[[JobReport, list[str]], Awaitable[bool]]


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
    return _unless_paused(await job.run())


async def resume(
    journal: str | os.PathLike[str],
    *,
    credentials: Credentials | None = None,
    progress: ProgressCallback | None = None,
    clock: Clock | None = None,
) -> JobReport:
    """Continue the job recorded in `journal` (poll only, if everything was sent)."""
    return _unless_paused(await _of_journal(journal, credentials=credentials,
                                            progress=progress, clock=clock).run())


def _unless_paused(report: JobReport) -> JobReport:
    """The report, or `CarrierStopped` (with it) when the job paused early."""
    early = report.early_stop
    if report.status == "paused" and early is not None:
        raise CarrierStopped(report, number=str(early["number"]), code=str(early["code"]),
                             description=str(early["description"]),
                             share=float(early["share"]))
    return report


async def refresh(
    journal: str | os.PathLike[str],
    *,
    credentials: Credentials | None = None,
) -> JobReport:
    """Fetch the status and delivery counts of every batch of the job in
    `journal` again, so pending receipts turn into delivered or failed; the
    journal is updated and the returned report says where every row stands."""
    return await _refresh(_of_journal(journal, credentials=credentials, progress=None))


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
    job = _of_journal(journal, credentials=credentials, progress=progress)
    job.results_only = True
    return await job.run()


# Where a send without credentials goes: the built-in emulator, on loopback.
_BUILT_IN = "http://127.0.0.1"

# Raised out of `Job.run`: the user must fix the input, the options or the journal.
_USERS_TO_FIX = (InputError, ConfigError, JournalError)


class Job:
    """One bulk send (or its resumption): the stages above, in order, on one journal.

    `stop()` ends it early and safely; `run()` returns the report whatever
    happened, and raises only for what the user must fix (`InputError`,
    `ConfigError`, `JournalError`), after removing a journal it made for nothing.
    """

    def __init__(
        self, source: str, *, text: str | None, sender: str | None,
        credentials: Credentials | None, journal: str | None, options: JobOptions | None,
        progress: ProgressCallback | None, dry_run: bool = False, again: bool = False,
        resuming: bool = False, report_dir: str | None = None, clock: Clock | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        self.source_path = source
        self.text = text
        self.sender = pool_spec(sender)
        self.credentials = credentials
        self.options = options or JobOptions()
        self.dry_run = dry_run
        self.again = again
        self.report_dir = report_dir  # where the caller writes the report, if it does
        self.clock = clock or SYSTEM_CLOCK
        self._own_clock = clock is None  # then an emulator's announced clock is followed
        self.confirm = confirm
        self.report = JobReport(source=source, dry_run=dry_run)
        self.tracker = Tracker(progress)
        self.files = JobJournal(journal, source=source, text=text, sender=self.sender,
                                options=self.options, dry_run=dry_run, resuming=resuming)
        # Only fetch delivery results (and follow batches still processing): send nothing.
        self.results_only = False
        # Called with the journal's path once the job ended, before a temporary
        # journal is removed: the CLI writes the files joined from it then.
        self.on_journal: Callable[[str, JobReport], Awaitable[None]] | None = None
        self.schedule: list[str] = []  # the plan's schedule, once every row is planned
        # The stage the job is in (or ended in): preflight, session, plan, dispatch.
        self.stage = "preflight"
        self._stop = asyncio.Event()
        self._session: Session | None = None
        self._dispatch: Dispatch | None = None
        self._window: Window | None = None
        # Each sender's SMS configuration and cap a day, once the session read them.
        self.configs: dict[str, NumberConfig] = {}
        self.caps: dict[str, int] = {}
        self.paced_caps: dict[str, int] = {}  # the caps pacing keeps to

    @property
    def progress(self) -> Progress:
        return self.tracker.progress

    @property
    def progress_cb(self) -> ProgressCallback | None:
        return self.tracker.callback

    @progress_cb.setter
    def progress_cb(self, callback: ProgressCallback | None) -> None:
        self.tracker.callback = callback

    def stop(self) -> None:
        """Ask the job to stop: no new batches; in-flight POSTs finish, then it returns.

        Before sending starts (login, reading the opt-out list) it returns at once;
        a request waiting to be retried gives up instead of waiting.
        """
        self._stop.set()
        session, dispatch = self._session, self._dispatch
        if session is not None and session.client is not None:
            session.client.stopping.set()
        if dispatch is not None and dispatch.pacer is not None:
            dispatch.pacer.changed.set()  # paced lanes waiting for the server: stop now

    # --- the run ------------------------------------------------------------------

    async def run(self) -> JobReport:
        report = self.report
        try:
            async with contextlib.AsyncExitStack() as stack:
                await self._run(stack)
        except sqlite3.Error as exc:
            raise self._unwritable(exc) from None
        except _USERS_TO_FIX:
            self.files.discard(report)
            raise
        except Stopped:
            report.status = "interrupted"
            report.message = "interrupted before sending: nothing was sent"
            self.files.discard(report)
        except (HvsmsError, BaseExceptionGroup) as exc:
            errors = flatten(exc) if isinstance(exc, BaseExceptionGroup) else [exc]
            for err in errors:
                if isinstance(err, sqlite3.Error):
                    raise self._unwritable(err) from None
            for err in errors:
                if isinstance(err, _USERS_TO_FIX):
                    self.files.discard(report)
                    raise err from None
            if not all(isinstance(e, HvsmsError) for e in errors):
                raise
            report.status = "failed"
            report.message = "; ".join(dict.fromkeys(str(e) for e in errors))
        finally:
            report.elapsed = self.tracker.elapsed()
        if report.status == "running":
            report.status = "failed"
        if self.on_journal is not None and report.journal and os.path.exists(report.journal):
            await self.on_journal(report.journal, report)
        self.files.finish(report)
        return report

    def _unwritable(self, exc: sqlite3.Error) -> JournalUnwritable:
        """The journal could not be written (kept as it is: `hvsms resume` once there is
        room finds on the server what was in flight)."""
        path = self.files.path or "the journal"
        free = None
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
        return JournalUnwritable(path, str(exc), free)

    async def _run(self, stack: contextlib.AsyncExitStack) -> None:
        opts, report = self.options, self.report
        pre = await prepare(self.source_path, self.text, opts)  # preflight
        report.notes.extend(pre.notes)
        journal = self._open(stack)
        if self.sender is None or self.sender == ALL:
            # A resumed job keeps its sender (a pool: the numbers it began with).
            self.sender = journal.meta("sender") or self.sender
        if not self.dry_run and not self.results_only and job_done(journal):
            # Done is done: nothing to send, no login, whichever server it was on
            # (but a file that changed since is still said to have changed).
            await unless_stopped(check(pre, journal), self._stop)
            self._summarise(journal)
            report.status = "completed"
            report.message = "nothing left to send: every batch of this job completed earlier"
            return
        try:
            # Log in and check the sender before the file is read (`check`): a
            # wrong URL, refused credentials or sender show up at once.
            self.stage = "session"
            session = await self._connect(stack, journal, pre)
            if session is None:
                self.report.sender, warnings = unsent_sender(self.sender, dry_run=self.dry_run)
                report.warnings.extend(warnings)
            sender = session.sender if session is not None else \
                self.report.sender or DRY_RUN_SENDER
            await unless_stopped(check(pre, journal), self._stop)
            self.stage = "plan"
            plan = await self._plan(pre, session, sender, _day_begun(journal))
            if session is None or self.dry_run:
                await self._plan_whole(plan, journal, {b.seq: b for b in journal.batches()})
            else:
                await self._dispatch_plan(session, journal, plan, sender)
        finally:
            # Even a failed job's report says what was read, planned and sent.
            self._summarise(journal)

    def _open(self, stack: contextlib.AsyncExitStack) -> Journal:
        try:
            journal = self.files.open()
        finally:
            self.report.journal = self.files.path
        stack.callback(journal.close)
        return journal

    async def _connect(self, stack: contextlib.AsyncExitStack, journal: Journal,
                       pre: Prepared) -> Session | None:
        """The session stage: None for a file with no rows, or a dry run without
        credentials (with them, a dry run logs in to plan with the real senders and
        opt-outs, and sends nothing)."""
        if self.dry_run and (self.credentials or Credentials.from_env()) is None:
            return None
        if pre.no_rows():
            self.report.message = "the file has no rows: nothing to send"
            return None
        if self.dry_run:
            try:
                return await self._connect_session(stack, journal)
            except _USERS_TO_FIX:
                raise
            except HvsmsError as exc:
                # Plan anyway, as without credentials, and say why.
                self._session = None
                self.report.requests = {}
                self.report.warnings.append(
                    f"dry run: could not log in ({exc}); planned without the real senders")
                return None
        return await self._connect_session(stack, journal)

    async def _connect_session(self, stack: contextlib.AsyncExitStack,
                               journal: Journal) -> Session:
        session = self._session = await stack.enter_async_context(
            Session(self.credentials, self.options, stop=self._stop,
                    on_retry=lambda _: self.tracker.tick()))
        _opened(session, self.report)
        self.tracker.stats = session.client.stats if session.client else None
        sender = await session.pick(self.sender)
        if not self.dry_run:  # a dry run's journal is a temporary one: nothing to check
            await session.check_server(journal)
        if self._own_clock and (clock := session.emulator_clock()) is not None:
            self.clock = clock
            if clock.scale != 1:
                self.report.notes.append(f"planned on the emulator's clock, {clock.scale:g} "
                                         "times faster than real time")
        self.report.sender = sender
        if not self.results_only:
            await self._registration(session, sender)
        return session

    async def _registration(self, session: Session, sender: str) -> None:
        """What each number may send: refused numbers end the job here (nothing was
        sent); the rest get their tier's cap a day (`engine.registration`)."""
        numbers = sender.split(",")
        configs, note = await unless_stopped(read_configs(session.a2p, numbers), self._stop)
        if note:
            self.report.warnings.append(note)
        self.configs = configs
        self.caps = daily_caps(numbers, configs, self.options.daily_cap)
        if on_loopback(session.server) and self.options.daily_cap is None:
            # An emulator on this machine: no phone is reached and its day is not
            # ours, so its tiers are shown but not paced by (--daily-cap still is).
            self.paced_caps = {}
        else:
            self.paced_caps = self.caps

    async def _plan(self, pre: Prepared, session: Session | None, sender: str,
                    day_begun: float) -> Plan:
        """The plan stage: opt-outs, suppression lists and quiet hours, then the planner."""
        opts, report = self.options, self.report
        # Only fetching results: nothing is planned or sent, so no lists are needed.
        lists = not self.results_only
        if session is None and self.dry_run and opts.fetch_opt_outs:
            report.warnings.append("dry run: the sender's opt-out list was not fetched")
        opted = await session.opt_outs() if session and opts.fetch_opt_outs and lists else None
        # Without credentials a send runs on the built-in emulator (on loopback): a dry
        # run plans with the window rules that send would have.
        server = report.server or (_BUILT_IN if session is None else "")
        win = self._window = window(opts, server)
        plan = make_plan(pre, sender=sender, options=opts, opted=opted, suppress=lists,
                         quiet=win.hours, keep_bodies=not self.dry_run, day_begun=day_begun,
                         caps=self.paced_caps)
        report.warnings.extend([*plan.warnings, *win.warnings])
        self.tracker.default_sender = sender.split(",")[0]
        return plan

    async def _plan_whole(self, plan: Plan, journal: Journal,
                          known: dict[int, BatchRecord]) -> None:
        """Every row planned into the journal before anything is sent (a dry run, or a
        plan to confirm); `known` gets each batch."""
        stats = await plan_all(plan, journal, known, self.tracker, self._stop.is_set,
                               dry_run=self.dry_run)
        if not self._stop.is_set():
            self._planned(journal, *record_plan(journal, stats))

    def _planned(self, journal: Journal, preview: list[dict[str, Any]],
                 warnings: list[str]) -> None:
        self.report.preview = preview
        self.report.warnings.extend(warnings)
        rates = self._dispatch.rates() if self._dispatch is not None else {}
        assert self._window is not None
        now = self.clock.now()
        with SentCounts(scope=self.report.server) as counts:
            today = {n: counts.sent(n, day_of(now)) for n in self.caps}
        self.schedule = plan_schedule(journal, sender=self.report.sender or DRY_RUN_SENDER,
                                      options=self.options, paces=rates, now=now,
                                      win=self._window, asked=journal.inputs.get("sender"),
                                      caps=self.caps, configs=self.configs,
                                      sent_today=today, paced=bool(self.paced_caps))
        self.tracker.planning_done()

    async def _dispatch_plan(self, session: Session, journal: Journal, plan: Plan,
                             sender: str) -> None:
        """The dispatch stage (after the user confirmed the plan, if asked to)."""
        assert self._window is not None
        with SentCounts(scope=session.server) as counts:
            await self._dispatch_with(session, journal, plan, sender, counts)

    async def _dispatch_with(self, session: Session, journal: Journal, plan: Plan,
                             sender: str, counts: SentCounts) -> None:
        assert self._window is not None
        dispatch = self._dispatch = Dispatch(
            a2p=session.a2p, journal=journal, plan=plan, sender=sender, options=self.options,
            tracker=self.tracker, stop=self._stop, clock=self.clock, quiet=self._window.hours,
            since=_since(journal), counts=counts, caps=self.paced_caps, configs=self.configs)
        known = {b.seq: b for b in journal.batches()}
        try:
            if self.results_only:
                await dispatch.follow(known)
                return
            if self.confirm is not None:
                self.files.claim(journal, session.server, again=self.again, record=False,
                                 sends=not session.emulator, report=self.report_dir)
                await self._confirmed(plan, journal, known)
            self.stage = "dispatch"
            self.files.claim(journal, session.server, again=self.again,
                             sends=not session.emulator, report=self.report_dir)
            await dispatch.send(known)
            if dispatch.preview:
                self._planned(journal, dispatch.preview, dispatch.plan_warnings)
        finally:
            self.report.reconciled = dispatch.submitter.reconciled
            self.report.resent_after_check = dispatch.submitter.resent
            self.report.warnings.extend(dispatch.warnings)

    async def _confirmed(self, plan: Plan, journal: Journal,
                         known: dict[int, BatchRecord]) -> None:
        """Plan the whole file, then ask: the plan shown is the plan sent."""
        assert self.confirm is not None
        if journal.meta("planned") != "complete":
            await self._plan_whole(plan, journal, known)
            if self._stop.is_set():
                raise Stopped
        self._summarise(journal)
        if not await self.confirm(self.report, self.schedule):
            raise Stopped
        self.tracker.planning_done(len(known))

    # --- the report -------------------------------------------------------------

    def _summarise(self, journal: Journal) -> None:
        """The report from the journal (`summary.summarise`), and how the run ended."""
        snap = Snapshot.read(journal)
        report = self.report
        report.absorb(summarise(snap, price_per_segment=self.options.price_per_segment))
        session = self._session
        if session is not None and session.client is not None:
            report.requests = session.client.stats.to_dict()
        ended = outcome(snap, report, dry_run=self.dry_run, stopped=self._stop.is_set(),
                        results_only=self.results_only)
        if ended is not None:
            report.status, report.message = ended
        early = self._dispatch.early if self._dispatch is not None else None
        if early is not None:
            report.status, report.message = "paused", early.line()
            report.early_stop = early.to_dict()


def journaled_job(inputs: dict[str, Any], *, journal: str, credentials: Credentials | None,
                  progress: ProgressCallback | None, clock: Clock | None = None) -> Job:
    """The job a journal recorded (`inputs`: `Journal.inputs`), as it was begun."""
    opts = dict(inputs.get("options") or {})
    # A job planned before smart encoding existed is sent byte for byte, as planned.
    opts.setdefault("smart_encoding", False)
    return Job(str(inputs["source"]), text=inputs.get("text"), sender=inputs.get("sender"),
               credentials=credentials, journal=journal, options=JobOptions(**opts),
               progress=progress, resuming=True, clock=clock)


def _of_journal(journal: str | os.PathLike[str], *, credentials: Credentials | None,
                progress: ProgressCallback | None, clock: Clock | None = None) -> Job:
    path = os.fspath(journal)
    with Journal.open(path) as j:
        inputs = j.inputs
    return journaled_job(inputs, journal=path, credentials=credentials, progress=progress,
                         clock=clock)


def _opened(session: Session, report: JobReport) -> None:
    """The report says which server the job is on, once the session is open."""
    report.server = session.server
    if session.emulator:
        report.emulator = True
        report.warnings.append(EMULATOR_NOTE)


async def _refresh(job: Job) -> JobReport:
    """Re-read every accepted batch of `job` (`refresh`); sends nothing."""
    report = job.report
    path = job.files.path
    assert path is not None
    report.journal = path
    with Journal.own(path, dict) as journal:  # it writes: one at a time
        try:
            async with Session(job.credentials, job.options, stop=asyncio.Event()) as session:
                _opened(session, report)
                await session.pick(journal.meta("sender") or job.sender)
                report.sender = session.sender
                try:
                    await session.verify_server(journal)
                except JournalError as exc:
                    # Another server would answer 404 for every batch: not a failure
                    # of the job, and nothing in its journal or reports may change.
                    raise JournalError(f"{exc}; nothing was changed") from None
                since = _since(journal)
                for rec in journal.batches():
                    if rec.batch_id is None or rec.state not in (SUBMITTED, COMPLETED):
                        continue
                    info = await session.a2p.get_batch(rec.batch_id)
                    if info.completed:
                        await refresh_counts(session.a2p, journal, rec, info, since=since)
                    else:
                        journal.record(rec, processed=info.processed, status=info.status)
                await _results_again(job, session, journal, since)
                job._summarise(journal)
        except _USERS_TO_FIX:
            raise
        except HvsmsError as exc:
            job._summarise(journal)
            report.status, report.message = "failed", str(exc)
        finally:
            report.elapsed = job.tracker.elapsed()
    if report.status == "running":
        report.message = "batches still processing: refresh again later"
    return report


def _day_begun(journal: Journal) -> float:
    """How much of its UTC day was over when the job began (0-1): the sender pool's
    split counts the caps from there, the same on every resume."""
    try:
        t = dt.datetime.fromisoformat(str(journal.inputs.get("started") or ""))
    except ValueError:
        return 0.0
    return (t.hour * 3600 + t.minute * 60 + t.second) / 86400


async def _results_again(job: Job, session: Session, journal: Journal, since: str) -> None:
    """List again the messages of completed batches whose results are missing or
    were pending: the report counts by them (`summary.newest`), so a refresh that
    read only the batch totals would leave failed.csv behind its counts."""
    try:
        pre = await prepare(job.source_path, job.text, job.options)
    except InputError as exc:
        job.report.warnings.append(f"per-message results not refreshed: {exc}")
        return
    plan = make_plan(pre, sender=session.sender, options=job.options, opted=None,
                     suppress=False, quiet=None, keep_bodies=False)
    fetcher = ResultsFetcher(a2p=session.a2p, journal=journal, builder=plan.builder,
                             since=since)
    for rec in journal.batches():
        fetcher.offer(rec, refresh=True)
    fetcher.close()
    await fetcher.run()
    job.report.warnings.extend(fetcher.warnings)


def _since(journal: Journal) -> str:
    """When the job began, less 5 minutes of clock skew (the API's dateFrom)."""
    started = str(journal.inputs.get("started") or "")
    try:
        t = dt.datetime.fromisoformat(started)
    except ValueError:
        t = dt.datetime.now(dt.UTC)
    return (t - dt.timedelta(minutes=5)).isoformat(timespec="seconds").replace("+00:00", "Z")
