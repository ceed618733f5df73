"""Checks shared by the results tests."""

from __future__ import annotations

from engine import JobReport
from engine.codes import PENDING_CODES


def final_failed(report: JobReport) -> int:
    """The report's count of messages that failed for good.

    SMS-CAR-104/199 are pending (no final status yet), not failed. Where the
    report's counts have no `pending` yet, its `failed` still includes them.
    """
    c = report.counts
    if hasattr(c, "pending"):
        return int(c.failed)
    later = sum(n for b in report.batches for code, n in b.error_codes.items()
                if code in PENDING_CODES)
    return c.failed - later
