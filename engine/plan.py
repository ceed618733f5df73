"""The plan: how the file's rows become batches, per sender, within the quiet hours.

`make_plan` wires the pure parts (hygiene, chunkers, lanes) to the file for a
job whose session is known (its real sender(s) and opt-outs); `plan_all`
plans the whole file into the journal before anything is sent (a dry run, or
a plan the user confirms first); `record_plan` saves what planning learnt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .chunker import Chunker, body_header
from .config import JobOptions
from .errors import JournalError
from .hygiene import Blocklist, Hygiene
from .journal import BatchRecord, Journal
from .lanes import Lanes
from .numberset import Seen
from .pacing import type_rate
from .phones import Normalizer
from .planner import BodyBuilder, HotBudget, Planner, PlanStats
from .preflight import Prepared
from .preview import OPT_OUT_WARNING, has_opt_out_wording
from .preview import describe as describe_message
from .progress import Tracker
from .quiet_hours import ANY as ANY_HOURS
from .quiet_hours import FEDERAL_WINDOW, QuietHours, open_hours, parse_window
from .registration import NumberConfig, describe_caps
from .report import DroppedRow
from .schedule import format_schedule, on_loopback, schedule
from .senders import ALL, SenderPool, capacity_shares, pace_weight, parse_senders
from .summary import TO_SEND
from .suppress import load_suppress

__all__ = ["DRY_RUN_SENDER", "Plan", "Window", "make_plan", "plan_all", "plan_schedule",
           "pool_spec", "reconcile", "record_plan", "sender_pool", "unsent_sender", "window"]

log = logging.getLogger("engine.job")

# A placeholder sender for a dry run with no account: same length as a US number.
DRY_RUN_SENDER = "+10000000000"


@dataclass(frozen=True, slots=True)
class Window:
    """The job's quiet hours: `hours` None is off; `text` says what applies."""

    hours: QuietHours | None
    text: str
    warnings: tuple[str, ...] = ()


def window(options: JobOptions, server: str) -> Window:
    """`window=None` is 08:00-21:00 for a real service and off for an emulator on
    loopback (no phone is ever reached)."""
    text = options.window
    if text is None:
        text = ANY_HOURS if server and on_loopback(server) else FEDERAL_WINDOW
    span = parse_window(text)
    if span is None:
        off = ("quiet hours off (--window any): messages go out at any hour, as they "
               "should only for transactional messages")
        warn = () if server and on_loopback(server) else (off,)
        return Window(None, "any (no quiet hours)", warn)
    states = options.quiet_hours == "states"
    return Window(QuietHours(span, states=states), text + (" + state rules" if states else ""), (
        f"quiet hours: {text} in each recipient's local time (by area code)"
        + (", narrowed by the state rules" if states else ""),))


def unsent_sender(sender: str | None, *, dry_run: bool) -> tuple[str | None, list[str]]:
    """The sender of a job that sends nothing (a dry run, or a file with no rows),
    and a warning when a dry run has none (it is sized with `DRY_RUN_SENDER`)."""
    if dry_run and sender == ALL:
        return None, [("dry run without credentials: --from all cannot be resolved to the "
                       "account's numbers; planned as one sender, sized with a 12-character "
                       "number (set the RC_* variables to plan with the real senders)")]
    if dry_run and sender is None:
        return None, ["dry run without a sender: sized with a 12-character number"]
    if dry_run:
        parse_senders(sender)  # raises SenderError for anything but E.164 numbers
    return sender, []


def pool_spec(sender: str | Sequence[str] | None) -> str | None:
    """A `sender` argument as the job keeps it: one number, numbers joined by
    commas (a pool), "all", or None."""
    wanted = parse_senders(sender)
    return None if wanted is None else ",".join(wanted)


