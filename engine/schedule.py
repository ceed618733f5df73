"""The campaign's schedule: per sender, how long its recipients take and when it
should finish, given its pace, its recipients' quiet hours and a daily cap
(pure: the start time is passed in).

Each sender is simulated from `start`: it works through its recipients at its
pace while some of them may be reached (in plan order, as the paced lanes
do), waits while none may, and stops for the day at its cap.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .journal import Journal
from .quiet_hours import QuietHours

__all__ = ["SenderPlan", "format_schedule", "journal_schedule", "on_loopback", "schedule"]

_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class SenderPlan:
    sender: str
    recipients: int
    rate: float  # messages per second
    busy_hours: float  # hours of processing (recipients / rate)
    start: float | None  # epoch seconds; None: nothing to send
    finish: float | None

    @property
    def days(self) -> float:
        if self.start is None or self.finish is None:
            return 0.0
        return (self.finish - self.start) / _DAY


def schedule(
    work: Iterable[tuple[str, str | None, int]], rates: Mapping[str, float], *,
    start: float, quiet: QuietHours | None = None, cap: int | None = None,
    used_today: Mapping[str, int] | None = None, caps: Mapping[str, int] | None = None,
) -> list[SenderPlan]:
    """`work`: (sender, hours key, messages) in plan order. One plan per sender;
    `caps`: a sender's own cap a day (`registration.daily_caps`), else `cap`."""
    lanes: dict[str, list[list[object]]] = {}
    for sender, zone, n in work:
        if n > 0:
            lanes.setdefault(sender, []).append([zone, n])
    out = []
    for sender in rates:
        todo = [(z if isinstance(z, str) else None, int(str(n))) for z, n in lanes.get(sender, [])]
        total = sum(n for _, n in todo)
        rate = rates[sender]
        first, last = _simulate(todo, rate, start, quiet, (caps or {}).get(sender, cap),
                                (used_today or {}).get(sender, 0)) if total else (None, None)
        out.append(SenderPlan(sender, total, rate, total / rate / 3600, first, last))
    return out


def _simulate(todo: list[tuple[str | None, int]], rate: float, t: float,
              quiet: QuietHours | None, cap: int | None, used: int
              ) -> tuple[float | None, float | None]:
    left = [n for _, n in todo]
    zones = [z for z, _ in todo]
    first: float | None = None
    day, done_today = int(t // _DAY), used
    for _ in range(100_000):  # steps end at a window's edge, a day's end or a lane's end
        if not any(left):
            return first, t
        if int(t // _DAY) != day:
            day, done_today = int(t // _DAY), 0
        midnight = (day + 1) * _DAY
        room = cap - done_today if cap is not None else math.inf
        if room <= 0:
            t = midnight
            continue
        until = midnight if cap is not None else math.inf
        pick = None
        wake = math.inf
        for i, zone in enumerate(zones):
            if not left[i]:
                continue
            if quiet is None or zone is None:
                pick, close = i, math.inf
                break
            span = quiet.open_span(zone, t)
            if span is not None:
                pick, close = i, span[1]
                break
            opens = quiet.next_open(zone, t)
            wake = min(wake, opens if opens is not None else math.inf)
        if pick is None:
            if math.isinf(wake):
                return first, None  # never reachable within the rules
            t = wake
            continue
        n = min(left[pick], room, (min(close, until) - t) * rate)
        n = max(1.0, math.floor(n))
        first = t if first is None else first
        left[pick] -= int(n)
        done_today += int(n)
        t += n / rate
    return first, None


def _when(t: float | None) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_schedule(plans: list[SenderPlan], *, window: str, asked: str | None = None
                    ) -> list[str]:
    """Lines for the plan and `hvsms status`: per sender, then in total, then warnings.
    `asked`: the job's `--from` ("all", numbers joined by commas, or None), so the
    advice does not repeat what was given."""
    lines = [f"schedule (quiet hours: {window}):"]
    width = max([len(p.sender) for p in plans] + [6])
    for p in plans:
        lines.append(f"  {p.sender:<{width}}  {p.recipients:>10,} recipients  {p.rate:g} msg/s  "
                     f"{p.busy_hours:,.1f} h of sending  start {_when(p.start)}  "
                     f"finish {_when(p.finish)}")
    active = [p for p in plans if p.recipients]
    if active:
        starts = [p.start for p in active if p.start is not None]
        ends = [p.finish for p in active if p.finish is not None]
        total = sum(p.recipients for p in active)
        rate = sum(p.rate for p in active)
        lines.append(f"  {'total':<{width}}  {total:>10,} recipients  {rate:g} msg/s  "
                     f"start {_when(min(starts) if starts else None)}  finish "
                     f"{_when(max(ends) if len(ends) == len(active) else None)}")
    if asked == "all":
        more = "every A2P number of the account is in the pool: a higher cap or more days"
    elif asked is not None and "," in asked:
        more = "add numbers (--from all) to share the work"
    else:
        more = "add numbers (--from several times, or --from all) to share the work"
    for p in active:
        if p.days > 1:
            lines.append(f"warning: {p.sender} alone takes {p.days:.1f} days; {more}")
        if p.finish is None:
            lines.append(f"warning: some recipients of {p.sender} can never be reached "
                         "within the quiet hours")
    return lines


def journal_schedule(journal: Journal, now: float) -> list[str]:
    """The schedule of what a journaled job has left (for `hvsms status`), as lines."""
    from .config import JobOptions
    from .pacing import type_rate
    from .quiet_hours import ANY, FEDERAL_WINDOW, parse_window

    inputs = journal.inputs
    opts = JobOptions(**dict(inputs.get("options") or {}))
    senders = str(journal.meta("sender") or inputs.get("sender") or "").split(",")
    senders = [s for s in senders if s.startswith("+")]
    if not senders:
        return []
    window = opts.window
    if window is None:
        server = journal.meta("server") or ""
        window = ANY if on_loopback(server) else FEDERAL_WINDOW
    span = parse_window(window)
    quiet = QuietHours(span, states=opts.quiet_hours == "states") if span else None
    rates = {s: opts.rate or type_rate(s, None) for s in senders}
    work = []
    for b in journal.batches():
        left = b.messages if b.batch_id is None else (b.accepted or 0) - (b.processed or 0)
        if b.state != "completed" and left > 0:
            work.append((b.sender or senders[0], b.zone, left))
    plans = schedule(work, rates, start=now, quiet=quiet, cap=opts.daily_cap)
    return format_schedule(plans, window=window + (" + state rules" if opts.quiet_hours ==
                                                   "states" and span else ""),
                           asked=inputs.get("sender"))


def on_loopback(url: str) -> bool:
    """True for a server on this machine (an emulator: no phone is ever reached)."""
    from urllib.parse import urlsplit

    from .config import is_loopback

    return is_loopback(urlsplit(url).hostname or "")
