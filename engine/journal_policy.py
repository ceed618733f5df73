"""Where a job's journal lives, whether it may be reused, and whether it is kept.

- a dry run plans into a temporary journal that is always removed;
- without `journal=`, a job's journal is made in the user's state directory
  (`engine.history`) and removed again if nothing was sent;
- an existing journal holds one job: the same settings resume it, others are
  refused (`refuse_other_settings`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shutil
import tempfile
from typing import Any

from .config import JobOptions
from .errors import JournalError
from .history import claim, new_journal_path
from .journal import COMPLETED, PLANNED, SPLIT, Journal
from .report import JobReport
from .senders import ALL

__all__ = ["PLAN_OPTIONS", "JobJournal", "job_done", "journal_differences",
           "refuse_other_settings", "remove_journal"]

log = logging.getLogger("engine.job")

# Options that change what is sent to whom: a journal's job keeps them.
PLAN_OPTIONS = ("to_column", "text_column", "encoding", "max_batch_bytes", "max_batch_messages",
                "region", "validate", "dedupe", "suppress", "fetch_opt_outs", "empty_variables",
                "delimiter", "smart_encoding", "match_area_code", "window", "quiet_hours",
                "rate")


class JobJournal:
    """The journal of one run of a job: opened (and locked) by `open`, then
    `discard`ed when the job was refused or `finish`ed with the job's report."""

    def __init__(self, path: str | None, *, source: str, text: str | None,
                 sender: str | None, options: JobOptions, dry_run: bool,
                 resuming: bool) -> None:
        self.path = path
        self.source, self.text, self.sender, self.options = source, text, sender, options
        self.dry_run = dry_run
        self.resuming = resuming  # the settings are the journal's own
        self.temp_dir: str | None = None
        self.auto = False  # in the state directory, named by the job
        self.new = False

    @property
    def made(self) -> bool:
        """The job made this journal itself (it may remove it)."""
        return self.temp_dir is not None or (self.auto and self.new)

    def open(self) -> Journal:
        path = self.path
        if path is None and self.dry_run:
            self.temp_dir = tempfile.mkdtemp(prefix="hvsms-")
            path = os.path.join(self.temp_dir, "job.journal")
        elif path is None:
            path = new_journal_path(self.source)
            self.auto = True
        self.path = path
        self.new = not os.path.exists(path)
        journal = Journal.own(path, self._inputs)
        if self.new:
            return journal
        try:
            inputs = journal.inputs
            if os.path.abspath(str(inputs.get("source"))) != os.path.abspath(self.source):
                raise JournalError(f"{path} is the journal of {inputs.get('source')}, "
                                   f"not of {self.source}")
            if not self.resuming:
                refuse_other_settings(journal, self.text, self.sender, self.options)
        except JournalError:
            journal.close()
            raise
        return journal

    def _inputs(self) -> dict[str, Any]:
        st = os.stat(self.source)
        return {
            "source": os.path.abspath(self.source),
            "text": self.text,
            "sender": self.sender,
            "options": self.options.to_dict(),
            "size": st.st_size,
            "mtime": st.st_mtime,
            "fingerprint": None,
            "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        }

    def discard(self, report: JobReport, *, declined: bool = False) -> None:
        """A refused job: drop the journal it made itself unless something was sent.
        `declined`: the user said no to the plan; a journal given with --journal that
        this run created goes too (the same command starts afresh)."""
        path = report.journal
        if path is None or not (self.made or (declined and self.new)):
            return
        sent = False
        if os.path.exists(path):
            with Journal.open(path) as journal:  # the job's own is closed by now
                sent = any(b.state != PLANNED for b in journal.batches())
        if sent:
            log.warning("the job's journal is kept at %s", path)
            return
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        else:
            remove_journal(path)
        report.journal = None

    def claim(self, journal: Journal, server: str, *, again: bool, sends: bool,
              report: str | None, record: bool = True) -> None:
        """The repeat guard (`engine.history.claim`) for a new job on a server that
        `sends` (a built-in emulator does not); `record=False` only checks."""
        if self.new and sends:
            claim(fingerprint=str(journal.meta("fingerprint")), text=self.text,
                  sender=str(journal.meta("sender")), server=server, journal=journal.path,
                  report=report, again=again, record=record)

    def drop_if_empty(self, report: JobReport) -> None:
        """Remove a journal this run created that holds no batch (the job never got
        to planning: running the same command again starts it afresh)."""
        path = report.journal
        if path is None or not self.new or not os.path.exists(path):
            return
        with Journal.open(path) as journal:
            if journal.batches():
                return
        remove_journal(path)
        report.journal = None

    def finish(self, report: JobReport) -> None:
        """The job ended: keep its journal where it can still be resumed or refreshed."""
        if report.status == "running":
            report.status = "failed"
        if self.temp_dir is not None:  # a dry run's: a plan is not a job
            shutil.rmtree(self.temp_dir, ignore_errors=True)
            report.journal = None
            return
        if self.auto and report.emulator and report.journal:
            # Its batches ended with the built-in emulator: nothing to resume or guard.
            remove_journal(report.journal)
            report.journal = None
        if report.status == "failed":
            self.discard(report)  # kept only if something was sent
        if report.journal and self.auto and report.status != "completed" \
                and not report.emulator:
            report.message = (report.message + f" (journal kept: {report.journal})").strip()


def remove_journal(path: str) -> None:
    for suffix in ("", "-wal", "-shm", "-lock"):
        with contextlib.suppress(OSError):
            os.unlink(path + suffix)


def refuse_other_settings(
    journal: Journal, text: str | None, sender: str | None, options: JobOptions
) -> None:
    """A journal holds one job: asked to send with other settings, refuse and say which."""
    differences = journal_differences(journal, text, sender, options)
    if differences:
        raise JournalError(
            f"{journal.path} holds a job with other settings; refusing to mix them "
            "(nothing was sent):\n" + "\n".join(f"  {d}" for d in differences)
            + "\n  hint: continue that job as it was with `hvsms resume "
            f"{journal.path}`, or give a new journal for a new job"
        )


def journal_differences(
    journal: Journal, text: str | None, sender: str | None, options: JobOptions
) -> list[str]:
    """What a new call asks for that the journaled job does not do (empty: the same job)."""
    inputs = journal.inputs
    out = []
    if inputs.get("text") != text:
        out.append(f"text: {inputs.get('text')!r} in the journal, {text!r} now")
    was_sender = journal.meta("sender") or inputs.get("sender")
    if sender is not None and sender != ALL and was_sender not in (None, sender):
        out.append(f"sender: {was_sender} in the journal, {sender} now")
    old = dict(inputs.get("options") or {})
    new = options.to_dict()
    for name in PLAN_OPTIONS:
        if name in old and old[name] != new[name]:
            out.append(f"{name}: {old[name]!r} in the journal, {new[name]!r} now")
    return out


def job_done(journal: Journal) -> bool:
    """Every row planned, every batch completed and, where they can still be had, its
    delivery results fetched: nothing is left to do."""
    batches = journal.batches()
    if journal.meta("planned") != "complete" or any(
            b.state not in (COMPLETED, SPLIT) for b in batches):
        return False
    wanted = (journal.inputs.get("options") or {}).get("fetch_delivery", True)
    if not wanted or journal.meta("emulator") == "1":  # a built-in emulator's ended with it
        return True
    states = journal.result_states()
    return all(
        (st := states.get(b.seq)) is not None and st.complete and st.resolved
        for b in batches if b.state == COMPLETED and b.batch_id and b.accepted)
