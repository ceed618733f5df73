"""Final statuses told by events, in the job's journal, as they arrive.

One row per message id (the API's), so the same event twice, or a message
told by an event and then again, changes nothing. Only failures are kept:
delivered messages are counted by the results pages. The table is created on
the first write, so a journal without events (or of an earlier hvsms) is
untouched. Polling stays the source of truth: the report's `failed` rows come
from the results pages (`results_store`); these rows are what was known
earlier, for a job stopped before its pages were read and for the live hooks.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

__all__ = ["LiveResults"]

LIVE_SCHEMA = """
CREATE TABLE IF NOT EXISTS live_results (
    message_id TEXT PRIMARY KEY, batch_id TEXT NOT NULL, seq INTEGER NOT NULL,
    recipient TEXT NOT NULL, status TEXT NOT NULL, error_code TEXT NOT NULL, at REAL NOT NULL
)
"""


class LiveResults:
    """The `live_results` table of one journal's connection (`Journal.live`)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._ready = False

    def add(self, *, message_id: str, batch_id: str, seq: int, recipient: str, status: str,
            error_code: str) -> bool:
        """Record a message's final failure; False if that message was told before
        with the same status (nothing changes)."""
        with self._db:
            if not self._ready:
                self._db.execute(LIVE_SCHEMA)
                self._ready = True
            row = self._db.execute("SELECT status, error_code FROM live_results "
                                   "WHERE message_id = ?", (message_id,)).fetchone()
            if row == (status, error_code):
                return False
            self._db.execute(
                "INSERT OR REPLACE INTO live_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message_id, batch_id, seq, recipient, status, error_code, time.time()))
        return True

    def rows(self) -> Iterator[tuple[int, str, str, str]]:
        """(seq, recipient, status, error_code) in the order they were told."""
        try:
            cur = self._db.execute(
                "SELECT seq, recipient, status, error_code FROM live_results ORDER BY at, rowid")
        except sqlite3.OperationalError:  # no events were ever applied
            return
        yield from cur
