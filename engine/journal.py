"""The job journal: one SQLite file per job (WAL, synchronous=FULL).

It records the job's inputs, every planned batch with its line and byte
range, each state change (intent before a POST, the batch id right after the
answer), and every dropped and rejected row. No secret is ever written here:
the inputs hold the server URL and sender, never credentials or tokens.

The file itself (schema, creation, upgrades) is `journal_file`'s; the tables
of delivery results are `results_store`'s.
"""

from __future__ import annotations

import builtins
import codecs
import contextlib
import hashlib
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from .errors import JournalError
from .journal_file import SCHEMA_VERSION, create_db, open_db
from .live_results import LiveResults
from .lock import JournalLock
from .report import DroppedRow, RejectedRow
from .results_store import FAILED_STATUSES, ResultsStore, ResultState

__all__ = ["FAILED_STATUSES", "SCHEMA_VERSION", "SPLIT_BASE", "BatchRecord", "BatchState",
           "Journal", "ResultState", "fingerprint", "legal"]


class BatchState(StrEnum):
    """Where a batch stands. `submitting` is the intent written before a POST:
    found on resume, it means the outcome is unknown, exactly like `uncertain`.
    `failed` means the server refused the POST (it did not act on it)."""

    PLANNED = "planned"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    UNCERTAIN = "uncertain"
    COMPLETED = "completed"
    FAILED = "failed"
    SPLIT = "split"  # refused as too large (413): its two halves are batches of their own


PLANNED, SUBMITTING, SUBMITTED, UNCERTAIN, COMPLETED, FAILED, SPLIT = BatchState
# Halves of a split batch are numbered from here, apart from the planner's 1, 2, 3...
SPLIT_BASE = 1_000_000_000

# Which state may follow which (a state may always be written again with new
# counts). Anything else is a bug that would corrupt the exactly-once record.
_NEXT: dict[str, frozenset[str]] = {
    PLANNED: frozenset({SUBMITTING}),
    SUBMITTING: frozenset({SUBMITTED, UNCERTAIN, FAILED, SPLIT}),
    UNCERTAIN: frozenset({SUBMITTING, SUBMITTED}),
    FAILED: frozenset({SUBMITTING}),
    SUBMITTED: frozenset({COMPLETED}),
    COMPLETED: frozenset(),
    SPLIT: frozenset(),
}


def legal(old: str, new: str) -> bool:
    """Whether a batch in state `old` may move to `new`."""
    return new == old or new in _NEXT.get(old, frozenset())


# The columns a state change may write, beside `state` itself.
_FIELDS = frozenset({"batch_id", "accepted", "rejected", "processed", "status", "cost",
                     "delivered", "failed", "error_codes", "attempts", "intent",
                     # A batch an opt-out event shrank before it was posted:
                     "messages", "bytes", "first_to", "last_to"})

