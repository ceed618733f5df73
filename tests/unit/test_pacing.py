"""Pacing rules (pure, simulated time): how much a sender may take, and its learned pace."""

from __future__ import annotations

import pytest

from engine.chunker import encode_messages, escape_texts
from engine.journal import BatchRecord
from engine.pacing import CLOSING_MARGIN, POST_DECAY, POST_MARGIN, Pacer, SenderPace, type_rate
from engine.planner import _split_hot

TOLL_FREE = "+18885550100"
LOCAL = "+16505550100"


def test_throughput_starts_from_the_number_type() -> None:
    assert type_rate(TOLL_FREE, "TollFree") == 8.0
    assert type_rate(LOCAL, "Local") == 1.0
    assert type_rate(TOLL_FREE, None) == 8.0  # unknown type: by its area code
    assert type_rate(LOCAL, "") == 1.0


def test_a_sender_takes_up_to_its_horizon_and_the_next_batch_when_half_is_free() -> None:
    pace = SenderPace(TOLL_FREE, rate=8.0, horizon=600.0)
    assert pace.capacity == 4800
    assert pace.want(100_000) == 4800
    pace.submitted(0.0, 4800)
    assert pace.want(100_000) == 0
    pace.progressed(100.0, 800)  # 4000 still queued: less than half is free
    assert pace.want(100_000) == 0
    pace.progressed(300.0, 1600)  # 2400 queued: half free
    assert pace.want(100_000) == 2400
    assert pace.want(10) == 10  # what is left, however small
    assert pace.max_queued == 4800


def test_a_busy_sender_is_measured_and_a_drained_one_is_at_least_that_fast() -> None:
    pace = SenderPace(TOLL_FREE, rate=8.0, horizon=600.0)
    pace.submitted(1000.0, 4800)
    pace.progressed(1300.0, 1500)  # too short a stretch to judge
    assert (pace.rate, pace.learned) == (8.0, False)
    pace.progressed(1800.0, 2500)  # 4000 in 800 s, never dry: 5/s; a quarter of the way
    assert pace.rate == pytest.approx(7.25) and pace.learned
    assert pace.capacity == 4350
    pace.submitted(1800.0, 4000)
    pace.progressed(2600.0, 4000)  # 5/s again
    assert pace.rate == pytest.approx(6.6875)
    slow = SenderPace(LOCAL, rate=1.0, horizon=600.0)
    slow.submitted(0.0, 600)
    slow.progressed(400.0, 600)  # drained, 1.5/s: within timing noise of 1/s
    assert slow.rate == 1.0
    fast = SenderPace(LOCAL, rate=1.0, horizon=600.0)
    fast.submitted(0.0, 600)
    fast.progressed(0.01, 600)  # all of it within 10 ms: the emulator's fast service
    assert fast.rate == pytest.approx(60_000.0)
    assert fast.want(10_000_000) == 10_000_000  # fewest, fullest batches again
    fixed = SenderPace(LOCAL, rate=2.0, horizon=600.0, learn=False)
    fixed.submitted(0.0, 1200)
    fixed.progressed(0.5, 1200)
    assert fixed.rate == 2.0


def test_the_pacer_counts_each_batch_progress_once() -> None:
    pacer = Pacer()
    pacer.add(LOCAL, 1.0, 600.0, learn=True)
    rec = BatchRecord(1, 0, 10, 2, 2, 600, 600, 9000, LOCAL, LOCAL, batch_id="b1", accepted=600)
    pacer.submitted(LOCAL, rec, 0.0)
    pacer.submitted(LOCAL, rec, 0.0)  # the same batch again (a probe, a resume)
    assert pacer.senders[LOCAL].queued == 600
    rec.processed = 100
    pacer.seen(LOCAL, rec, 100.0)
    pacer.seen(LOCAL, rec, 101.0)
    assert pacer.senders[LOCAL].queued == 500


def test_a_batch_cut_for_pacing_keeps_what_planning_encoded_for_both_parts() -> None:
    numbers = [f"+1415555{i:04d}" for i in range(10)]
    # A text holding the very bytes that separate two messages, escaped as JSON has it.
    texts: list[str | None] = [escape_texts(['x"},{"to":["y'])[0] or ""] * 10
    pieces = [encode_messages(numbers[a:b], texts[a:b]) for a, b in ((0, 3), (3, 4), (4, 10))]
    for k in range(1, 10):
        rec = BatchRecord(1, 0, 0, 0, 0, 0, 10, 0, "", "", hot=pieces, hot_messages=10)
        cut = _split_hot(rec, k)
        assert cut is not None
        front, rest = cut
        assert b",".join(front) == encode_messages(numbers[:k], texts[:k])
        assert b",".join(rest) == encode_messages(numbers[k:], texts[k:])
    assert _split_hot(BatchRecord(1, 0, 0, 0, 0, 0, 10, 0, "", "", hot=pieces,
                                  hot_messages=5), 5) is None


def test_a_resumed_batch_teaches_no_pace_from_what_happened_while_nobody_looked() -> None:
    pacer = Pacer()
    pacer.add(LOCAL, 1.0, 600.0, learn=True)
    rec = BatchRecord(1, 0, 10, 2, 2, 600, 600, 9000, LOCAL, LOCAL, batch_id="b1", accepted=600,
                      processed=100)  # as the journal had it
    pacer.adopt(LOCAL, rec, 1000.0)
    assert pacer.senders[LOCAL].queued == 500
    rec.processed = 600  # done long ago, seen at the first poll
    pacer.seen(LOCAL, rec, 1030.0)
    assert (pacer.senders[LOCAL].rate, pacer.senders[LOCAL].queued) == (1.0, 0)


def test_an_answer_that_shows_the_batch_processed_is_a_pace() -> None:
    """The POST's answer already counts processed messages: a server that processes
    at once is at least done / round trip fast (a lower bound, as for a drained one)."""
    pace = SenderPace(TOLL_FREE, rate=8.0, horizon=600.0)
    pace.answered(0.5, 4)  # 8/s: no faster than believed, nothing learnt
    assert (pace.rate, pace.learned) == (8.0, False)
    pace.answered(0.05, 4800)
    assert pace.learned and pace.rate == pytest.approx(96_000.0)
    assert pace.want(1_000_000) == 1_000_000  # the rest goes in one batch
    fixed = SenderPace(TOLL_FREE, rate=8.0, horizon=600.0, learn=False)
    fixed.answered(0.05, 4800)  # JobOptions.rate: never learnt
    assert (fixed.rate, fixed.learned) == (8.0, False)
    instant = SenderPace(TOLL_FREE, rate=8.0, horizon=600.0)
    instant.answered(0.0, 10)  # no measurable round trip: taken as a millisecond
    assert instant.rate == pytest.approx(10_000.0)


def test_the_time_a_post_takes_is_part_of_the_lead_before_a_deadline() -> None:
    # A batch is processed only once its POST is answered: a slow POST (a 50 MB
    # body, a loaded server, a compressed clock) must not push it past the close.
    pace = SenderPace("+16505550100", rate=1.0, horizon=600.0)
    assert pace.lead == CLOSING_MARGIN
    pace.posted(30.0)
    assert pace.lead == CLOSING_MARGIN + POST_MARGIN * 30.0
    pace.posted(10.0)  # a faster one: the slow one is forgotten slowly
    assert pace.post_time == 30.0 * POST_DECAY
    pace.posted(100.0)
    assert pace.post_time == 100.0
