"""One summary of a job, from its journal: the report of send, resume, results and
refresh, the report files and `hvsms status` all count from `summarise`.

`Snapshot.read` is the only I/O here: everything after it is pure.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .codes import describe, parse_codes
from .journal import (
    COMPLETED,
    FAILED,
    PLANNED,
    SPLIT,
    SUBMITTED,
    SUBMITTING,
    UNCERTAIN,
    BatchRecord,
    Journal,
    ResultState,
)
from .report import BatchReport, DroppedRow, FailedRow, JobReport, RejectedRow

__all__ = ["TO_SEND", "Snapshot", "all_completed", "newest", "outcome", "pending", "pending_note",
           "summarise", "to_send"]

# A resumed job sends these again: `failed` means the server refused the POST
# (it did not act on it), so once the cause is fixed, sending it is safe.
TO_SEND = (PLANNED, SUBMITTING, UNCERTAIN, FAILED)
_META = ("planned", "rows", "segments", "smart_encoding", "shortener", "sender", "emulator")


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a journal holds about its job, read at one moment."""

    path: str
    inputs: dict[str, Any]
    meta: dict[str, str | None]
    batches: list[BatchRecord]
    dropped: list[tuple[DroppedRow, str]]
    rejected: list[RejectedRow] = field(default_factory=list)
    result_states: dict[int, ResultState] = field(default_factory=dict)
    # (line, to, status, error code, batch seq) of every message that failed
    failed: list[tuple[int, str, str, str, int]] = field(default_factory=list)

    @classmethod
    def read(cls, journal: Journal, *, rows: bool = True) -> Snapshot:
        """`rows=False` leaves out the rejected and failed rows (`status` counts only)."""
        return cls(
            path=journal.path, inputs=journal.inputs,
            meta={k: journal.meta(k) for k in _META}, batches=journal.batches(),
            dropped=list(journal.dropped()),
            rejected=journal.rejected() if rows else [],
            result_states=journal.result_states(),
            failed=list(journal.results(failed_only=True)) if rows else [],
        )

    @property
    def planned_all(self) -> bool:
        return self.meta["planned"] == "complete"


def pending(rec: BatchRecord) -> int:
    """Accepted messages with no final receipt (yet) by the batch totals."""
    if rec.batch_id is None:
        return 0
    return max(0, (rec.accepted or 0) - (rec.delivered or 0) - (rec.failed or 0))


def newest(rec: BatchRecord, st: ResultState | None) -> tuple[int, int, int]:
    """(delivered, failed, pending) of a batch from the newest evidence (pure): a
    message whose own result was fetched counts by it, the rest by the batch totals.

    The totals are read when the batch completes (or is refreshed); its messages'
    results are listed after, so they know of later receipts. Once a batch's
    results are all in, `failed` is exactly its rows of failed.csv."""
    accepted = rec.accepted or 0
    if rec.batch_id is None:
        return 0, 0, 0
    if st is None or not st.pages:
        return rec.delivered or 0, rec.failed or 0, pending(rec)
    delivered, failed = st.delivered, st.failed
    if not st.complete:  # the messages not listed yet: as the totals say, less the listed
        rest = max(0, accepted - delivered - failed - st.pending)
        more_failed = min(rest, max(0, (rec.failed or 0) - failed))
        failed += more_failed
        delivered += min(rest - more_failed, max(0, (rec.delivered or 0) - delivered))
    return delivered, failed, max(0, accepted - delivered - failed)


def to_send(snap: Snapshot) -> int:
    """Recipients a resume would send (refused batches included)."""
    return sum(b.messages for b in snap.batches if b.state in TO_SEND)


