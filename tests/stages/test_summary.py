"""`summarise` is pure: the same journal snapshot gives the same counts to the job's
report and to `hvsms status`, whatever ran it."""

from __future__ import annotations

from engine.journal import (
    COMPLETED,
    FAILED,
    PLANNED,
    SPLIT,
    SUBMITTED,
    UNCERTAIN,
    BatchRecord,
    ResultState,
)
from engine.report import DroppedRow, JobReport, RejectedRow
from engine.summary import Snapshot, outcome, summarise, to_send

META = {"planned": "complete", "rows": "20", "segments": "18", "smart_encoding": "3,2",
        "shortener": None, "sender": "+16505550100", "emulator": "0"}


def _rec(seq: int, messages: int, state: str, **kw: object) -> BatchRecord:
    rec = BatchRecord(seq, 0, 10, 2, 2, 2 + messages, messages, 100, "+14155550100",
                      "+14155550101", state=state)
    for k, v in kw.items():
        setattr(rec, k, v)
    return rec


def _snapshot(**meta: str | None) -> Snapshot:
    batches = [
        _rec(1, 5, COMPLETED, batch_id="b1", accepted=4, rejected=1, processed=4,
             delivered=2, failed=1, cost=0.04, error_codes="SMS-CAR-104=1"),
        _rec(2, 4, SUBMITTED, batch_id="b2", accepted=4, rejected=0, processed=1),
        _rec(3, 3, UNCERTAIN),
        _rec(4, 2, FAILED, status="HTTP 400"),
        _rec(5, 4, SPLIT),
        _rec(6, 1, PLANNED),
    ]
    dropped = [(DroppedRow(20, "x", "invalid number"), "invalid"),
               (DroppedRow(21, "+14155550100", "duplicate of line 2"), "duplicates"),
               (DroppedRow(22, "+14155550105", "opted out"), "opted_out")]
    return Snapshot(
        path="/tmp/job.journal", inputs={"source": "/tmp/r.csv", "sender": None},
        meta={**META, **meta}, batches=batches, dropped=dropped,
        rejected=[RejectedRow(3, "+14155550102", "SMS-CAR-411", "invalid", "b1")],
        result_states={1: ResultState(seq=1, complete=True, resolved=True, pages=1,
                                      delivered=2, failed=1, pending=1)},
        failed=[(4, "+14155550103", "DeliveryFailed", "SMS-CAR-411", 1)],
    )


def test_counts_batches_and_rows_come_from_the_snapshot_alone() -> None:
    report = summarise(_snapshot(), price_per_segment=0.01)
    c = report.counts
    assert (c.read, c.segments) == (20, 18)
    assert (c.invalid, c.duplicates, c.opted_out, c.dropped) == (1, 1, 1, 3)
    assert c.dropped_kinds() == {"invalid": 1, "duplicates": 1, "opted_out": 1}
    assert (c.submitted, c.accepted, c.rejected, c.processed) == (9, 8, 1, 5)
    # delivered + failed + pending == accepted, per batch and in all
    assert (c.delivered, c.failed, c.pending) == (2, 1, 5)
    assert [b.pending for b in report.batches] == [1, 4, 0, 0, 0, 0]
    assert report.batches[0].error_codes == {"SMS-CAR-104": 1}
    assert report.estimated_cost == 18 * 0.01
    assert report.cost == 0.04
    assert report.smart_encoding == {"messages": 3, "segments_before": 20,
                                     "segments_after": 18, "cost_saved": 0.02}
    assert [(r.line, r.to) for r in report.rejected] == [(3, "+14155550102")]
    assert [(f.line, f.to, f.batch_id, f.permanent) for f in report.failed] == [
        (4, "+14155550103", "b1", True)]
    assert report.results == {"complete": False, "batches": 2, "batches_done": 1, "pages": 1,
                              "delivered": 2, "failed": 1, "pending": 1, "permanent": 1}
    assert (report.source, report.journal, report.sender) == (
        "/tmp/r.csv", "/tmp/job.journal", "+16505550100")
    assert report.status == "running"  # how it ended is the runner's to say
    assert to_send(_snapshot()) == 3 + 2 + 1  # uncertain, refused and planned: as resume


def test_the_same_snapshot_summarises_the_same() -> None:
    one, two = summarise(_snapshot()), summarise(_snapshot())
    assert one.to_dict() == two.to_dict()


def test_a_shortener_is_warned_about_once_however_often_the_report_is_summarised() -> None:
    snap = _snapshot(shortener="bit.ly")
    report = JobReport(source="r.csv")
    report.absorb(summarise(snap))
    report.absorb(summarise(snap))
    assert [w for w in report.warnings if "bit.ly" in w] == [
        "a text uses the link shortener bit.ly: carriers often filter such links (SMS-CAR-435)"]


def test_outcome_by_what_the_run_was() -> None:
    snap = _snapshot()
    report = summarise(snap)
    assert outcome(snap, report, dry_run=True, stopped=False) == (
        "completed", "dry run: 6 batches planned, nothing sent")
    assert outcome(snap, report, dry_run=False, stopped=True) == (
        "interrupted", "interrupted; the journal /tmp/job.journal resumes it")
    assert outcome(snap, report, dry_run=False, stopped=False) == ("failed", "")
    done = Snapshot(path="j", inputs={}, meta=META, dropped=[], batches=[
        _rec(1, 2, COMPLETED, batch_id="b", accepted=2, delivered=1, failed=0),
        _rec(2, 2, SPLIT)])
    status, message = outcome(done, summarise(done), dry_run=False, stopped=False) or ("", "")
    assert status == "completed"
    assert message.startswith("all batches processed; 1 delivery receipt(s) still pending")
    still = Snapshot(path="j", inputs={}, meta=META, dropped=[],
                     batches=[_rec(1, 2, SUBMITTED, batch_id="b", accepted=2)])
    assert outcome(still, summarise(still), dry_run=False, stopped=False) is None


def test_receipts_of_an_ended_built_in_emulator_are_not_to_be_refreshed() -> None:
    from rich.console import Console

    from engine.output import summary_table

    def shown(report: JobReport) -> str:
        console = Console(width=120, color_system=None)
        with console.capture() as out:
            console.print(summary_table(report, ascii_only=True))
        return out.get()

    report = JobReport(source="list.csv", emulator=True, status="interrupted")
    report.counts.read = report.counts.submitted = report.counts.accepted = 600
    report.counts.pending = 600
    assert "refresh later" not in shown(report)
    assert "the built-in emulator ended with this run" in shown(report)
    report.emulator = False  # a real server: they will come
    assert "no final receipt yet: refresh later" in shown(report)
