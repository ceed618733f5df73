"""`hvsms stop JOURNAL`: ask the process running a job to stop, as Ctrl-C would.

The process is found through the journal's lock (pid and host); it gets
SIGTERM, which the CLI handles like Ctrl-C: no new batches, POSTs in flight
finish, the journal is saved, exit 130. With pacing, at most the horizon of
each sender stays queued on the server; `hvsms resume JOURNAL` carries on.
"""

from __future__ import annotations

import os
import signal
import socket
import time

from .errors import JournalError
from .lock import Holder, JournalLock

__all__ = ["request_stop", "wait_stopped"]


def request_stop(journal: str) -> Holder:
    """Send SIGTERM to the process that holds `journal`; returns who it was."""
    if not os.path.exists(journal):
        raise JournalError(f"{journal}: no such journal")
    holder = JournalLock.holder(journal)
    if holder is None:
        raise JournalError(f"{journal}: no hvsms process is running this job (nothing to stop)")
    if holder.host != socket.gethostname() or holder.pid <= 0:
        raise JournalError(f"{journal}: the job runs as {holder}; stop it on that machine")
    try:
        os.kill(holder.pid, signal.SIGTERM)
    except ProcessLookupError:
        raise JournalError(f"{journal}: process {holder.pid} is gone") from None
    except PermissionError:
        raise JournalError(f"{journal}: not allowed to signal {holder}") from None
    return holder


def wait_stopped(journal: str, timeout: float) -> bool:
    """Wait until nobody holds `journal` (True), or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while JournalLock.holder(journal) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
