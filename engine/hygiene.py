"""The hygiene stage: a block of raw rows in, the messages to send out (no I/O).

Not pure: it remembers every number it lets through (`seen`, shared by the
job) to drop later duplicates, and notes the first link shortener it meets.

Per block, in order: normalise numbers to E.164, render and check texts,
drop opted-out and suppressed numbers, drop duplicates (first occurrence
wins, so only rows that will really be sent are remembered), and size every
message for the chunker. Every dropped row keeps its line and a reason.

In replay mode (`skip=` the lines dropped when the batch was planned) the
same block is rebuilt into the same messages without touching the dedupe
state, which is how a planned batch is rebuilt from its byte range.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from itertools import compress

import numpy as np
import numpy.typing as npt

from .chunker import escape_texts, message_sizes
from .numberset import NumberSet, Seen
from .phones import Normalizer
from .reader import RowBlock
from .report import DroppedRow
from .segments import MAX_TEXT_CHARS, find_shortener, segments, segments_many, text_length
from .smartencoding import smarten_many
from .templates import BoundTemplate

__all__ = ["CleanBlock", "Hygiene"]


_NO_SIZES: npt.NDArray[np.int64] = np.zeros(0, np.int64)


@dataclass(slots=True)
class CleanBlock:
    lines: Sequence[int]
    numbers: list[str]
    texts: list[str | None] | None  # own text per message, JSON-escaped; None: the default
    sizes: npt.NDArray[np.int64]
    segments: int
    dropped: list[tuple[DroppedRow, str]]  # each row not sent, with its kind
    kinds: Counter[str] = field(default_factory=Counter)
    plain: list[str | None] | None = None  # own texts as sent, not escaped (None: default)
    smart_changed: int = 0  # messages smart encoding changed
    smart_saved: int = 0  # segments it saved


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
        plus_one_only: bool = True,
        smart_encoding: bool = False,
        default_saved: int = 0,
    ) -> None:
        self.normalizer = normalizer
        self.default_text = default_text
        self.template = template
        self.has_text_column = has_text_column
        self.seen = seen
        self.blocklists = blocklists
        self.empty_variables = empty_variables
        self.max_message_size = max_message_size
        self.plus_one_only = plus_one_only
        # Smart encoding: applied to own texts here, to the default text by the
        # caller once (`default_saved`: segments that saved per message).
        self.smart_encoding = smart_encoding
        self.default_saved = default_saved
        # A template that is blank with empty values ("{first} {last}") can
        # render an empty message, which the API refuses: such rows are dropped.
        self._may_render_blank = template is not None and not template.render(
            [""] * len(template.fields)).strip()
        self._default_segments = segments(default_text) if default_text else 0
        self.shortener: str | None = None
        if default_text and template is None:
            self.shortener = find_shortener(default_text)

    def clean(self, block: RowBlock, *, skip: AbstractSet[int] | None = None) -> CleanBlock:
        dropped = [(DroppedRow(ln, raw, f"malformed row: {why}"), "invalid")
                   for ln, raw, why in block.bad
                   if not skip or ln not in skip]  # replay: already dropped when planned
        kinds: Counter[str] = Counter(invalid=len(dropped))
        rows = _Rows(block.lines, block.columns)
        if skip:
            rows.skip(skip)
        rows.numbers, bad = self.normalizer.normalize(rows.raw_to)
        drop: dict[int, tuple[str, str]] = {
            i: ("invalid", f"invalid number: {why}") for i, why in bad.items()
        }
        if self.plus_one_only:
            drop.update(_outside_plus_one(rows.numbers, drop))
        rows.texts, rows.plain, rows.smart = self._texts(rows.columns, drop, scan=skip is None)
        if skip is None:
            for bl in self.blocklists:
                for i in bl.numbers.indices(rows.numbers):
                    drop.setdefault(i, (bl.kind, bl.reason))
        rows.drop(drop, dropped, kinds, value=rows.raw_to)
        if self.seen is not None and skip is None and rows.numbers:
            dups = self.seen.check(rows.numbers, rows.lines)
            rows.drop({i: ("duplicates", f"duplicate of line {first}")
                       for i, first in dups.items()}, dropped, kinds, value=rows.raw_to)
        if skip is not None:
            # Replay builds bytes only: sizes, segments and checks were done when planned.
            return CleanBlock(rows.lines, rows.numbers, rows.texts, _NO_SIZES, 0, dropped, kinds)
        sizes = message_sizes(rows.numbers, rows.texts)
        if len(sizes) and int(sizes.max()) > self.max_message_size:
            big = {i: ("too_long", "message too large for the batch size limit")
                   for i, s in enumerate(sizes) if s > self.max_message_size}
            rows.drop(big, dropped, kinds, value=rows.numbers)
            sizes = message_sizes(rows.numbers, rows.texts)
        if rows.texts is None:
            segs = self._default_segments * len(rows.numbers)
            defaults = len(rows.numbers)
        else:
            own = [p for p in rows.plain if p is not None]
            defaults = len(rows.plain) - len(own)
            segs = segments_many(own) + self._default_segments * defaults
        if dropped:
            dropped.sort()
        changed = saved = 0
        if rows.smart is not None:  # counted on the rows that are sent
            changed = sum(1 for v in rows.smart if v >= 0)
            saved = sum(v for v in rows.smart if v > 0)
        if self.default_saved:
            changed, saved = changed + defaults, saved + self.default_saved * defaults
        return CleanBlock(rows.lines, rows.numbers, rows.texts, sizes, segs, dropped, kinds,
                          rows.plain if rows.texts is not None else None, changed, saved)

    def _texts(
        self, cols: list[list[str]], drop: dict[int, tuple[str, str]], *, scan: bool = True
    ) -> tuple[list[str | None] | None, list[str | None], list[int] | None]:
        """Per-message texts (JSON-escaped, None for the default), their plain form, and
        the segments smart encoding saved on each (None: it changed nothing)."""
        if self.template is None and not self.has_text_column:
            return None, [], None
        n = len(cols[0])
        plain: list[str | None] = self._render(cols, drop) if self.template else [None] * n
        if self.has_text_column:
            for i, own in enumerate(cols[1]):
                if own and not own.isspace():  # a blank cell has no text of its own
                    plain[i] = own
        if None in plain and self.default_text is None:
            for i, text in enumerate(plain):
                if text is None:
                    drop.setdefault(i, ("empty_text", "no text (empty text column and no default)"))
        smart = None
        if self.smart_encoding:
            result = smarten_many(plain)
            plain, smart = result.texts, result.saved
        # UTF-16 units are at most twice the code points: only longer texts need counting.
        if max(map(len, filter(None, plain)), default=0) > MAX_TEXT_CHARS // 2:
            for i, text in enumerate(plain):
                if text is not None and (n := text_length(text)) > MAX_TEXT_CHARS:
                    drop.setdefault(i, ("too_long",
                                        f"text longer than {MAX_TEXT_CHARS} characters ({n})"))
        if self.default_text is not None and self.default_text in plain:
            plain = [None if t == self.default_text else t for t in plain]
        if scan and self.shortener is None:
            self.shortener = find_shortener("\n".join(filter(None, plain)))
        return escape_texts(plain), plain, smart

    def _render(self, cols: list[list[str]], drop: dict[int, tuple[str, str]]) -> list[str | None]:
        assert self.template is not None
        first = 2 if self.has_text_column else 1
        fields = cols[first:]
        plain: list[str | None] = list(self.template.render_columns(fields))
        if self.empty_variables == "drop":
            for name, col in zip(self.template.fields, fields, strict=True):
                stripped = list(map(str.strip, col))
                if "" in stripped:
                    for i, v in enumerate(stripped):
                        if not v:
                            drop.setdefault(i, ("empty_text", f"empty value for {{{name}}}"))
        if self._may_render_blank:
            for i, text in enumerate(plain):
                if text is not None and not text.strip():
                    drop.setdefault(i, ("empty_text", "empty text (the template rendered nothing)"))
        return plain


OUTSIDE_PLUS_ONE = "outside US/Canada: High Volume SMS serves +1 numbers only"


def _outside_plus_one(numbers: list[str], drop: dict[int, tuple[str, str]]
                      ) -> dict[int, tuple[str, str]]:
    """Rows whose (valid) number is not +1: the service rejects them at submit."""
    joined = "".join(numbers)
    # "+" starts every E.164 number and nothing else: one C-level count each.
    if joined.count("+") == joined.count("+1"):
        return {}
    return {i: ("outside_us_canada", OUTSIDE_PLUS_ONE) for i, n in enumerate(numbers)
            if n and not n.startswith("+1") and i not in drop}


class _Rows:
    """Parallel per-row lists that shrink together as rows are dropped."""

    def __init__(self, lines: Sequence[int], columns: list[list[str]]) -> None:
        self.lines = lines
        self.columns = columns
        self.numbers: list[str] = []
        self.texts: list[str | None] | None = None
        self.plain: list[str | None] = []
        self.smart: list[int] | None = None

    @property
    def raw_to(self) -> list[str]:
        return self.columns[0]

    def skip(self, lines: AbstractSet[int]) -> None:
        """Leave out the rows at these lines (rows are in line order)."""
        mask = bytearray(b"\x01") * len(self.lines)
        n = len(self.lines)
        hit = False
        for line in lines:
            pos = bisect_left(self.lines, line)
            if pos < n and self.lines[pos] == line:
                mask[pos] = 0
                hit = True
        if hit:
            self.keep(mask)

    def keep(self, mask: bytearray) -> None:
        """Keep the rows whose mask byte is non-zero (C-level `compress`, no per-row code)."""
        self.lines = list(compress(self.lines, mask))
        self.columns = [list(compress(c, mask)) for c in self.columns]
        if self.numbers:
            self.numbers = list(compress(self.numbers, mask))
        if self.texts is not None:
            self.texts = list(compress(self.texts, mask))
            self.plain = list(compress(self.plain, mask))
        if self.smart is not None:
            self.smart = list(compress(self.smart, mask))

    def drop(self, drop: dict[int, tuple[str, str]], out: list[tuple[DroppedRow, str]],
             kinds: Counter[str], *, value: list[str]) -> None:
        if not drop:
            return
        mask = bytearray(b"\x01") * len(self.lines)
        for i in sorted(drop):
            kind, why = drop[i]
            kinds[kind] += 1
            out.append((DroppedRow(self.lines[i], value[i], why), kind))
            mask[i] = 0
        self.keep(mask)
