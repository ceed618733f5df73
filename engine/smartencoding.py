"""Smart encoding: GSM-7 look-alikes for the typographic characters that force UCS-2.

One curly quote, long dash, ellipsis or non-breaking space (what word
processors and spreadsheets put in by themselves) switches a whole message
from GSM-7 to UCS-2: 70 characters a segment instead of 160, so often two or
three times the cost. `smarten` swaps them for their plain look-alikes, and
only when that makes the whole text GSM-7 (and keeps it within the API's
1000 characters): a text with an emoji stays UCS-2 anyway and is left as
written. `REPLACEMENTS` is the table, as data; every replacement is GSM-7
(tests check it against the alphabet in `engine.segments`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from .segments import MAX_TEXT_CHARS, segments, septets

__all__ = ["REPLACEMENTS", "SmartResult", "smarten", "smarten_many"]

REPLACEMENTS: Final[dict[str, str]] = {
    # quotes and apostrophes
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u02bc": "'",
    "\u00b4": "'", "`": "'",  # the backtick is ASCII but not GSM-7
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"',
    "\u2039": "<", "\u203a": ">",
    # dashes and hyphens
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u2022": "-",
    # ellipsis, fraction slash, modifier circumflex and tilde
    "\u2026": "...", "\u2044": "/", "\u02c6": "^", "\u02dc": "~",
    # odd spaces
    "\u00a0": " ", "\u2000": " ", "\u2001": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ",
    "\u2005": " ", "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u205f": " ", "\u3000": " ", "\t": " ",
    # invisible characters: nothing to show, so nothing to send
    "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00ad": "",
    # line and paragraph separators
    "\u2028": "\n", "\u2029": "\n",
}
_TABLE: Final = str.maketrans(REPLACEMENTS)
_SWAPPABLE: Final = re.compile("[" + re.escape("".join(REPLACEMENTS)) + "]")


class SmartResult:
    """Texts after smart encoding and, if any changed, the segments saved on each row
    (-1 where the text was left as it was)."""

    __slots__ = ("saved", "texts")

    def __init__(self, texts: list[str | None], saved: list[int] | None = None) -> None:
        self.texts = texts
        self.saved = saved


def smarten(text: str) -> str:
    """`text` with look-alikes swapped in, if that makes it GSM-7; else `text` as it is."""
    if text.isascii() and "`" not in text and "\t" not in text:
        return text
    out = text.translate(_TABLE)
    if out == text or septets(out) < 0 or len(out) > MAX_TEXT_CHARS:
        return text
    return out


def smarten_many(texts: Sequence[str | None]) -> SmartResult:
    """`smarten` for a block's texts (None: the default text, left alone).

    A block of plain ASCII texts, the usual case, costs one join and one check; a
    block with nothing to swap (accented names, say) one translate more.
    """
    joined = "".join(filter(None, texts))
    out = list(texts)
    if joined.isascii() and "`" not in joined and "\t" not in joined:
        return SmartResult(out)
    if _SWAPPABLE.search(joined) is None:
        return SmartResult(out)  # accents, emoji and the like, but nothing to swap
    saved = [-1] * len(out)
    for i, text in enumerate(texts):
        if text is None:
            continue
        new = smarten(text)
        if new is not text:
            out[i] = new
            saved[i] = segments(text) - segments(new)
    return SmartResult(out, saved if max(saved, default=-1) >= 0 else None)