def sender_pool(sender: str, match_area_code: bool, *, by_pace: bool = True,
                caps: Sequence[int | None] | None = None, open_hours: float = 24.0,
                recipients: int = 0, day_begun: float = 0.0) -> SenderPool | None:
    """The pool of a job sending from `sender` (numbers joined by commas); None for one.
    Recipients are shared by each number's capacity (`capacity_shares`): its pace
    (`pace_weight`, unless `by_pace` is false: one `rate` for all) while the window
    is open (`open_hours` a day), at most its daily cap (`caps`, one per number), for
    about `recipients` (0: by pace alone), so that all finish together."""
    numbers = tuple(sender.split(","))
    if len(numbers) < 2:
        return None
    rates = [pace_weight(n) if by_pace else 1.0 for n in numbers]
    caps = list(caps) if caps is not None else [None] * len(numbers)
    if recipients <= 0 or all(c is None for c in caps):
        # The window scales every number alike: without caps, the pace decides.
        weights = tuple(rates) if by_pace else None
    else:
        weights = capacity_shares(rates, caps, open_hours=open_hours, recipients=recipients,
                                  day_begun=day_begun)
    return SenderPool(numbers, match_area_code, weights)


@dataclass(slots=True)
class Plan:
    """What plans the file (`planner`) and what rebuilds a batch's body (`builder`)."""

    planner: Planner
    builder: BodyBuilder
    lanes: Lanes | None
    warnings: list[str]  # reading the suppression lists


