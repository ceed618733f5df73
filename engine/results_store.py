"""Delivery results in the job's journal: the pages fetched per batch, and every
message that was not delivered.

The tables were added without a schema version bump: created on open when
missing, so a journal of an earlier hvsms still opens and one with results
still opens in an earlier hvsms (which ignores them). `result_batches`: per
batch, the pages fetched so far and where to go on; `results`: every message
not delivered (failed or still pending), with its CSV line once the batch's
pages are all in (0 until then).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from .codes import PENDING_CODES

__all__ = ["FAILED_STATUSES", "RESULTS_SCHEMA", "ResultState", "ResultsStore"]

RESULTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS result_batches (
    seq INTEGER PRIMARY KEY, pages INTEGER NOT NULL, next_token TEXT,
    complete INTEGER NOT NULL, resolved INTEGER NOT NULL, delivered INTEGER NOT NULL,
    failed INTEGER NOT NULL, pending INTEGER NOT NULL, updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    seq INTEGER NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL,
    error_code TEXT NOT NULL, line INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS results_by_seq ON results (seq);
CREATE INDEX IF NOT EXISTS results_by_line ON results (line);
"""

FAILED_STATUSES = ("DeliveryFailed", "SendingFailed")


@dataclass(slots=True)
class ResultState:
    """How far fetching a batch's delivery results got."""

    seq: int
    pages: int = 0
    next_token: str | None = None
    complete: bool = False
    resolved: bool = False
    delivered: int = 0
    failed: int = 0
    pending: int = 0


class ResultsStore:
    """The results tables of one journal's connection (`Journal` delegates to it)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def states(self) -> dict[int, ResultState]:
        try:
            cur = self._db.execute(
                "SELECT seq, pages, next_token, complete, resolved, delivered, failed, pending "
                "FROM result_batches"
            )
            return {row[0]: ResultState(row[0], row[1], row[2], bool(row[3]), bool(row[4]),
                                        *row[5:]) for row in cur}
        except sqlite3.OperationalError:  # a read-only journal of an earlier hvsms
            return {}

    def add_page(
        self, state: ResultState, rows: Iterable[tuple[str, str, str]], *,
        delivered: int, failed: int, pending: int, next_token: str | None,
    ) -> None:
        """Record one fetched page (its undelivered messages) and where the next starts."""
        state.pages += 1
        state.next_token = next_token
        state.complete = next_token is None
        state.delivered += delivered
        state.failed += failed
        state.pending += pending
        with self._db:
            self._db.executemany(
                "INSERT INTO results (seq, recipient, status, error_code) VALUES (?, ?, ?, ?)",
                ((state.seq, *row) for row in rows),
            )
            self._db.execute(
                "INSERT OR REPLACE INTO result_batches VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
                (state.seq, state.pages, next_token, int(state.complete), state.delivered,
                 state.failed, state.pending, time.time()),
            )

    def restart(self, seq: int) -> ResultState:
        """Forget a batch's results (to fetch them again from the first page)."""
        with self._db:
            self._db.execute("DELETE FROM results WHERE seq = ?", (seq,))
            self._db.execute("DELETE FROM result_batches WHERE seq = ?", (seq,))
        return ResultState(seq)

    def unresolved(self, seq: int, *, after: int = 0, limit: int = -1) -> list[tuple[int, str]]:
        """(rowid, recipient) of the batch's results not yet mapped to a CSV line,
        from rowid `after` on, at most `limit` of them (-1: all)."""
        cur = self._db.execute(
            "SELECT rowid, recipient FROM results WHERE seq = ? AND line = 0 AND rowid > ? "
            "ORDER BY rowid LIMIT ?", (seq, after, limit),
        )
        return [(row[0], row[1]) for row in cur]

    def resolve(self, state: ResultState, lines: Iterable[tuple[int, int]], *,
                done: bool = True) -> None:
        """Set the CSV line of results (`(line, rowid)` pairs); `done`: the batch is resolved."""
        with self._db:
            self._db.executemany("UPDATE results SET line = ? WHERE rowid = ?", lines)
            if done:
                self._db.execute("UPDATE result_batches SET resolved = 1 WHERE seq = ?",
                                 (state.seq,))
        state.resolved = state.resolved or done

    def rows(self, *, failed_only: bool = False) -> Iterator[tuple[int, str, str, str, int]]:
        """(line, recipient, status, error_code, seq) in line order; streamed.

        `failed_only`: the failed ones (a failed status without a pending code)."""
        pending = sorted(PENDING_CODES)
        where = (f" WHERE status IN (?, ?) AND error_code NOT IN ({', '.join('?' * len(pending))})"
                 if failed_only else "")
        try:
            cur = self._db.execute(
                f"SELECT line, recipient, status, error_code, seq FROM results{where} "
                "ORDER BY line, rowid", (*FAILED_STATUSES, *pending) if failed_only else (),
            )
        except sqlite3.OperationalError:  # a read-only journal of an earlier hvsms
            return
        yield from cur
