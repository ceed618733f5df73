"""What each sender number sent each day, for every job on this machine.

A daily cap is the number's, not the job's: a job resumed the same day, or a
second job on the same number, must see what the others sent. So the counts
live in the user's state directory (`history.state_dir`), in one small SQLite
file that every hvsms process opens, and a capped job reserves its messages
there, in one transaction, before it posts them (`reserve`): two jobs at once
can never both take the last of a day. A reservation is kept when the process
dies (kill -9), so what is counted is never less than what was sent; a POST
the server refused gives its reservation back (`release`).

Days are UTC days of the job's clock (`day_of`), as the caps are paced.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Self

from .errors import JournalError
from .history import state_dir

__all__ = ["FILE_NAME", "SentCounts", "day_of"]

FILE_NAME = "sent-per-day.db"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS sent (
    number TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (number, day)
)
"""


def day_of(now: float) -> int:
    """The UTC day (days since the epoch) of epoch seconds `now`."""
    return int(now // 86_400)


class SentCounts:
    """The machine's per-number, per-day counts (a context manager; opened lazily)."""

    def __init__(self, path: str | Path | None = None, *, scope: str = "") -> None:
        self.path = Path(path) if path is not None else state_dir() / FILE_NAME
        # Counts are kept per server (`scope`): an emulator's numbers are not the
        # account's, and each emulator run is a server of its own.
        self.scope = scope
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
                # WAL without fsync per commit: a count taken just before a POST must
                # not delay it; a killed process loses nothing the OS was handed.
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise JournalError(f"{self.path}: cannot keep the daily counts: {exc}") from None
            self._db = db
        return self._db

    def _key(self, number: str) -> str:
        return f"{self.scope} {number}" if self.scope else number

    def sent(self, number: str, day: int) -> int:
        row = self._conn().execute("SELECT count FROM sent WHERE number = ? AND day = ?",
                                   (self._key(number), day)).fetchone()
        return int(row[0]) if row else 0

    def reserve(self, number: str, day: int, want: int, cap: int | None,
                shared: tuple[str, int] | None = None) -> int:
        """Count up to `want` messages for `number` on `day`, no more than `cap` in
        all (and, with `shared` = (key, cap), no more than that key's cap, a count
        several numbers share); returns how many were counted (0: used up)."""
        if want <= 0:
            return 0
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")  # one writer at a time, across processes
        try:
            got = want if cap is None else max(0, min(want, cap - self.sent(number, day)))
            if shared is not None:
                got = max(0, min(got, shared[1] - self.sent(shared[0], day)))
            if got:
                for key in (number, *([shared[0]] if shared is not None else [])):
                    db.execute("INSERT INTO sent VALUES (?, ?, ?) ON CONFLICT (number, day) "
                               "DO UPDATE SET count = count + excluded.count",
                               (self._key(key), day, got))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return got

    def add(self, number: str, day: int, count: int) -> None:
        """Count messages sent without a cap (others' caps still see them)."""
        self.reserve(number, day, count, None)

    def release(self, number: str, day: int, count: int,
                shared: tuple[str, int] | None = None) -> None:
        """Give back messages reserved but not sent (the server refused the POST)."""
        if count > 0:
            for key in (number, *([shared[0]] if shared is not None else [])):
                self._conn().execute("UPDATE sent SET count = max(0, count - ?) "
                                     "WHERE number = ? AND day = ?",
                                     (count, self._key(key), day))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
