"""The journal's SQLite file: its schema, and creating, opening and upgrading it.

WAL with synchronous=FULL: a state change is on disk before the next request.
Phone numbers live in the file, so it and its WAL side files are owner-only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from typing import Any

from .errors import JournalError
from .results_store import RESULTS_SCHEMA

__all__ = ["SCHEMA_VERSION", "create_db", "open_db"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY,
    start INTEGER NOT NULL, stop INTEGER NOT NULL, start_line INTEGER NOT NULL,
    first_line INTEGER NOT NULL, last_line INTEGER NOT NULL,
    messages INTEGER NOT NULL, bytes INTEGER NOT NULL,
    first_to TEXT NOT NULL, last_to TEXT NOT NULL,
    state TEXT NOT NULL, batch_id TEXT, accepted INTEGER, rejected INTEGER,
    processed INTEGER, status TEXT, cost REAL, delivered INTEGER, failed INTEGER,
    error_codes TEXT, attempts INTEGER NOT NULL DEFAULT 0, updated REAL NOT NULL,
    intent REAL,  -- wall-clock time of the last POST's intent
    sender TEXT,  -- the batch's own sender (a pool's); NULL: the job's sender
    zone TEXT,  -- the hours its recipients may be reached (engine.quiet_hours key)
    owner TEXT  -- the process (meta 'process') that wrote its last intent
);
CREATE TABLE IF NOT EXISTS dropped (
    line INTEGER PRIMARY KEY, value TEXT NOT NULL, reason TEXT NOT NULL, kind TEXT NOT NULL,
    batch INTEGER NOT NULL  -- the batch whose byte range holds the line (0: none)
);
CREATE TABLE IF NOT EXISTS rejected (
    line INTEGER NOT NULL, recipient TEXT NOT NULL, error_code TEXT NOT NULL,
    description TEXT NOT NULL, batch_id TEXT NOT NULL
);
"""


def create_db(path: str, inputs: dict[str, Any]) -> sqlite3.Connection:
    """A new journal at `path` holding the job's `inputs`; `JournalError` if one is there."""
    if os.path.exists(path):
        raise JournalError(f"{path}: journal already exists; resume it instead")
    # Built under a temporary name and renamed: a crash never leaves a
    # journal without its schema and inputs.
    tmp = f"{path}.{os.getpid()}.new"
    try:
        # Phone numbers live here: owner-only, including the WAL side files.
        old = os.umask(0o077)
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600))
            db = sqlite3.connect(tmp, isolation_level=None)
            db.executescript(_SCHEMA + RESULTS_SCHEMA)
            with db:
                db.executemany(
                    "INSERT INTO meta VALUES (?, ?)",
                    [("schema_version", str(SCHEMA_VERSION)), ("inputs", json.dumps(inputs)),
                     ("created", str(time.time())),
                     # Where it was made: a copy elsewhere may be older than the server.
                     ("path", os.path.realpath(path))],
                )
            db.close()
            os.replace(tmp, path)
            return _connect(path)
        finally:
            os.umask(old)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise JournalError(f"{path}: cannot create the journal: {exc}") from None


def open_db(path: str) -> sqlite3.Connection:
    """The journal at `path`, upgraded in place; `JournalError` if it is none we can use."""
    if not os.path.exists(path):
        raise JournalError(f"{path}: no such journal")
    try:
        old = os.umask(0o077)
        try:
            db = _connect(path)
        finally:
            os.umask(old)
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    except sqlite3.Error as exc:
        raise JournalError(f"{path}: not an hvsms journal ({exc})") from None
    if row is None:
        raise JournalError(f"{path}: not an hvsms journal (no schema version)")
    if int(row[0]) > SCHEMA_VERSION:
        raise JournalError(
            f"{path}: journal schema version {row[0]} is newer than this hvsms "
            f"understands ({SCHEMA_VERSION}); upgrade hvsms to resume it"
        )
    _upgrade(db)
    with contextlib.suppress(sqlite3.Error):  # a read-only file: read what is there
        db.executescript(RESULTS_SCHEMA)
    return db


def _upgrade(db: sqlite3.Connection) -> None:
    """Columns added since schema 1 (additive: older hvsms still reads the file)."""
    cols = {r[1] for r in db.execute("PRAGMA table_info(batches)")}
    for column, kind in (("intent", "REAL"), ("sender", "TEXT"), ("zone", "TEXT"),
                         ("owner", "TEXT")):
        if column not in cols:
            with db:
                db.execute(f"ALTER TABLE batches ADD COLUMN {column} {kind}")  # names above


def _connect(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.isolation_level = "DEFERRED"
    return db
