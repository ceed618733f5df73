"""`JobReport`: what happened to every row of a job; `.to_dict()` is JSON-ready."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = ["BatchReport", "Counts", "DroppedRow", "JobReport", "RejectedRow"]


class DroppedRow(NamedTuple):
    """A row hvsms did not send, and why."""

    line: int
    value: str
    reason: str


class RejectedRow(NamedTuple):
    """A recipient the API refused at submit time, mapped back to its CSV line."""

    line: int
    to: str
    error_code: str
    description: str
    batch_id: str


class FailedRow(NamedTuple):
    """A message the API reports as not delivered, with its CSV line."""

    to: str
    status: str
    error_code: str
    batch_id: str
    line: int = 0
    description: str = ""  # RingCentral's meaning of the code
    permanent: bool = False  # about the number (invalid, landline, opted out)


@dataclass(slots=True)
class Counts:
    read: int = 0
    invalid: int = 0
    duplicates: int = 0
    opted_out: int = 0
    suppressed: int = 0
    too_long: int = 0
    outside_us_canada: int = 0
    empty_text: int = 0  # no text to send: an empty template value or text cell
    submitted: int = 0
    accepted: int = 0
    rejected: int = 0
    processed: int = 0
    delivered: int = 0
    failed: int = 0
    # Accepted, but no final receipt yet: queued, sent, or SMS-CAR-104 ("check
    # again later"). delivered + failed + pending == accepted.
    pending: int = 0
    segments: int = 0
    # Rows read that are in a batch not sent yet (planned, or its POST not confirmed):
    # read == dropped + submitted + not_sent at every moment.
    not_sent: int = 0

    @property
    def dropped(self) -> int:
        return sum(self.dropped_kinds().values())

    def dropped_kinds(self) -> dict[str, int]:
        """Rows dropped, by why (only the reasons that dropped any)."""
        kinds = {"invalid": self.invalid, "duplicates": self.duplicates,
                 "opted_out": self.opted_out, "suppressed": self.suppressed,
                 "too_long": self.too_long, "outside_us_canada": self.outside_us_canada,
                 "empty_text": self.empty_text}
        return {k: n for k, n in kinds.items() if n}


@dataclass(slots=True)
class BatchReport:
    seq: int
    first_line: int
    last_line: int
    messages: int
    bytes: int
    id: str | None = None
    status: str = "planned"
    accepted: int = 0
    processed: int = 0
    rejected: int = 0
    cost: float | None = None
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "id": self.id, "first_line": self.first_line,
            "last_line": self.last_line, "messages": self.messages, "bytes": self.bytes,
            "status": self.status, "accepted": self.accepted, "processed": self.processed,
            "rejected": self.rejected, "cost": self.cost, "delivered": self.delivered,
            "failed": self.failed, "pending": self.pending,
            "error_codes": dict(self.error_codes),
        }


@dataclass(slots=True)
class JobReport:
    """The result of `send_bulk`/`resume`. Rejections are reported, not raised."""

    source: str
    sender: str | None = None
    server: str = ""
    emulator: bool = False
    dry_run: bool = False
    status: str = "running"  # running | completed | interrupted | paused | failed
    message: str = ""
    counts: Counts = field(default_factory=Counts)
    batches: list[BatchReport] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    dropped: list[DroppedRow] = field(default_factory=list)
    failed: list[FailedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the input was read (not problems)
    # The first messages as they will be sent (`engine.preview.describe`).
    preview: list[dict[str, Any]] = field(default_factory=list)
    # Smart encoding: messages it changed, segments saved, estimated cost saved.
    smart_encoding: dict[str, Any] = field(default_factory=dict)
    estimated_cost: float = 0.0
    cost: float | None = None
    requests: dict[str, Any] = field(default_factory=dict)
    # Delivery results from the messages list: complete, batches, batches_done,
    # pages, delivered, failed, pending, permanent (see `engine.delivery`).
    results: dict[str, Any] = field(default_factory=dict)
    reconciled: int = 0
    resent_after_check: int = 0
    # Why the job paused (status "paused", `engine.early_stop.EarlyStop.to_dict`).
    early_stop: dict[str, Any] | None = None
    journal: str | None = None
    elapsed: float = 0.0

    def absorb(self, summary: JobReport) -> None:
        """Take the counts, rows and costs of `summary` (`engine.summary.summarise`)."""
        self.counts, self.batches, self.dropped = summary.counts, summary.batches, summary.dropped
        self.rejected, self.failed, self.results = summary.rejected, summary.failed, summary.results
        self.estimated_cost, self.cost = summary.estimated_cost, summary.cost
        self.smart_encoding = summary.smart_encoding
        self.warnings.extend(w for w in summary.warnings if w not in self.warnings)

    @property
    def ok(self) -> bool:
        return self.status == "completed"

    @property
    def retries(self) -> int:
        return int(self.requests.get("retries", 0))

    def to_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "source": self.source,
            "status": self.status,
            "message": self.message,
            "sender": self.sender,
            "server": self.server,
            "emulator": self.emulator,
            "dry_run": self.dry_run,
            "counts": {
                "read": c.read, "invalid": c.invalid, "duplicates": c.duplicates,
                "opted_out": c.opted_out, "suppressed": c.suppressed, "too_long": c.too_long,
                "outside_us_canada": c.outside_us_canada, "empty_text": c.empty_text,
                "submitted": c.submitted, "accepted": c.accepted, "rejected": c.rejected,
                "processed": c.processed, "delivered": c.delivered, "failed": c.failed,
                "pending": c.pending, "segments": c.segments, "not_sent": c.not_sent,
            },
            "estimated_cost": round(self.estimated_cost, 6),
            "cost": None if self.cost is None else round(self.cost, 6),
            "batches": [b.to_dict() for b in self.batches],
            "rejected": [r._asdict() for r in self.rejected],
            "dropped": [d._asdict() for d in self.dropped],
            "failed": [f._asdict() for f in self.failed],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "preview": [dict(p) for p in self.preview],
            "smart_encoding": dict(self.smart_encoding),
            "requests": self.requests,
            "results": dict(self.results),
            "reconciled": self.reconciled,
            "resent_after_check": self.resent_after_check,
            "early_stop": self.early_stop,
            "journal": self.journal,
            "elapsed": round(self.elapsed, 3),
        }
