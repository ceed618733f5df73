"""Checks shared by the results tests."""

from __future__ import annotations

from typing import Any

import support

from engine import JobOptions, JobReport
from engine.codes import PENDING_CODES


def opts(**kw: Any) -> JobOptions:
    """All at once (no pacing horizon): these tests count results pages per planned batch,
    and pacing may cut a first batch to learn a sender's pace."""
    kw.setdefault("horizon", None)
    return support.opts(**kw)


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