def make_plan(pre: Prepared, *, sender: str, options: JobOptions, opted: Blocklist | None,
              suppress: bool, quiet: QuietHours | None, keep_bodies: bool,
              day_begun: float = 0.0, caps: Mapping[str, int] | None = None) -> Plan:
    """The planner and body builder of a job sending from `sender`, dropping the
    numbers `opted` out and (`suppress`) those of `options.suppress` (plain, a
    journal or a failed.csv). `keep_bodies`: bodies within `options.hot_bytes` are
    sent from what planning built. `caps`: each number's cap a day as pacing keeps it
    (its tier's, lowered by `daily_cap`); without, `daily_cap` for every number."""
    opts = options
    normalizer = Normalizer(opts.region, strict=opts.validate == "strict")
    blocked = [opted] if opted is not None else []
    warnings: list[str] = []
    if suppress and opts.suppress:
        more, warnings = load_suppress(opts.suppress, normalizer)
        blocked.extend(more)
    numbers = sender.split(",")
    each = [caps.get(n, opts.daily_cap) if caps else opts.daily_cap for n in numbers]
    pool = sender_pool(sender, opts.match_area_code, by_pace=opts.rate is None,
                       caps=each, open_hours=open_hours(quiet),
                       recipients=pre.estimated_rows() if any(each) else 0,
                       day_begun=day_begun)
    lanes = Lanes(numbers, pool=pool, quiet=quiet) if pool or quiet else None
    heads = {n: body_header(n, pre.default_text) for n in numbers}

    def chunker_for(number: str) -> Chunker:
        return Chunker(header_size=len(heads[number]), max_bytes=opts.max_batch_bytes,
                       max_messages=opts.max_batch_messages)
    chunker = chunker_for(numbers[0])
    rooms = [chunker.room] + ([chunker_for(n).room for n in heads] if lanes else [])

    def hygiene(seen: Seen | None, lists: Sequence[Blocklist], room: int, saved: int) -> Hygiene:
        return Hygiene(
            normalizer=normalizer, default_text=pre.default_text, template=pre.template,
            has_text_column=pre.text_column is not None, seen=seen, blocklists=lists,
            empty_variables=opts.empty_variables, max_message_size=room,
            smart_encoding=opts.smart_encoding, default_saved=saved)
    size = pre.size
    # A row is at least ~13 bytes: sizes the dedupe filter once, up front.
    seen = Seen(expected=size // 13) if opts.dedupe else None
    # Bodies are sent from what planning built, within this many bytes; past it
    # they are rebuilt from the file (flat memory, any file size).
    budget = HotBudget(opts.hot_bytes if keep_bodies else 0)
    planner = Planner(source=pre.source, header=pre.header, select=pre.select,
                      hygiene=hygiene(seen, blocked, min(rooms), pre.default_saved),
                      chunker=chunker, file_size=size,
                      budget=budget if keep_bodies else None, lanes=lanes,
                      chunker_for=chunker_for)
    # Replaying a planned batch: no dedupe or lists (the dropped lines are known).
    builder = BodyBuilder(source=pre.source, header=pre.header, select=pre.select,
                          hygiene=hygiene(None, (), chunker.room, 0),
                          head=heads[numbers[0]], budget=budget, lanes=lanes, heads=heads)
    return Plan(planner, builder, lanes, warnings)


def reconcile(journal: Journal, known: dict[int, BatchRecord], rec: BatchRecord,
              dropped: list[tuple[DroppedRow, str]]) -> BatchRecord:
    """A freshly planned batch, or its journaled twin when resuming (must match)."""
    old = known.get(rec.seq)
    if old is None:
        journal.add_batch(rec, dropped)
        known[rec.seq] = rec
        return rec
    if (old.start, old.stop, old.messages, old.bytes) != (rec.start, rec.stop, rec.messages,
                                                          rec.bytes):
        raise JournalError(
            f"batch {rec.seq} plans differently than when the job began "
            "(input or options changed); refusing to resume")
    return old


def log_planned(rec: BatchRecord, *, dry_run: bool = False) -> None:
    log.info("batch %d planned: lines %d-%d, %d messages", rec.seq, rec.first_line,
             rec.last_line, rec.messages, extra={
                 "event": "batch_planned", "batch": rec.seq, "first_line": rec.first_line,
                 "last_line": rec.last_line, "messages": rec.messages, "bytes": rec.bytes,
                 "dry_run": dry_run})


async def plan_all(plan: Plan, journal: Journal, known: dict[int, BatchRecord],
                   tracker: Tracker, stopped: Callable[[], bool], *, dry_run: bool = False
                   ) -> PlanStats:
    """Plan every row into the journal (`known` gets each batch) before sending."""
    async def emit(rec: BatchRecord, dropped: list[tuple[DroppedRow, str]]) -> None:
        tracker.planned(reconcile(journal, known, rec, dropped))
        log_planned(rec, dry_run=dry_run)
        tracker.tick()

    return await plan.planner.run(emit, journal.add_dropped, tracker.read, stopped)


def record_plan(journal: Journal, stats: PlanStats) -> tuple[list[dict[str, Any]], list[str]]:
    """Save what planning the whole file learnt; the preview and its warnings."""
    journal.set_meta("planned", "complete")
    journal.set_meta("rows", str(stats.rows))
    journal.set_meta("segments", str(stats.segments))
    journal.set_meta("smart_encoding", f"{stats.smart_changed},{stats.smart_saved}")
    if stats.shortener:
        journal.set_meta("shortener", stats.shortener)
    preview = [describe_message(*sample) for sample in stats.samples]
    texts = [text for _, _, text in stats.samples]
    warnings = [OPT_OUT_WARNING] if texts and not any(map(has_opt_out_wording, texts)) else []
    return preview, warnings


def plan_schedule(journal: Journal, *, sender: str, options: JobOptions,
                  paces: Mapping[str, float], now: float, win: Window,
                  asked: str | None = None,
                  caps: Mapping[str, int] | None = None,
                  configs: Mapping[str, NumberConfig] | None = None,
                  sent_today: Mapping[str, int] | None = None,
                  paced: bool = True) -> list[str]:
    """The plan's schedule: per sender and in total (engine.schedule), and with
    `caps` each number's tier and cap a day (`registration`)."""
    numbers = sender.split(",")
    rates = {n: paces[n] if n in paces else options.rate or type_rate(n, None)
             for n in numbers}
    work = [(b.sender or numbers[0], b.zone, b.messages) for b in journal.batches()
            if b.state in TO_SEND]
    plans = schedule(work, rates, start=now, quiet=win.hours, cap=options.daily_cap,
                     caps=caps, used_today=sent_today)
    lines = format_schedule(plans, window=win.text, asked=asked)
    if caps:
        days = {p.sender: p.days for p in plans if p.recipients}
        lines += describe_caps(caps, configs or {}, sent_today or {}, days)
        if not paced:
            lines.append("  (an emulator on this machine: these caps are shown, not kept; "
                         "--daily-cap is kept)")
    return lines
