"""The rate governor's decisions, on a fake clock (no sleeping)."""

from __future__ import annotations

from engine.api.governor import Governor
from engine.poller import next_interval


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_never_more_than_the_limit_in_a_window() -> None:
    clock = Clock()
    gov = Governor("light", limit=3, window=10.0, clock=clock)
    for _ in range(3):
        assert gov.delay() == 0
        gov._sent.append(clock.now)
        clock.now += 1
    # 3 sent at 1000, 1001, 1002: the 4th may go when the first leaves the window (+slack).
    assert gov.delay() == 1000 + 10 + 1 - clock.now
    clock.now = 1011.5
    assert gov.delay() == 0


def test_penalty_holds_everything_and_learns_headers() -> None:
    clock = Clock()
    gov = Governor("light", clock=clock)
    gov.observe({"X-Rate-Limit-Limit": "7", "X-Rate-Limit-Window": "30",
                 "X-Rate-Limit-Remaining": "5"})
    assert (gov.limit, gov.window) == (7, 30.0)
    gov.penalize(60)
    assert gov.delay() == 60
    clock.now += 59
    assert gov.delay() == 1
    assert gov.penalties == 1


def test_remaining_zero_from_someone_else_holds_a_window() -> None:
    clock = Clock()
    gov = Governor("light", limit=50, window=60, clock=clock)
    gov.observe({"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Window": "60",
                 "X-Rate-Limit-Remaining": "0"})
    assert gov.delay() == 61  # the window, and the second of slack every send is given


def test_remaining_from_someone_else_caps_what_is_left_of_the_window() -> None:
    clock = Clock()
    gov = Governor("light", limit=50, window=60, clock=clock)
    gov._sent.append(clock.now)  # our first request of the window...
    gov.observe({"X-Rate-Limit-Limit": "50", "X-Rate-Limit-Window": "60",
                 "X-Rate-Limit-Remaining": "3"})  # ...finds 46 used by another process
    for _ in range(3):
        assert gov.delay() == 0
        gov._sent.append(clock.now)
    assert gov.delay() > 0  # a 4th now would be the server's 51st in this window


def test_poll_interval_backs_off_and_aims_at_the_end() -> None:
    assert next_interval(2, changed=False, remaining=10, rate=0, base=2, cap=60) == 4
    assert next_interval(40, changed=False, remaining=10, rate=0, base=2, cap=60) == 60
    # 1000 left at 10/s: ~100 s left, poll again in 50 s.
    assert next_interval(2, changed=True, remaining=1000, rate=10, base=2, cap=60) == 50
    assert next_interval(30, changed=True, remaining=10, rate=100, base=2, cap=60) == 2