_INSERT_BATCH = (
    "INSERT INTO batches (seq, start, stop, start_line, first_line, last_line, messages, bytes, "
    "first_to, last_to, state, updated, sender, zone) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


@dataclass(slots=True)
class BatchRecord:
    """A planned batch: its place in the file, and where it stands (the journal's
    `batches` row; `Journal.record` changes both together)."""

    seq: int
    start: int
    stop: int
    start_line: int
    first_line: int
    last_line: int
    messages: int
    bytes: int
    first_to: str
    last_to: str
    state: str = PLANNED
    batch_id: str | None = None
    accepted: int | None = None
    rejected: int | None = None
    processed: int | None = None
    status: str | None = None
    cost: float | None = None
    delivered: int | None = None
    failed: int | None = None
    error_codes: str | None = None
    attempts: int = 0
    intent: float | None = None
    sender: str | None = None  # a sender pool's number; None: the job's only sender
    zone: str | None = None  # quiet hours: the key of its recipients' hours
    # Not journaled: messages encoded while planning (a prefix of the batch),
    # and where the rest starts in the file when the prefix is not all of it.
    hot: list[builtins.bytes] | None = None
    hot_messages: int = 0
    cold_start: tuple[int, int] | None = None  # (byte offset, line)


def fingerprint(path: str, encoding: str = "utf-8") -> tuple[str, bool]:
    """blake2b of the whole file, and whether it looks unreadable anywhere.

    The second value is a cheap whole-file check (decodes, has no NUL byte,
    an even number of quotes) so a bad line near the end stops the job before
    anything is sent; the reader then says exactly where. Run it in a thread.
    """
    h = hashlib.blake2b(digest_size=16)
    decoder = codecs.getincrementaldecoder(encoding)()
    quotes = 0
    bad = False
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
            if not bad:
                quotes += chunk.count(b'"')
                bad = b"\x00" in chunk
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    bad = True
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        bad = True
    return h.hexdigest(), bad or quotes % 2 == 1


class Journal:
    """A job's SQLite journal: its inputs, batches and their states, and the rows
    dropped, rejected and not delivered; the record that makes sending exactly once.

    `own` takes it for a job (exclusively, until `close`); `open` alone only reads
    it, as `hvsms status` does beside a running job. Batch state changes go through
    `record`; delivery results are kept by `results_store` (same file)."""

    def __init__(self, path: str, db: sqlite3.Connection) -> None:
        self.path = path
        self._db = db
        self._lock: JournalLock | None = None
        self.owner: str | None = None  # this process's owner row (`own`)
        self.results_store = ResultsStore(db)
        self.live = LiveResults(db)  # final statuses told by events (`engine.events`)

    def __repr__(self) -> str:
        return f"<Journal {self.path}>"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @classmethod
    def own(cls, path: str, inputs: Callable[[], dict[str, Any]]) -> Journal:
        """Open the journal at `path` for a job, or create it with `inputs()`.

        The lock is taken before looking: of two processes on one path, the
        second gets `JournalLocked` at once, whether or not the file exists yet.
        """
        lock = JournalLock(path)
        lock.acquire()
        try:
            journal = cls.open(path) if os.path.exists(path) else cls.create(path, inputs())
            try:
                lock.pin()
                journal._take(lock)
            except BaseException:
                journal.close()
                raise
        except BaseException:
            lock.release()
            raise
        journal._lock = lock
        return journal

    def _take(self, lock: JournalLock) -> None:
        """Write this process's owner row, under the lock: every later state change
        checks it, so a process that got past the lock is stopped at its next write.
        A journal that may be older than the server is marked `stale` (until its job
        has sent everything): copied or moved from where it was made, or recording
        fewer POSTs than its lock file says were made."""
        self.owner = uuid.uuid4().hex
        self.set_meta("process", self.owner)
        made, here = self.meta("path"), os.path.realpath(self.path)
        posts = int(self.meta("posts") or 0)
        if made is not None and made != here:
            self.set_meta("stale", f"copied or moved from {made}")
        elif lock.posts_before > posts:
            self.set_meta("stale", f"{lock.posts_before} POST(s) made, by its lock file: "
                                   "restored from a backup?")
        self.set_meta("path", here)
        lock.note_posts(posts)

    @classmethod
    def create(cls, path: str, inputs: dict[str, Any]) -> Journal:
        return cls(path, create_db(path, inputs))

    @classmethod
    def open(cls, path: str) -> Journal:
        return cls(path, open_db(path))

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._db.close()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @property
    def inputs(self) -> dict[str, Any]:
        row = self._db.execute("SELECT value FROM meta WHERE key='inputs'").fetchone()
        return dict(json.loads(row[0])) if row else {}

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # batches
    def _insert(self, rec: BatchRecord, *, sender: str | None, zone: str | None) -> None:
        self._db.execute(_INSERT_BATCH, (
            rec.seq, rec.start, rec.stop, rec.start_line, rec.first_line, rec.last_line,
            rec.messages, rec.bytes, rec.first_to, rec.last_to, PLANNED, time.time(), sender,
            zone))

    def add_batch(self, rec: BatchRecord, dropped: Iterable[tuple[DroppedRow, str]]) -> None:
        """Record a planned batch together with the rows dropped in its range."""
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO dropped VALUES (?, ?, ?, ?, ?)",
                ((d.line, d.value, d.reason, kind, rec.seq) for d, kind in dropped),
            )
            self._insert(rec, sender=rec.sender, zone=rec.zone)

    def split(self, rec: BatchRecord, first: BatchRecord, second: BatchRecord) -> None:
        """Replace `rec` by its two halves, in one transaction: they get new numbers,
        and the rows dropped inside `rec` go to the half whose lines hold them."""
        with self._db:
            top = self._db.execute("SELECT max(seq) FROM batches").fetchone()[0] or 0
            first.seq = max(SPLIT_BASE, top + 1)
            second.seq = first.seq + 1
            for half in (first, second):
                self._insert(half, sender=rec.sender, zone=rec.zone)
            self._db.execute("UPDATE dropped SET batch = CASE WHEN line < ? THEN ? ELSE ? END "
                             "WHERE batch = ?", (second.start_line, first.seq, second.seq, rec.seq))
        self.record(rec, state=SPLIT)

    def cut(self, first: BatchRecord, rest: BatchRecord) -> None:
        """Batch `first.seq` becomes its front part `first`; `rest` (a new seq, after
        every planned one) holds the remainder, with the dropped rows in its range."""
        with self._db:
            self._db.execute(
                "UPDATE batches SET stop=?, last_line=?, messages=?, bytes=?, last_to=?, "
                "updated=? WHERE seq=?",
                (first.stop, first.last_line, first.messages, first.bytes, first.last_to,
                 time.time(), first.seq))
            self._insert(rest, sender=rest.sender, zone=rest.zone)
            self._db.execute("UPDATE dropped SET batch=? WHERE batch=? AND line>=?",
                             (rest.seq, first.seq, rest.start_line))

    def next_seq(self) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM batches").fetchone()
        return int(row[0] or 0) + 1

    def add_dropped(self, dropped: Iterable[tuple[DroppedRow, str]]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR IGNORE INTO dropped VALUES (?, ?, ?, ?, 0)",
                ((d.line, d.value, d.reason, kind) for d, kind in dropped),
            )

    def _update(self, seq: int, **fields: Any) -> None:
        """Write a batch's fields; a new `state` must be a legal move from the journaled one."""
        unknown = set(fields) - _FIELDS - {"state"}
        if unknown:
            raise ValueError(f"not a batch field: {sorted(unknown)}")
        posts = None
        with self._db:
            if "state" in fields:
                row = self._db.execute("SELECT state, owner FROM batches WHERE seq=?",
                                       (seq,)).fetchone()
                state = fields["state"]
                if row is None or not legal(row[0], state) or (
                        # The intent of another process stands: only it may renew it.
                        row[0] == state == SUBMITTING and row[1] != self.owner):
                    raise JournalError(f"batch {seq}: illegal state change "
                                       f"{row[0] if row else None} -> {state}")
                self._check_owner()
                if state == SUBMITTING:
                    self._db.execute("UPDATE batches SET owner=? WHERE seq=?", (self.owner, seq))
                    # POSTs made (an intent is written before each): a resume compares it
                    # with what the server lists.
                    posts = self._db.execute(
                        "INSERT INTO meta VALUES ('posts', '1') ON CONFLICT(key) "
                        "DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value"
                    ).fetchone()[0]
            cols = ", ".join(f"{k}=?" for k in fields)  # names checked against _FIELDS
            self._db.execute(
                f"UPDATE batches SET {cols}, updated=? WHERE seq=?",
                (*fields.values(), time.time(), seq),
            )
        if posts is not None and self._lock is not None:
            self._lock.note_posts(int(posts))

    def _check_owner(self) -> None:
        if self.owner is None:
            return
        row = self._db.execute("SELECT value FROM meta WHERE key='process'").fetchone()
        if row is not None and row[0] != self.owner:
            raise JournalError(f"{self.path}: another hvsms process took this journal "
                               "over; this one stops here")

    def record(self, rec: BatchRecord, **fields: Any) -> None:
        """Change a batch in the journal, then the in-memory record to match: one writer."""
        self._update(rec.seq, **fields)
        for name, value in fields.items():
            setattr(rec, name, value)

    def batches(self) -> list[BatchRecord]:
        cur = self._db.execute(
            "SELECT seq, start, stop, start_line, first_line, last_line, messages, bytes, "
            "first_to, last_to, state, batch_id, accepted, rejected, processed, status, cost, "
            "delivered, failed, error_codes, attempts, intent, sender, zone FROM batches "
            "ORDER BY seq"
        )
        return [BatchRecord(*row) for row in cur]  # the first 24 fields, as selected

    def dropped_lines(self, seq: int) -> set[int]:
        """Lines inside batch `seq`'s byte range that are not sent.

        A sender pool's batches overlap (each holds its own sender's rows of a
        range): their dropped rows belong to no batch (0) and count for every
        batch whose lines they fall between."""
        cur = self._db.execute(
            "SELECT line FROM dropped WHERE batch = ?1 OR (batch = 0 AND line BETWEEN "
            "(SELECT start_line FROM batches WHERE seq = ?1) AND "
            "(SELECT last_line FROM batches WHERE seq = ?1))", (seq,))
        return {row[0] for row in cur}

    def dropped(self) -> Iterator[tuple[DroppedRow, str]]:
        for line, value, reason, kind in self._db.execute(
            "SELECT line, value, reason, kind FROM dropped ORDER BY line"
        ):
            yield DroppedRow(line, value, reason), kind

    def add_rejected(self, rows: Iterable[RejectedRow]) -> None:
        with self._db:
            self._db.executemany("INSERT INTO rejected VALUES (?, ?, ?, ?, ?)", rows)

    def rejected(self) -> list[RejectedRow]:
        cur = self._db.execute(
            "SELECT line, recipient, error_code, description, batch_id FROM rejected ORDER BY line"
        )
        return [RejectedRow(*row) for row in cur]

    # delivery results: `ResultsStore`'s, under the names the callers know
    def result_states(self) -> dict[int, ResultState]:
        return self.results_store.states()

    def add_results_page(
        self, state: ResultState, rows: Iterable[tuple[str, str, str]], *,
        delivered: int, failed: int, pending: int, next_token: str | None,
    ) -> None:
        self.results_store.add_page(state, rows, delivered=delivered, failed=failed,
                                    pending=pending, next_token=next_token)

    def restart_results(self, seq: int) -> ResultState:
        return self.results_store.restart(seq)

    def unresolved_results(self, seq: int, *, after: int = 0,
                           limit: int = -1) -> list[tuple[int, str]]:
        return self.results_store.unresolved(seq, after=after, limit=limit)

    def resolve_results(self, state: ResultState, lines: Iterable[tuple[int, int]], *,
                        done: bool = True) -> None:
        self.results_store.resolve(state, lines, done=done)

    def results(self, *, failed_only: bool = False) -> Iterator[tuple[int, str, str, str, int]]:
        return self.results_store.rows(failed_only=failed_only)

    def rejected_by_line(self) -> Iterator[tuple[int, str, str, str, str]]:
        """Like `rejected`, streamed (line, recipient, error_code, description, batch_id)."""
        yield from self._db.execute(
            "SELECT line, recipient, error_code, description, batch_id FROM rejected "
            "ORDER BY line"
        )