def summarise(snap: Snapshot, *, price_per_segment: float = 0.0,
              source: str | None = None) -> JobReport:
    """The job as its journal tells it: counts, batches, rows dropped, rejected and
    failed, delivery results and costs. The status is left `running`: whether the
    job completed, was stopped or failed is known only to who ran it."""
    report = JobReport(source=source or str(snap.inputs.get("source") or ""),
                       journal=snap.path)
    report.sender = snap.meta["sender"] or snap.inputs.get("sender")
    c = report.counts
    kinds: Counter[str] = Counter()
    for row, kind in snap.dropped:
        report.dropped.append(row)
        kinds[kind] += 1
    c.invalid, c.duplicates = kinds["invalid"], kinds["duplicates"]
    c.opted_out, c.suppressed = kinds["opted_out"], kinds["suppressed"]
    c.too_long, c.outside_us_canada = kinds["too_long"], kinds["outside_us_canada"]
    c.empty_text = kinds["empty_text"]
    c.segments = int(snap.meta["segments"] or 0)
    if snap.meta["shortener"]:
        report.warnings.append(
            f"a text uses the link shortener {snap.meta['shortener']}: carriers often "
            "filter such links (SMS-CAR-435)")
    report.estimated_cost = c.segments * price_per_segment
    changed, _, saved = (snap.meta["smart_encoding"] or "").partition(",")
    if changed and int(changed):
        report.smart_encoding = {
            "messages": int(changed), "segments_before": c.segments + int(saved),
            "segments_after": c.segments,
            "cost_saved": round(int(saved) * price_per_segment, 6),
        }
    report.rejected = list(snap.rejected)
    costs = [rec.cost for rec in snap.batches if rec.cost is not None]
    report.cost = sum(costs) if costs else None
    for rec in snap.batches:
        batch = _batch(rec, snap.result_states.get(rec.seq))
        report.batches.append(batch)
        if rec.state in (SUBMITTED, COMPLETED):
            c.submitted += rec.messages
        c.accepted += rec.accepted or 0
        c.rejected += rec.rejected or 0
        c.processed += rec.processed or 0
        c.delivered += batch.delivered
        c.failed += batch.failed
        c.pending += batch.pending
    c.not_sent = to_send(snap)
    # Until the whole file is planned, the rows read are those the journal holds:
    # each is dropped or in a batch (rows being planned are not read yet).
    c.read = (int(snap.meta["rows"] or 0) if snap.planned_all
              else c.dropped + c.submitted + c.not_sent)
    _results(snap, report)
    return report


def _batch(rec: BatchRecord, st: ResultState | None) -> BatchReport:
    delivered, failed, pending_ = newest(rec, st)
    return BatchReport(
        seq=rec.seq, first_line=rec.first_line, last_line=rec.last_line,
        messages=rec.messages, bytes=rec.bytes, id=rec.batch_id,
        status=rec.status or rec.state, accepted=rec.accepted or 0,
        processed=rec.processed or 0, rejected=rec.rejected or 0, cost=rec.cost,
        delivered=delivered, failed=failed, pending=pending_,
        error_codes=parse_codes(rec.error_codes),
    )


def _results(snap: Snapshot, report: JobReport) -> None:
    """The per-message results fetched so far (`engine.delivery`)."""
    states = snap.result_states
    sent = [b for b in snap.batches if b.state in (SUBMITTED, COMPLETED)]
    done = [st for st in states.values() if st.complete and st.resolved]
    ids = {b.seq: b.batch_id or "" for b in sent}
    permanent = 0
    for line, to, status, code, seq in snap.failed:
        info = describe(code)
        permanent += info.permanent
        report.failed.append(FailedRow(to, status, code, ids.get(seq, ""), line,
                                       info.description, info.permanent))
    report.results = {
        "complete": bool(sent) and len(done) == len(sent),
        "batches": len(sent),
        "batches_done": len(done),
        "pages": sum(st.pages for st in states.values()),
        "delivered": sum(st.delivered for st in states.values()),
        "failed": sum(st.failed for st in states.values()),
        "pending": sum(st.pending for st in states.values()),
        "permanent": permanent,
    }


def all_completed(snap: Snapshot) -> bool:
    """Every batch the job has is processed (halves stand for a split batch)."""
    return {b.state for b in snap.batches} - {SPLIT} <= {COMPLETED}


def outcome(snap: Snapshot, report: JobReport, *, dry_run: bool, stopped: bool,
            results_only: bool = False) -> tuple[str, str] | None:
    """How a run of the job ended, as its journal and the run's flags tell it:
    (status, message), or None when the journal alone does not say."""
    if dry_run:
        return "completed", f"dry run: {len(snap.batches)} batches planned, nothing sent"
    if stopped:
        return "interrupted", (
            "interrupted: the batches lived in the built-in emulator, which ended with "
            "this run; nothing reached a phone" if report.emulator
            else f"interrupted; the journal {report.journal} resumes it")
    if all_completed(snap):
        pending_ = report.counts.pending
        return "completed", pending_note(pending_) if pending_ else report.message
    if any(b.state == FAILED for b in snap.batches):
        return "failed", report.message
    if results_only and report.results.get("complete"):
        return "completed", report.message  # results of what was sent; the rest is unsent
    return None


def pending_note(count: int) -> str:
    """The final status of a job whose receipts are still coming."""
    return (f"all batches processed; {count:,} delivery receipt(s) still pending "
            "(queued, sent or SMS-CAR-104): refresh the job later for the final counts")
