"""What recipients will receive: sample messages described, and opt-out wording (pure).

The plan shows the first few messages as they will be sent, each with its
length, encoding and segments, and for UCS-2 the characters that forced it
(so a stray curly quote or emoji is easy to find). Carriers expect marketing
texts to say how to opt out ("Reply STOP to opt out"): a job whose messages
never do gets a warning, not an error (transactional texts need not).
"""

from __future__ import annotations

import re
from typing import Any, Final

from .segments import GSM7_BASIC, GSM7_EXTENSION, encoding, segments

__all__ = ["OPT_OUT_WARNING", "describe", "has_opt_out_wording", "ucs2_chars"]

_GSM7: Final = frozenset(GSM7_BASIC + GSM7_EXTENSION)
# The carriers' standard opt-out keywords (CTIA), and the usual phrasings.
_OPT_OUT: Final = re.compile(
    r"\b(stop|stopall|unsubscribe|cancel|quit|opt[\s-]?out)\b", re.IGNORECASE)
OPT_OUT_WARNING: Final = (
    "the messages say nothing about opting out (e.g. 'Reply STOP to opt out'); carriers "
    "expect it in marketing texts and may filter those without it"
)


def ucs2_chars(text: str) -> str:
    """The distinct characters of `text` outside GSM-7, in order of appearance."""
    return "".join(dict.fromkeys(c for c in text if c not in _GSM7))


def has_opt_out_wording(text: str) -> bool:
    return _OPT_OUT.search(text) is not None


def describe(line: int, to: str, text: str) -> dict[str, Any]:
    """A preview entry: the message and what it costs to send."""
    enc = encoding(text)
    return {
        "line": line, "to": to, "text": text, "length": len(text), "encoding": enc,
        "segments": segments(text), "ucs2_chars": ucs2_chars(text) if enc == "UCS-2" else "",
    }
