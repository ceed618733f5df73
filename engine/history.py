"""Where jobs live when no journal is named, and the repeat guard.

Every job's journal is kept: a named one where the user put it, the others
in the user's state directory (`$HVSMS_STATE_DIR`, else `$XDG_STATE_HOME/hvsms`,
else the platform's equivalent), owner-only. Before a new job sends, it claims
its key (file fingerprint, text, sender, server) in `sent/`; a key claimed by
another job in the last 24 hours refuses the new one unless it is sent again
on purpose. The claim is an exclusive create, so of two processes started at
once with the same command, one sends.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import JournalError, RepeatedJob

__all__ = ["Claim", "claim", "new_journal_path", "state_dir"]

REPEAT_WINDOW = dt.timedelta(hours=24)


def state_dir() -> Path:
    if os.environ.get("HVSMS_STATE_DIR"):
        return Path(os.environ["HVSMS_STATE_DIR"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "hvsms"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home()) / "hvsms"
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "hvsms"


def _private_dir(path: Path) -> Path:
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"{path}: cannot create the directory for job journals: {exc}") from None
    return path


def new_journal_path(source: str, now: dt.datetime | None = None) -> str:
    """A fresh journal path in the state directory, named after the file and the time."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(source).stem)[:40] or "job"
    name = f"{stamp}-{stem}-{secrets.token_hex(3)}.journal"
    return str(_private_dir(state_dir() / "jobs") / name)


@dataclass(frozen=True, slots=True)
class Claim:
    """A job that sent a file: what identifies the send, and where its records are."""

    journal: str
    report: str | None
    started: str  # ISO 8601 UTC
    server: str
    sender: str


def _key(fingerprint: str, text: str | None, sender: str, server: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in (fingerprint, text if text is not None else "\0none", sender, server):
        h.update(part.encode("utf-8", "surrogatepass") + b"\0")
    return h.hexdigest()


def claim(
    *, fingerprint: str, text: str | None, sender: str, server: str, journal: str,
    report: str | None, again: bool, now: dt.datetime | None = None, record: bool = True,
) -> None:
    """Record that `journal` sends this; raise `RepeatedJob` if another job did lately.
    `record=False` only checks (before a plan the user may still decline)."""
    now = now or dt.datetime.now(dt.UTC)
    path = _private_dir(state_dir() / "sent") / f"{_key(fingerprint, text, sender, server)}.json"
    mine = Claim(os.path.abspath(journal), report, now.isoformat(timespec="seconds"),
                 server, sender)
    if not record:
        if path.exists():
            _refuse_repeat(path, mine, now, again)
        return
    data = json.dumps(asdict(mine)).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _refuse_repeat(path, mine, now, again)
        _replace(path, data)
        return
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _refuse_repeat(path: Path, mine: Claim, now: dt.datetime, again: bool) -> None:
    other = _read(path)
    if other is not None and other.journal != mine.journal and not again:
        started = dt.datetime.fromisoformat(other.started)
        if now - started < REPEAT_WINDOW and os.path.exists(other.journal):
            raise RepeatedJob(_refusal(other), journal=other.journal) from None


def _refusal(other: Claim) -> str:
    when = other.started.replace("T", " ").replace("+00:00", " UTC")
    lines = [
        (f"this file was already sent with the same text from {other.sender} via "
         f"{other.server} at {when}; refusing to send it again"),
        f"  that job's journal: {other.journal}",
    ]
    if other.report:
        lines.append(f"  its report: {other.report}")
    lines.append("  hint: to send it again anyway, add --again (library: again=True)")
    return "\n".join(lines)


def _read(path: Path) -> Claim | None:
    try:
        return Claim(**json.loads(path.read_bytes()))
    except (OSError, ValueError, TypeError):
        return None


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    try:
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
