"""`--suppress` lists: a plain do-not-text list, a previous job's journal, or its failed.csv.

From a journal (or the failed.csv written from one), the numbers that failed
for a permanent reason (invalid, landline, opted out: `codes.describe`), the
ones the API rejected as unsupported, and the ones dropped as opted out are
suppressed, each group with its own reason, such as
"failed permanently in job spring.journal: SMS-CAR-411 invalid or landline".
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from pathlib import Path

from .codes import describe
from .errors import InputError, JournalError
from .hygiene import Blocklist
from .journal import Journal
from .numberset import NumberSet, load_suppression
from .phones import Normalizer

__all__ = ["load_suppress", "sniff"]

SQLITE_MAGIC = b"SQLite format 3\x00"
_FAILED_COLUMNS = ("to", "error_code", "permanent")
KIND = "suppressed"


def sniff(path: str) -> str:
    """'journal', 'failed' (an hvsms failed.csv) or 'list'."""
    try:
        with open(path, "rb") as f:
            head = f.read(64 << 10)
    except OSError as e:
        raise InputError(f"cannot read the suppression list: {e.strerror or e}",
                         path=path) from e
    if head.startswith(SQLITE_MAGIC):
        return "journal"
    first = head.split(b"\n", 1)[0].decode("utf-8-sig", "replace").strip()
    names = next(csv.reader([first]), [])
    return "failed" if all(c in names for c in _FAILED_COLUMNS) else "list"


def load_suppress(path: str | os.PathLike[str], normalizer: Normalizer
                  ) -> tuple[list[Blocklist], list[str]]:
    """The blocklists `path` gives, and warnings about values it could not use."""
    where = os.fspath(path)
    kind = sniff(where)
    if kind == "journal":
        return _from_journal(where, normalizer), []
    if kind == "failed":
        return _from_failed_csv(where), []
    numbers, unusable = load_suppression(where, normalizer)
    warnings = [f"{where}:{line}: {value!r} ignored ({why})" for line, value, why in unusable]
    return [Blocklist(numbers, KIND, f"suppressed by {where}")], warnings


def _lists(groups: dict[str, list[str]]) -> list[Blocklist]:
    return [Blocklist(NumberSet.from_numbers(numbers), KIND, reason)
            for reason, numbers in sorted(groups.items()) if numbers]


def _from_journal(path: str, normalizer: Normalizer) -> list[Blocklist]:
    name = Path(path).name
    groups: dict[str, list[str]] = defaultdict(list)
    try:
        journal = Journal.open(path)
    except JournalError as e:
        raise InputError(f"cannot use it as a suppression list: {e}", path=path) from None
    with journal:
        for _, to, _, code, _ in journal.results(failed_only=True):
            info = describe(code)
            if info.permanent:
                groups[f"failed permanently in job {name}: {code} {info.label}"].append(to)
        for row in journal.rejected():
            info = describe(row.error_code)
            if info.permanent:
                groups[f"rejected in job {name}: {row.error_code} {info.label}"].append(row.to)
        opted = [row.value for row, kind in journal.dropped() if kind == "opted_out"]
    if opted:
        numbers, _ = normalizer.normalize(opted)
        groups[f"opted out in job {name}"].extend(n for n in numbers if n)
    return _lists(groups)


def _from_failed_csv(path: str) -> list[Blocklist]:
    name = Path(path).name
    groups: dict[str, list[str]] = defaultdict(list)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            for row in csv.DictReader(f):
                if (row.get("permanent") or "").strip().lower() != "yes":
                    continue
                code = (row.get("error_code") or "").strip()
                label = describe(code).label
                groups[f"failed permanently ({name}): {code} {label}"].append(
                    (row.get("to") or "").strip())
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"cannot read the suppression list: {e}", path=path) from e
    return _lists(groups)
