"""Preflight: the input file and the text, checked before anything is sent.

It reads the header, finds the columns, binds the template, and (`check`)
refuses a file that cannot be read to its end or that changed since the job
began. Nothing here needs the network.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field

from .config import JobOptions
from .errors import ConfigError, JournalError
from .journal import Journal, fingerprint
from .reader import DELIMITERS, CsvSource, Header
from .segments import MAX_TEXT_CHARS, segments, text_length
from .smartencoding import smarten
from .templates import BoundTemplate, Template

__all__ = ["Prepared", "check", "prepare"]


@dataclass(slots=True)
class Prepared:
    """The input as the job will read it, and the text it sends."""

    source: CsvSource
    header: Header
    default_text: str | None  # None: each row's own text (a column or the template)
    template: BoundTemplate | None
    text_column: int | None
    select: list[int]  # the columns read: recipient, text, template fields
    default_saved: int = 0  # segments smart encoding saved on the default text
    notes: list[str] = field(default_factory=list)  # how the file was read

    @property
    def path(self) -> str:
        return self.source.path

    @property
    def size(self) -> int:
        return os.path.getsize(self.source.path)

    def estimated_rows(self) -> int:
        """About how many rows the file has, from the length of its first ones (the
        same file gives the same estimate: a resumed job shares its pool alike)."""
        start = self.header.data_start
        with open(self.path, "rb") as f:
            f.seek(start)
            sample = f.read(1 << 16)
        lines = sample.count(b"\n") + (not sample.endswith(b"\n") and bool(sample))
        if not lines:
            return 0
        return round((self.size - start) / (len(sample) / lines))

    def no_rows(self) -> bool:
        """True for a header-only file: then not even a login is needed."""
        start = self.header.data_start
        if self.size - start > 4096:
            return False
        with open(self.path, "rb") as f:
            f.seek(start)
            return not f.read().strip()


async def prepare(path: str, text: str | None, opts: JobOptions) -> Prepared:
    """Open `path`, read its header and bind `text` (or the text column) to it."""
    source = CsvSource(path, encoding=opts.encoding, delimiter=opts.delimiter)
    header = await source.header()
    notes = _read_notes(header, source.path)
    to_idx, note = header.recipient(opts.to_column, path=source.path,
                                    usual=opts.to_column == "to")
    if note:
        notes.append(f"{source.path}: {note}")
    default_text, bound, text_idx = _bind(text, header, opts.text_column)
    select = [to_idx] + ([text_idx] if text_idx is not None else [])
    if bound is not None:
        select += list(bound.indexes)
    saved = 0
    if default_text is not None and opts.smart_encoding:
        smart = smarten(default_text)
        saved = segments(default_text) - segments(smart)
        default_text = smart
    return Prepared(source, header, default_text, bound, text_idx, select, saved, notes)


def _bind(text: str | None, header: Header, text_column: str
          ) -> tuple[str | None, BoundTemplate | None, int | None]:
    """The default text, the bound template and the text column's index (pure)."""
    text_idx = header.find(text_column)
    if text is None and text_idx is None:
        raise ConfigError(f"no text: give a default text (--text) or a {text_column!r} column")
    if text is not None and not text.strip():
        raise ConfigError("the text is empty: the API refuses empty messages "
                          "(give the message with --text)")
    default_text, bound = text, None
    if text is not None:
        template = Template(text)
        if template.is_static:
            default_text = template.bind(header.columns).render(())  # unescapes {{ }}
        else:
            bound, default_text = template.bind(header.columns), None
    if default_text is not None and text_length(default_text) > MAX_TEXT_CHARS:
        raise ConfigError(
            f"the default text is {text_length(default_text)} characters; the API's "
            f"limit is {MAX_TEXT_CHARS}")
    return default_text, bound, text_idx


def _read_notes(header: Header, path: str) -> list[str]:
    """Say how the file was read where a spreadsheet export differs from plain CSV."""
    notes = []
    if header.delimiter != ",":
        how = "detected from the header" if header.detected else "--delimiter"
        notes.append(f"{path}: read as {DELIMITERS.get(header.delimiter, 'other')}-separated "
                     f"({how}{'; --delimiter to choose another' if header.detected else ''})")
    if header.cr_only:
        notes.append(f"{path}: old Mac line endings (CR only): each CR read as a new line")
    return notes


async def check(pre: Prepared, journal: Journal) -> None:
    """Before anything is sent: a file that cannot be read anywhere is refused
    (with its line), and one that changed since the job began too."""
    size = pre.size
    digest, suspicious = await asyncio.to_thread(fingerprint, pre.path, pre.source.encoding)
    if suspicious:
        async for _ in pre.source.blocks(pre.header, pre.select):  # InputError with the line
            pass
    recorded = journal.meta("fingerprint")
    if recorded is None:
        journal.set_meta("fingerprint", digest)
        return
    if recorded != digest or journal.inputs.get("size") != size:
        raise JournalError(
            f"{pre.path} changed since the job began (size or content differs); "
            "refusing to resume: nothing was sent")
