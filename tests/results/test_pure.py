"""The pure parts: error codes, spreadsheet-safe cells, page counting, row outcomes, spare slots."""

from __future__ import annotations

from engine.api.a2p import Message
from engine.api.governor import Governor
from engine.codes import describe
from engine.delivery import classify
from engine.journal import COMPLETED, PLANNED, SUBMITTED, BatchRecord, ResultState
from engine.outcomes import outcome_of, safe_cell


def test_codes_say_what_is_permanent() -> None:
    assert describe("SMS-CAR-411").permanent and describe("SMS-CAR-411").label == (
        "invalid or landline")
    assert describe("SMS-RC-413").permanent  # opted out
    assert not describe("SMS-CAR-450").permanent  # a carrier cap passes
    assert describe("SMS-CAR-104").kind == describe("SMS-CAR-199").kind == "unknown"
    # Never suppress a number on a code nobody documented.
    assert describe("SMS-XX-999").kind == "temporary" and describe(None).kind == "temporary"


def test_cells_that_would_be_formulas_are_shown_as_text() -> None:
    for value in ("=1+1", "+1 (415) 555", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(value) == "'" + value
    assert safe_cell("+14155550100", number=True) == "+14155550100"  # E.164 stays
    assert safe_cell("+14155550100") == "'+14155550100"  # not in a number column
    assert safe_cell("+1 415 555", number=True) == "'+1 415 555"
    assert safe_cell("Ada") == "Ada" and safe_cell("") == ""


def test_a_page_keeps_only_what_was_not_delivered() -> None:
    page = classify(Message.parse(m) for m in [
        {"to": ["+14155550100"], "messageStatus": "Delivered"},
        {"to": ["+14155550101"], "messageStatus": "DeliveryFailed", "errorCode": "SMS-CAR-411"},
        {"to": ["+14155550102"], "messageStatus": "SendingFailed", "errorCode": "SMS-RC-413"},
        {"to": ["+14155550103"], "messageStatus": "Sent"},
        {"to": ["+14155550104"], "messageStatus": "DeliveryFailed", "errorCode": "SMS-CAR-104"},
        {"to": "+14155550105"},
    ])
    # SMS-CAR-104: the carrier gave no final status yet; pending, not failed.
    assert (page.delivered, page.failed, page.pending) == (1, 2, 3)
    assert page.rows == [("+14155550101", "DeliveryFailed", "SMS-CAR-411"),
                         ("+14155550102", "SendingFailed", "SMS-RC-413"),
                         ("+14155550103", "Sent", ""),
                         ("+14155550104", "DeliveryFailed", "SMS-CAR-104"),
                         ("+14155550105", "Unknown", "")]


def _batch(state: str) -> BatchRecord:
    return BatchRecord(1, 0, 100, 2, 2, 50, 49, 100, "+1", "+1", state=state)


def test_outcome_of_a_row() -> None:
    done = ResultState(1, complete=True, resolved=True)
    assert outcome_of(10, _batch(COMPLETED), done, None) == ("delivered", "", "")
    state, code, detail = outcome_of(10, _batch(COMPLETED), done,
                                     ("DeliveryFailed", "SMS-CAR-412"))
    assert (state, code) == ("failed", "SMS-CAR-412") and detail.endswith("(permanent)")
    assert outcome_of(10, _batch(COMPLETED), done, ("Sent", ""))[0] == "pending"
    assert outcome_of(10, _batch(COMPLETED), done, ("DeliveryFailed", "SMS-CAR-199"))[:2] == (
        "pending", "SMS-CAR-199")
    assert outcome_of(10, _batch(COMPLETED), None, None)[2].startswith("results not fetched")
    assert outcome_of(10, _batch(SUBMITTED), None, None)[0] == "pending"
    assert outcome_of(10, _batch(PLANNED), None, None)[0] == "not_sent"
    assert outcome_of(60, _batch(COMPLETED), done, None)[0] == "not_sent"  # past the plan
    assert outcome_of(10, None, None, None)[0] == "not_sent"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_background_slots_leave_the_reserve_and_never_wait_in_line() -> None:
    clock = Clock()
    gov = Governor("light", limit=10, window=60.0, clock=clock)
    assert gov.spare(reserve=3)
    for _ in range(6):
        gov._sent.append(clock.now)
    assert gov.spare(reserve=3)  # 6 + 3 < 10
    gov._sent.append(clock.now)
    assert not gov.spare(reserve=3)  # the last 3 slots are for POSTs and polls
    clock.now += 62
    assert gov.spare(reserve=3)  # the window moved on
    gov._foreground = 1  # a POST waits for a slot: it goes first
    assert not gov.spare(reserve=3)
    gov._foreground = 0
    gov.penalize(30)
    assert not gov.spare(reserve=0)  # nothing during a 429 penalty
