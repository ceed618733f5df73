"""Events go through the journal's one writer, idempotently (`EventFeed.apply`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.api.http import ApiClient
from engine.events import EventFeed, MessageFailure, filters_for
from engine.journal import SUBMITTED, SUBMITTING, BatchRecord, Journal

SENDER = "+16505550100"
A2P = "/restapi/v1.0/account/400131078008/a2p-sms"


def _submitted(journal: Journal) -> BatchRecord:
    rec = BatchRecord(1, 0, 100, 2, 2, 4, 3, 100, "+14155550100", "+14155550102")
    journal.add_batch(rec, [])
    journal.record(rec, state=SUBMITTING, attempts=1)
    journal.record(rec, state=SUBMITTED, batch_id="b1", accepted=3, rejected=0,
                   processed=0, status="Processing")
    return rec


def _feed(journal: Journal, rec: BatchRecord, seen: dict[str, list[Any]]) -> EventFeed:
    feed = EventFeed(
        client=ApiClient("http://127.0.0.1:9"), journal=journal, senders=[SENDER],
        open_batch=lambda batch_id: rec if batch_id == rec.batch_id else None,
        nudge=seen["nudged"].append, updated=seen["updated"].append,
        flowing=seen["flowing"].append, busy=lambda: True)
    feed.on_failure.append(seen["failures"].append)
    return feed


def _event(uuid: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"uuid": uuid, "event": f"{A2P}/{kind}?from={SENDER}", "body": body}


def _message(mid: str, to: str, status: str, code: str | None = None) -> dict[str, Any]:
    body = {"id": mid, "batchId": "b1", "from": SENDER, "to": [to], "messageStatus": status}
    if code:
        body["errorCode"] = code
    return body


def test_the_same_event_twice_changes_nothing(tmp_path: Path) -> None:
    seen: dict[str, list[Any]] = {k: [] for k in ("nudged", "updated", "flowing", "failures")}
    with Journal.create(str(tmp_path / "j.journal"), {}) as journal:
        rec = _submitted(journal)
        feed = _feed(journal, rec, seen)
        failed = _event("e1", "messages", _message("11", "+14155550101", "DeliveryFailed",
                                                   "SMS-CAR-412"))
        assert feed.apply(failed) is True
        assert feed.apply(failed) is False  # the same notification again
        # The same final status told by another notification: still one row.
        assert feed.apply({**failed, "uuid": "e2"}) is False
        # Not final (check again later) and delivered: nothing to record.
        assert feed.apply(_event("e3", "messages", _message(
            "12", "+14155550100", "DeliveryFailed", "SMS-CAR-104"))) is False
        assert feed.apply(_event("e4", "messages", _message(
            "13", "+14155550102", "Delivered"))) is False
        assert list(journal.live.rows()) == [(1, "+14155550101", "DeliveryFailed", "SMS-CAR-412")]
        assert seen["failures"] == [MessageFailure(SENDER, "+14155550101", "b1", 1,
                                                   "DeliveryFailed", "SMS-CAR-412")]


def test_processed_count_only_moves_up_and_completion_is_left_to_polling(
        tmp_path: Path) -> None:
    seen: dict[str, list[Any]] = {k: [] for k in ("nudged", "updated", "flowing", "failures")}
    with Journal.create(str(tmp_path / "j.journal"), {}) as journal:
        rec = _submitted(journal)
        feed = _feed(journal, rec, seen)
        batch = {"id": "b1", "from": SENDER, "batchSize": 3, "status": "Processing"}
        assert feed.apply(_event("e1", "batches", {**batch, "processedCount": 2})) is True
        # Late (delayed) and repeated events never move it back.
        assert feed.apply(_event("e2", "batches", {**batch, "processedCount": 1})) is False
        assert feed.apply(_event("e3", "batches", {**batch, "processedCount": 3,
                                                   "status": "Completed"})) is True
        (row,) = [r for r in journal.batches() if r.seq == 1]
        assert (row.processed, row.state) == (3, SUBMITTED)  # the poller completes it
        assert seen["nudged"] == [rec]
        assert len(seen["updated"]) == 2


def test_opt_outs_and_opt_ins_are_a_set(tmp_path: Path) -> None:
    seen: dict[str, list[Any]] = {k: [] for k in ("nudged", "updated", "flowing", "failures")}
    with Journal.create(str(tmp_path / "j.journal"), {}) as journal:
        feed = _feed(journal, _submitted(journal), seen)
        out = {"from": SENDER, "to": "+14155550199", "active": True}
        assert feed.apply(_event("e1", "opt-outs", out)) is True
        assert feed.apply(_event("e2", "opt-outs", out)) is False
        assert feed.opt_outs.of(SENDER) == {"+14155550199"}
        feed.apply(_event("e3", "opt-outs", {**out, "active": False}))
        assert feed.opt_outs.of(SENDER) == set()


def test_filters_of_a_sender() -> None:
    assert filters_for(SENDER) == [
        f"/restapi/v1.0/account/~/a2p-sms/batches?from={SENDER}",
        f"/restapi/v1.0/account/~/a2p-sms/messages?direction=Outbound&from={SENDER}",
        f"/restapi/v1.0/account/~/a2p-sms/opt-outs?from={SENDER}",
    ]
    assert filters_for(SENDER, messages=False) == [
        f"/restapi/v1.0/account/~/a2p-sms/batches?from={SENDER}",
        f"/restapi/v1.0/account/~/a2p-sms/opt-outs?from={SENDER}",
    ]
