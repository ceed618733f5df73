"""Quiet hours (pure): windows in the recipient's local time by area code, zones
intersected, the state rules as data, and when a closed window opens next."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from engine.errors import ConfigError
from engine.quiet_hours import CONTIGUOUS_US, STATE_RULES, QuietHours, parse_window, zones_of

UTC = dt.UTC


def _t(y: int, mo: int, d: int, h: int, mi: int = 0, zone: str = "UTC") -> float:
    return dt.datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone)).timestamp()


def test_windows_parse_and_any_turns_them_off() -> None:
    assert parse_window("08:00-21:00") == (480, 1260)
    assert parse_window(" ANY ") is None
    for bad in ("21:00-08:00", "8-21", "08:00", "25:00-26:00", "08:61-09:00"):
        with pytest.raises(ConfigError):
            parse_window(bad)


def test_a_recipient_is_reached_in_its_own_local_hours() -> None:
    q = QuietHours()
    la, ny = q.key_of("+14155550100"), q.key_of("+12125550100")
    assert la == "America/Los_Angeles|" and ny == "America/New_York|"
    monday_6pm_la = _t(2026, 11, 30, 18, 0, "America/Los_Angeles")  # 21:00 in New York
    assert q.open_span(la, monday_6pm_la) is not None
    assert q.open_span(ny, monday_6pm_la) is None
    opens = q.next_open(ny, monday_6pm_la)
    assert opens == _t(2026, 12, 1, 8, 0, "America/New_York")


def test_an_area_code_across_zones_gets_the_hours_allowed_in_all() -> None:
    q = QuietHours()
    key = q.key_of("+15415550100")  # Oregon: Pacific and Mountain
    assert key == "America/Denver+America/Los_Angeles|"
    a, b = q.intervals(key, _t(2026, 11, 30, 12), _t(2026, 12, 1, 12))[0]
    assert a == _t(2026, 11, 30, 8, 0, "America/Los_Angeles")  # 09:00 Mountain
    assert b == _t(2026, 11, 30, 21, 0, "America/Denver")  # 20:00 Pacific
    # Toll-free and unknown area codes: every contiguous US zone.
    assert zones_of("888") == zones_of("555") == zones_of(None) == CONTIGUOUS_US


def test_state_rules_narrow_the_window_by_weekday() -> None:
    q = QuietHours(states=True)
    tx, ri, fl = (q.key_of(n) for n in ("+19405550100", "+14015550100", "+13055550100"))
    assert (tx, ri, fl) == ("America/Chicago|TX", "America/New_York|RI", "America/New_York|FL")
    sunday_11 = _t(2026, 11, 29, 11, 0, "America/Chicago")
    assert q.open_span(tx, sunday_11) is None  # Texas: Sundays from noon
    assert q.next_open(tx, sunday_11) == _t(2026, 11, 29, 12, 0, "America/Chicago")
    saturday_1730 = _t(2026, 11, 28, 17, 30, "America/New_York")
    assert q.open_span(ri, saturday_1730) is None  # Rhode Island: weekends 10-17
    assert q.open_span(fl, _t(2026, 11, 30, 20, 30, "America/New_York")) is None  # FL: to 20
    assert QuietHours().key_of("+13055550100") == "America/New_York|"  # federal only
    assert set(STATE_RULES) == {"CT", "FL", "MD", "MS", "NJ", "OK", "RI", "TX"}


def test_a_window_across_a_clock_change_is_in_local_time() -> None:
    q = QuietHours()
    ny = q.key_of("+12125550100")
    # 2026-11-01: clocks go back in New York; the window is still 08:00-21:00 local.
    a, b = q.intervals(ny, _t(2026, 11, 1, 5), _t(2026, 11, 1, 23))[0]
    assert (a, b) == (_t(2026, 11, 1, 8, 0, "America/New_York"),
                      _t(2026, 11, 1, 21, 0, "America/New_York"))
    assert b - a == 13 * 3600
