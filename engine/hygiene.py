"""The hygiene stage: a block of raw rows in, the messages to send out (pure).

Per block, in order: normalise numbers to E.164, render and check texts,
drop opted-out and suppressed numbers, drop duplicates (first occurrence
wins, so only rows that will really be sent are remembered), and size every
message for the chunker. Every dropped row keeps its line and a reason.

In replay mode (`skip=` the lines dropped when the batch was planned) the
same block is rebuilt into the same messages without touching the dedupe
state, which is how a planned batch is rebuilt from its byte range.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

import orjson

from .chunker import message_sizes
from .numberset import NumberSet, Seen
from .phones import Normalizer
from .reader import RowBlock
from .report import DroppedRow
from .segments import MAX_TEXT_CHARS, find_shortener, segments, segments_many
from .templates import BoundTemplate

__all__ = ["CleanBlock", "Hygiene"]


@dataclass(slots=True)
class CleanBlock:
    lines: list[int]
    numbers: list[str]
    texts: list[bytes | None] | None  # JSON-encoded own text per message; None: the default
    sizes: list[int]
    segments: int
    dropped: list[DroppedRow]
    kinds: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class Blocklist:
    numbers: NumberSet
    kind: str  # "opted_out" | "suppressed"
    reason: str


class Hygiene:
    """Cleans blocks whose columns are `[to, text?, *template fields]`."""

    def __init__(
        self,
        *,
        normalizer: Normalizer,
        default_text: str | None,
        template: BoundTemplate | None,
        has_text_column: bool,
        seen: Seen | None,
        blocklists: Sequence[Blocklist] = (),
        empty_variables: str = "drop",
        max_message_size: int,
    ) -> None:
        self.normalizer = normalizer
        self.default_text = default_text
        self.template = template
        self.has_text_column = has_text_column
        self.seen = seen
        self.blocklists = blocklists
        self.empty_variables = empty_variables
        self.max_message_size = max_message_size
        self._default_segments = segments(default_text) if default_text else 0
        self.shortener: str | None = None
        if default_text and template is None:
            self.shortener = find_shortener(default_text)

    def clean(self, block: RowBlock, *, skip: Collection[int] | None = None) -> CleanBlock:
        lines = block.lines
        cols = block.columns
        dropped = [DroppedRow(ln, raw, f"malformed row: {why}") for ln, raw, why in block.bad]
        kinds: Counter[str] = Counter(invalid=len(dropped))
        if skip:
            keep = [i for i, ln in enumerate(lines) if ln not in skip]
            if len(keep) != len(lines):
                lines = [lines[i] for i in keep]
                cols = [[c[i] for i in keep] for c in cols]
        numbers, bad = self.normalizer.normalize(cols[0])
        drop: dict[int, tuple[str, str]] = {
            i: ("invalid", f"invalid number: {why}") for i, why in bad.items()
        }
        texts, plain = self._texts(cols, drop)
        if skip is None:
            for bl in self.blocklists:
                for i in bl.numbers.indices(numbers):
                    drop.setdefault(i, (bl.kind, bl.reason))
        if drop:
            keep = [i for i in range(len(numbers)) if i not in drop]
            for i in sorted(drop):
                kind, why = drop[i]
                kinds[kind] += 1
                dropped.append(DroppedRow(lines[i], cols[0][i], why))
            lines = [lines[i] for i in keep]
            raw_to = [cols[0][i] for i in keep]
            numbers = [numbers[i] for i in keep]
            if texts is not None:
                texts = [texts[i] for i in keep]
                plain = [plain[i] for i in keep]
        else:
            raw_to = cols[0]
        if self.seen is not None and skip is None and numbers:
            dups = self.seen.check(numbers, lines)
            if dups:
                kinds["duplicates"] += len(dups)
                for i, first in sorted(dups.items()):
                    dropped.append(DroppedRow(lines[i], raw_to[i], f"duplicate of line {first}"))
                keep = [i for i in range(len(numbers)) if i not in dups]
                lines = [lines[i] for i in keep]
                numbers = [numbers[i] for i in keep]
                if texts is not None:
                    texts = [texts[i] for i in keep]
                    plain = [plain[i] for i in keep]
        sizes = message_sizes(numbers, texts)
        if sizes and max(sizes) > self.max_message_size:
            big = {i for i, s in enumerate(sizes) if s > self.max_message_size}
            kinds["too_long"] += len(big)
            for i in sorted(big):
                dropped.append(DroppedRow(lines[i], numbers[i], "message too large for the batch size limit"))
            keep = [i for i in range(len(numbers)) if i not in big]
            lines = [lines[i] for i in keep]
            numbers = [numbers[i] for i in keep]
            sizes = [sizes[i] for i in keep]
            if texts is not None:
                texts = [texts[i] for i in keep]
                plain = [plain[i] for i in keep]
        if texts is None:
            segs = self._default_segments * len(numbers)
        else:
            own = [p for p in plain if p is not None]
            segs = segments_many(own) + self._default_segments * (len(plain) - len(own))
        if dropped:
            dropped.sort()
        return CleanBlock(lines, numbers, texts, sizes, segs, dropped, kinds)

    def _texts(
        self, cols: list[list[str]], drop: dict[int, tuple[str, str]]
    ) -> tuple[list[bytes | None] | None, list[str | None]]:
        """Per-message texts (JSON bytes, None for the default) and their plain form."""
        n = len(cols[0])
        field_start = 2 if self.has_text_column else 1
        if self.template is None and not self.has_text_column:
            return None, []
        plain: list[str | None]
        if self.template is not None:
            rows = list(zip(*cols[field_start:], strict=True)) if len(cols) > field_start else [()] * n
            plain = list(self.template.render_many(rows))
            if self.empty_variables == "drop":
                for i, row in enumerate(rows):
                    if "" in row or any(not v.strip() for v in row):
                        empty = self.template.empty_fields(row)
                        if empty:
                            drop.setdefault(i, ("invalid", f"empty value for {{{empty[0]}}}"))
        else:
            plain = [None] * n
        if self.has_text_column:
            own_col = cols[1]
            for i, own in enumerate(own_col):
                if own:
                    plain[i] = own
        for i, text in enumerate(plain):
            if text is None:
                if self.default_text is None:
                    drop.setdefault(i, ("invalid", "no text (empty text column and no default)"))
            elif len(text) > MAX_TEXT_CHARS:
                drop.setdefault(
                    i, ("too_long", f"text longer than {MAX_TEXT_CHARS} characters ({len(text)})")
                )
            elif text == self.default_text:
                plain[i] = None
        if self.shortener is None:
            for text in plain:
                if text is not None and (hit := find_shortener(text)):
                    self.shortener = hit
                    break
        return [None if t is None else orjson.dumps(t) for t in plain], plain
