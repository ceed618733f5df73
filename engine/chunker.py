"""Packing messages into the fewest request bodies under the limits (pure, no I/O).

A body is `{"from":F[,"text":T],"messages":[M1,M2,...]}` where each message is
`{"to":["N"]}` or `{"to":["N"],"text":"..."}`. Sizes are exact byte counts of
what is sent, so the chunker never has to build a body to know where to cut:
it works on an array of message sizes with numpy's `cumsum` and
`searchsorted`, and the submitter assembles the bytes later with `join`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import orjson

__all__ = [
    "FOOTER",
    "Chunker",
    "Cut",
    "body_header",
    "encode_messages",
    "escape_texts",
    "message_sizes",
]

FOOTER = b"]}"
# What orjson escapes in a string: quote, backslash, control characters.
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')
_TO_ONLY = 12  # len('{"to":["') + len('"]}') + 1 for the comma before it
_WITH_TEXT = 20  # len('{"to":["') + len('"],"text":') + len('}') + 1 comma; + 2 quotes


def body_header(sender: str, text: str | None) -> bytes:
    """The bytes before the first message (`from`, the default `text`)."""
    head: dict[str, str] = {"from": sender}
    if text is not None:
        head["text"] = text
    return orjson.dumps(head)[:-1] + b',"messages":['


def escape_texts(texts: list[str | None]) -> list[str | None]:
    """JSON string contents (no quotes) of `texts`; most need no escaping at all."""
    own = [t for t in texts if t is not None]
    if not _NEEDS_ESCAPE.search("".join(own)):
        return texts
    return [None if t is None else orjson.dumps(t)[1:-1].decode() if _NEEDS_ESCAPE.search(t)
            else t for t in texts]


def message_sizes(
    numbers: Sequence[str], texts: Sequence[str | None] | None
) -> npt.NDArray[np.int64]:
    """Size of each message plus its leading comma; `texts` are escaped, or None.

    Numbers are validated E.164 (ASCII), so their length is their byte count.
    """
    sizes = np.fromiter(map(len, numbers), np.int64, len(numbers))
    if texts is None:
        return sizes + _TO_ONLY
    if None not in texts:
        own: list[str] = texts  # type: ignore[assignment]  # no None in it
        return sizes + _utf8_lengths(own) + (_WITH_TEXT + 2)
    ascii_only = "".join(t for t in texts if t is not None).isascii()
    nbytes = len if ascii_only else _utf8_len
    extra = np.fromiter(
        (_TO_ONLY if t is None else _WITH_TEXT + 2 + nbytes(t) for t in texts),
        np.int64, len(texts),
    )
    return sizes + extra


def _utf8_len(text: str) -> int:
    return len(text.encode())


def _utf8_lengths(texts: list[str]) -> npt.NDArray[np.int64]:
    """The UTF-8 byte length of each of `texts`, without a Python call per text
    when none holds a NUL (the reader refuses NULs): one encode of them joined,
    split where the NULs are."""
    joined = "\x00".join(texts)
    if joined.isascii():
        return np.fromiter(map(len, texts), np.int64, len(texts))
    if joined.count("\x00") != len(texts) - 1:
        return np.fromiter(map(_utf8_len, texts), np.int64, len(texts))
    raw = np.frombuffer(joined.encode(), np.uint8)
    ends = np.append(np.flatnonzero(raw == 0), len(raw))
    return np.diff(ends, prepend=-1).astype(np.int64) - 1


def encode_messages(numbers: Sequence[str], texts: Sequence[str | None] | None) -> bytes:
    """The messages of `numbers`, comma-separated, exactly as `message_sizes` counted."""
    if not numbers:
        return b""
    if texts is None or texts.count(None) == len(texts):
        return ('{"to":["' + '"]},{"to":["'.join(numbers) + '"]}').encode()
    if None not in texts:
        pairs = map('"],"text":"'.join, zip(numbers, texts, strict=True))  # type: ignore[arg-type]
        return ('{"to":["' + '"},{"to":["'.join(pairs) + '"}').encode()
    return ",".join(
        f'{{"to":["{n}"]}}' if t is None else f'{{"to":["{n}"],"text":"{t}"}}'
        for n, t in zip(numbers, texts, strict=True)
    ).encode()


class Chunker:
    """Decides where batches end, given message sizes in file order.

    Greedy in order: a batch is closed when the next message does not fit, so
    every batch but the last is at least `1 - largest_message / max_bytes` full
    (over 99.98% for the default 50 MB limit and 1000-character texts).
    """

    def __init__(self, *, header_size: int, max_bytes: int, max_messages: int | None) -> None:
        self.header_size = header_size
        # +1: the first message of a batch has no comma before it.
        self.room = max_bytes - header_size - len(FOOTER) + 1
        if self.room <= _TO_ONLY + 7:
            raise ValueError("max_bytes leaves no room for a single message")
        self.max_messages = max_messages
        self.used = 0
        self.count = 0

    def fits_alone(self, size: int) -> bool:
        return size <= self.room

    def feed(self, sizes: Sequence[int] | npt.NDArray[np.int64]) -> list[Cut]:
        """Account for the next messages; return the batches they close.

        Every size must satisfy `fits_alone`. A cut at index 0 means the open
        batch was closed before the first of these messages.
        """
        n = len(sizes)
        cum = np.zeros(n + 1, np.int64)
        np.cumsum(sizes, out=cum[1:])
        cuts: list[Cut] = []
        i = 0
        while i < n:
            j = int(np.searchsorted(cum, cum[i] + self.room - self.used, side="right")) - 1
            if self.max_messages is not None:
                j = min(j, i + self.max_messages - self.count)
            if j >= n:
                self.used += int(cum[n] - cum[i])
                self.count += n - i
                break
            if j == i and self.count == 0:
                raise ValueError(f"message of {sizes[i]} bytes does not fit in an empty batch")
            self.used += int(cum[j] - cum[i])
            self.count += j - i
            cuts.append(Cut(j, self.count, self._size()))
            self.used = 0
            self.count = 0
            i = j
        return cuts

    def close(self) -> Cut | None:
        """Close the open batch at the end of the input."""
        if not self.count:
            return None
        cut = Cut(-1, self.count, self._size())
        self.used = 0
        self.count = 0
        return cut

    def _size(self) -> int:
        return self.header_size + self.used - 1 + len(FOOTER)


class Cut(NamedTuple):
    """A closed batch: it ends before message `end`; `messages` of them, `size` bytes."""

    end: int
    messages: int
    size: int
