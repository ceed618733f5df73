"""One process at a time per journal: an exclusive advisory lock beside it, and
one on the journal file itself.

`flock` on `<journal>-lock` (the journal's real path: a symlink or a relative
path names the same lock), held from the moment a job opens its journal until
it closes it; the kernel releases it when the process dies, so a crash or
`kill -9` never leaves a journal locked. The file is never removed (an unlink
would let two processes lock two different files of the same name); it holds
who has the lock, for the message a second process gets. Once the journal
exists, `pin` also locks the journal's own inode, which a hard link shares.
(SQLite locks with `fcntl`, which `flock` does not touch on Linux.)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
from dataclasses import dataclass

from .errors import JournalLocked

__all__ = ["Holder", "JournalLock", "lock_path"]

# A holder known only by its lock on the journal file itself (it came by a hard link).
LINKED = "another name of the file"


@dataclass(frozen=True, slots=True)
class Holder:
    """The process that holds a journal's lock."""

    pid: int
    host: str
    since: str  # ISO 8601, UTC

    def __str__(self) -> str:
        if self.pid == 0 and self.host == LINKED:
            return "it opened the same file under another name: a hard link"
        return f"pid {self.pid} on {self.host}, since {self.since}"


class JournalLock:
    """The lock of the journal at `journal`; `acquire` raises `JournalLocked` at once."""

    def __init__(self, journal: str) -> None:
        self.journal = journal
        self.path = lock_path(journal)
        self._fd: int | None = None
        self._pin: int | None = None  # the journal file's own descriptor, locked
        self._holder: dict[str, object] = {}
        self.posts_before = 0

    def __repr__(self) -> str:
        return f"<JournalLock {self.path} {'held' if self._fd is not None else 'free'}>"

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        old = os.umask(0o077)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        finally:
            os.umask(old)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise JournalLocked(self.journal, str(holder) if holder else "unknown") from None
        # POSTs the last process recorded here: a journal restored from an older
        # backup records fewer.
        self.posts_before = _posts(fd)
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        self._holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": since,
                        "posts": self.posts_before}
        self._fd = fd
        self._write()

    def note_posts(self, posts: int) -> None:
        """The journal's count of POSTs, kept beside it too (outside any copy of it)."""
        if self._fd is not None:
            self._holder["posts"] = posts
            self._write()

    def _write(self) -> None:
        assert self._fd is not None
        data = json.dumps(self._holder).encode()
        os.pwrite(self._fd, data, 0)
        os.ftruncate(self._fd, len(data))

    def pin(self) -> None:
        """Lock the journal file itself (it exists now): a process that came through
        a hard link, whose `-lock` file is another, is refused here."""
        fd = os.open(self.journal, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalLocked(self.journal, str(Holder(0, LINKED, "unknown"))) from None
        self._pin = fd

    def release(self) -> None:
        pin, self._pin = self._pin, None
        if pin is not None:
            os.close(pin)
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock

    @staticmethod
    def holder(journal: str) -> Holder | None:
        """Who holds the journal's lock now, without waiting; None if nobody does."""
        for path in (lock_path(journal), journal):  # the journal: held through a hard link
            try:
                fd = os.open(path, os.O_RDONLY)
            except OSError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                if path == journal:
                    return Holder(0, LINKED, "unknown")
                return _read(fd) or Holder(0, "unknown", "unknown")
            finally:
                os.close(fd)
        return None


def lock_path(journal: str) -> str:
    """The lock file of the journal at `journal`, by the journal's real path."""
    return f"{os.path.realpath(journal)}-lock"


def _posts(fd: int) -> int:
    try:
        return int(json.loads(os.pread(fd, 4096, 0) or b"{}").get("posts", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def _read(fd: int) -> Holder | None:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"null")
        return Holder(int(data["pid"]), str(data["host"]), str(data["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None
