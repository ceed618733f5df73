"""The plan's schedule (pure, simulated time): per sender through quiet hours and caps."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from engine.quiet_hours import QuietHours
from engine.schedule import format_schedule, schedule

TOLL_FREE, LOCAL = "+18885550100", "+16505550100"
NY = ZoneInfo("America/New_York")


def _t(y: int, mo: int, d: int, h: int, zone: ZoneInfo = NY) -> float:
    return dt.datetime(y, mo, d, h, tzinfo=zone).timestamp()


def test_a_sender_starts_when_its_recipients_wake_and_stops_at_night() -> None:
    q = QuietHours()
    ny = q.key_of("+12125550100")
    # 23:00 in New York; 13 open hours a day at 8/s: 374,400 a day.
    plans = schedule([(TOLL_FREE, ny, 500_000)], {TOLL_FREE: 8.0}, start=_t(2026, 11, 30, 23),
                     quiet=q)
    (p,) = plans
    assert p.start == _t(2026, 12, 1, 8)
    left = 500_000 - 13 * 3600 * 8  # for the second day, from 08:00
    assert p.finish == pytest.approx(_t(2026, 12, 2, 8) + left / 8, abs=1)
    assert p.busy_hours == pytest.approx(500_000 / 8 / 3600)
    lines = format_schedule(plans, window="08:00-21:00")
    assert any(f"warning: {TOLL_FREE} alone takes" in line for line in lines)


def test_a_daily_cap_pushes_the_rest_to_the_next_day() -> None:
    start = dt.datetime(2026, 11, 30, 0, tzinfo=dt.UTC).timestamp()
    (p,) = schedule([(LOCAL, None, 5_000)], {LOCAL: 1.0}, start=start, cap=2_000)
    assert p.finish == pytest.approx(start + 2 * 86_400 + 1_000, abs=1)
    (q,) = schedule([(LOCAL, None, 5_000)], {LOCAL: 1.0}, start=start)
    assert q.finish == pytest.approx(start + 5_000, abs=1)
    (idle,) = schedule([], {LOCAL: 1.0}, start=start)
    assert (idle.recipients, idle.start, idle.finish) == (0, None, None)
