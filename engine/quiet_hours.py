"""Quiet hours: when a message may reach a recipient, in the recipient's local time.

The recipient's area code stands for where they are (the commonly used proxy:
a number keeps its area code when its owner moves, so this is a proxy, not a
location). Its time zone(s) come from `phonenumbers`' prefix data: an area
code that spans several zones (541: Pacific and Mountain) gets only the hours
allowed in all of them. Numbers whose area code has no zone of its own
(toll-free, unknown) get the hours allowed in all four contiguous US zones.

`--window HH:MM-HH:MM` (default 08:00-21:00, the federal TCPA hours for
telephone solicitations) applies everywhere; `--quiet-hours states` narrows
it by the stricter state rules in `STATE_RULES`; `--window any` turns quiet
hours off (transactional messages). None of this is legal advice.

Pure: every function takes the time (epoch seconds) it is asked about.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .senders import area_code

__all__ = [
    "ANY",
    "CONTIGUOUS_US",
    "FEDERAL_WINDOW",
    "STATE_RULES",
    "QuietHours",
    "Rule",
    "open_hours",
    "parse_window",
]

ANY = "any"
FEDERAL_WINDOW = "08:00-21:00"
CONTIGUOUS_US = ("America/New_York", "America/Chicago", "America/Denver",
                 "America/Los_Angeles")

# (start, end) in minutes after local midnight; end is exclusive.
Span = tuple[int, int]
# One span (or None: not at all) per weekday, Monday first.
Rule = tuple[Span | None, ...]

def _minutes(hhmm: str) -> int:
    try:
        h, m = hhmm.strip().split(":")
        value = int(h) * 60 + int(m)
    except ValueError:
        raise ConfigError(f"{hhmm!r} is not a time of day (HH:MM)") from None
    if not (0 <= int(m) < 60 and 0 <= value <= 24 * 60):
        raise ConfigError(f"{hhmm!r} is not a time of day (HH:MM)")
    return value


def _every_day(start: str, end: str) -> Rule:
    return (_span(start, end),) * 7


def _span(start: str, end: str) -> Span:
    return _minutes(start), _minutes(end)


# State code -> (name, allowed hours in the recipient's local time), as compliance
# vendors summarised the state rules in 2025: verify before relying on them, not
# legal advice. The federal default is FEDERAL_WINDOW.
STATE_RULES: Mapping[str, tuple[str, Rule]] = {
    "CT": ("Connecticut", _every_day("09:00", "20:00")),
    "FL": ("Florida", _every_day("08:00", "20:00")),
    "MD": ("Maryland", _every_day("08:00", "20:00")),
    "MS": ("Mississippi", _every_day("08:00", "20:00")),
    "NJ": ("New Jersey", _every_day("08:00", "20:00")),
    "OK": ("Oklahoma", _every_day("08:00", "20:00")),
    "RI": ("Rhode Island", (_span("09:00", "18:00"),) * 5 + (_span("10:00", "17:00"),) * 2),
    "TX": ("Texas", (_span("09:00", "21:00"),) * 6 + (_span("12:00", "21:00"),)),
}
_BY_NAME = {name: code for code, (name, _) in STATE_RULES.items()}


def open_hours(quiet: QuietHours | None) -> float:
    """Hours a day the window is open (24 without quiet hours; state rules aside)."""
    if quiet is None:
        return 24.0
    start, end = quiet.window
    return (end - start) / 60


def parse_window(text: str) -> Span | None:
    """`"08:00-21:00"` -> (480, 1260); `"any"` -> None (no quiet hours)."""
    if text.strip().lower() == ANY:
        return None
    parts = text.split("-")
    if len(parts) != 2:
        raise ConfigError(f"window {text!r}: give HH:MM-HH:MM (like 08:00-21:00) or 'any'")
    start, end = _minutes(parts[0]), _minutes(parts[1])
    if start >= end:
        raise ConfigError(f"window {text!r}: it must start before it ends, on the same day")
    return start, end


@functools.cache
def _zones_by_area_code() -> dict[str, tuple[str, ...]]:
    from phonenumbers import tzdata  # a large table: loaded once, when needed

    zones: dict[str, set[str]] = {}
    for prefix, names in tzdata.TIMEZONE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4:
            zones.setdefault(prefix[1:4], set()).update(names)
    return {npa: tuple(sorted(z)) for npa, z in zones.items()}


@functools.cache
def _state_of(npa: str) -> str | None:
    import phonenumbers
    from phonenumbers import geocoder

    try:
        number = phonenumbers.parse(f"+1{npa}2345678")
    except phonenumbers.NumberParseException:
        return None
    place = geocoder.description_for_number(number, "en")
    if ", " in place:
        code = place.rsplit(", ", 1)[1]
        return code if code in STATE_RULES else None
    return _BY_NAME.get(place)


def zones_of(npa: str | None) -> tuple[str, ...]:
    """The time zones of an area code (the contiguous US when it has none of its own)."""
    zones = _zones_by_area_code().get(npa or "")
    if not zones or len(zones) > len(CONTIGUOUS_US) or "Etc/Unknown" in zones:
        return CONTIGUOUS_US
    return zones


@dataclass(frozen=True, slots=True)
class QuietHours:
    """The hours a job may reach each recipient: `window` everywhere, narrowed by
    the state rules when `states` is true."""

    window: Span = (8 * 60, 21 * 60)  # FEDERAL_WINDOW
    states: bool = False

    def key_of(self, number: str) -> str:
        """The recipient's hours, named: `zone[+zone...]|STATE` (same key, same hours)."""
        return self._key(area_code(number))

    def keys_of(self, numbers: Sequence[str]) -> list[str]:
        npas = [n[2:5] if n.startswith("+1") and len(n) == 12 else None for n in numbers]
        # One `_key` call per area code, not per number (each call hashes `self`).
        keys = {npa: self._key(npa) for npa in set(npas)}
        return [keys[npa] for npa in npas]

    @functools.cache  # noqa: B019  # a few hundred area codes; the instance lives with a job
    def _key(self, npa: str | None) -> str:
        state = _state_of(npa) if self.states and npa else None
        return "+".join(zones_of(npa)) + "|" + (state or "")

    def rule(self, key: str) -> Rule:
        """Allowed span per weekday for a key."""
        state = key.rsplit("|", 1)[1]
        base: Rule = (self.window,) * 7
        if not state:
            return base
        extra = STATE_RULES[state][1]
        return tuple(_meet(a, b) for a, b in zip(base, extra, strict=True))

    def open_span(self, key: str, t: float) -> tuple[float, float] | None:
        """The open interval (epoch seconds) holding `t`, or None while it is closed."""
        for a, b in self.intervals(key, t - 86_400, t + 86_400):
            if a <= t < b:
                return a, b
        return None

    def next_open(self, key: str, t: float) -> float | None:
        """When the recipients of `key` may next be reached at or after `t` (None: never)."""
        for a, _ in self.intervals(key, t, t + 9 * 86_400):
            return max(a, t)
        return None

    def intervals(self, key: str, start: float, end: float) -> list[tuple[float, float]]:
        """Open intervals (epoch seconds) overlapping [start, end), in order."""
        zones, rule = key.rsplit("|", 1)[0].split("+"), self.rule(key)
        out: list[tuple[float, float]] | None = None
        for zone in zones:
            mine = _zone_intervals(zone, rule, start, end)
            out = mine if out is None else _intersect(out, mine)
        return out or []


def _meet(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None:
        return None
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else None


def _zone_intervals(zone: str, rule: Rule, start: float, end: float
                    ) -> list[tuple[float, float]]:
    tz = ZoneInfo(zone)
    day = dt.datetime.fromtimestamp(start, tz).date() - dt.timedelta(days=1)
    last = dt.datetime.fromtimestamp(end, tz).date() + dt.timedelta(days=1)
    out: list[tuple[float, float]] = []
    while day <= last:
        span = rule[day.weekday()]
        if span is not None:
            midnight = dt.datetime(day.year, day.month, day.day, tzinfo=tz)
            a = (midnight + dt.timedelta(minutes=span[0])).timestamp()
            b = (midnight + dt.timedelta(minutes=span[1])).timestamp()
            if b > start and a < end:
                out.append((a, b))
        day += dt.timedelta(days=1)
    return out


def _intersect(xs: list[tuple[float, float]], ys: list[tuple[float, float]]
               ) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    i = j = 0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        if lo < hi:
            out.append((lo, hi))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return out
