"""Request bodies of `POST /a2p-sms/batches` turned into compact columns.

`parse_batch` returns a `BatchRequest`: recipients as one int64 array (the
E.164 digits; 0 where invalid), per-message texts as one UTF-8 blob plus
offsets. No dict per message survives parsing. The generic path here uses
orjson; `fastparse` handles the common shapes of large bodies with numpy and
falls back to this one for anything else, so both always agree.

Validation decisions (the spec leaves them open; documented in `app`):
- not JSON, or a field of the wrong type: 400 CMN-104;
- `from` or `messages` missing: 400 CMN-101 naming it; `messages` empty: 400
  CMN-101 [messages];
- top-level `text` over 1000 characters: 400 CMN-101 [text];
- no top-level text and a message without its own: 400 CMN-101 [text]
  (an empty string counts as no text);
- a `to` that is not a list of exactly one E.164 string: that message is
  rejected (SMS-RC-410), the rest of the batch goes on;
- a message's own text over 1000 characters: that message is rejected
  (CMN-101), the rest of the batch goes on.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from .numbers import e164_column, e164_to_int
from .responses import ApiError

__all__ = [
    "MAX_TEXT_CHARS",
    "BatchRequest",
    "TextColumn",
    "e164_to_int",
    "no_gc",
    "parse_batch",
]

MAX_TEXT_CHARS = 1000


@dataclass(slots=True)
class TextColumn:
    """Texts `blob[offsets[i]:offsets[i + 1]]`; an empty span means "the default"."""

    blob: bytes
    offsets: npt.NDArray[np.int64]

    def text(self, i: int) -> str:
        return self.blob[self.offsets[i]:self.offsets[i + 1]].decode("utf-8")

    def char_counts(self) -> npt.NDArray[np.int64]:
        lengths = np.diff(self.offsets)
        if self.blob.isascii():
            return lengths
        # Characters are the UTF-8 bytes that are not continuation bytes.
        data = np.frombuffer(self.blob, dtype=np.uint8)
        cont = ((data & 0xC0) == 0x80).view(np.int8)
        padded = np.append(cont, np.int8(0))
        sums = np.add.reduceat(padded, self.offsets[:-1], dtype=np.int64)
        sums[lengths == 0] = 0
        return lengths - sums


@dataclass(slots=True)
class BatchRequest:
    """A parsed, shape-checked batch body (before sender and recipient checks)."""

    sender: str
    text: str | None
    numbers: npt.NDArray[np.int64]
    # (0-based index, the `to` value as sent) of messages with an invalid `to`.
    invalid: list[tuple[int, Any]] = field(default_factory=list)
    texts: TextColumn | None = None

    @property
    def count(self) -> int:
        return len(self.numbers)

    def overlong(self) -> npt.NDArray[np.intp]:
        """0-based indexes of messages whose own text exceeds 1000 characters."""
        if self.texts is None:
            return np.empty(0, dtype=np.intp)
        if len(self.texts.blob) <= MAX_TEXT_CHARS:
            return np.empty(0, dtype=np.intp)
        return np.flatnonzero(self.texts.char_counts() > MAX_TEXT_CHARS)

    def check_texts(self) -> None:
        """400 CMN-101 [text] for an overlong default or a message without any text."""
        if self.text is not None and len(self.text) > MAX_TEXT_CHARS:
            raise ApiError.invalid_parameter("text")
        if self.text is None and (
            self.texts is None or bool(np.any(self.texts.offsets[1:] == self.texts.offsets[:-1]))
        ):
            raise ApiError.invalid_parameter("text")


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic GC: millions of fresh containers would trigger it ~1000 times."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_batch(body: bytes) -> BatchRequest:
    """Parse any valid body with orjson (the reference path; see `fastparse`)."""
    with no_gc():
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ApiError.cannot_parse() from None
        return _from_document(doc)


def _from_document(doc: Any) -> BatchRequest:
    if not isinstance(doc, dict):
        raise ApiError.cannot_parse()
    if "from" not in doc:
        raise ApiError.invalid_parameter("from")
    if "messages" not in doc:
        raise ApiError.invalid_parameter("messages")
    sender, text, messages = doc["from"], doc.get("text"), doc["messages"]
    if not isinstance(sender, str) or not isinstance(messages, list):
        raise ApiError.cannot_parse()
    if text is not None and not isinstance(text, str):
        raise ApiError.cannot_parse()
    if not messages:
        raise ApiError.invalid_parameter("messages")
    # Column by column with comprehensions: far cheaper than a loop per message.
    if not all(type(m) is dict for m in messages):
        raise ApiError.cannot_parse()
    tos = [m.get("to") for m in messages]
    firsts = [to[0] if type(to) is list and len(to) == 1 and type(to[0]) is str else ""
              for to in tos]
    numbers = e164_column(firsts)
    invalid: list[tuple[int, Any]] = [(i, tos[i]) for i in np.flatnonzero(numbers == 0).tolist()]
    return BatchRequest(sender=sender, text=text or None, numbers=numbers, invalid=invalid,
                        texts=_own_texts([m.get("text") for m in messages]))


def _own_texts(own: list[Any]) -> TextColumn | None:
    if not any(own):
        if not all(t is None or type(t) is str for t in own):
            raise ApiError.cannot_parse()
        return None
    if not all(t is None or type(t) is str for t in own):
        raise ApiError.cannot_parse()
    texts = [t or "" for t in own]
    joined = "".join(texts)
    blob = joined.encode("utf-8")
    sizes = map(len, texts) if len(blob) == len(joined) else (len(t.encode()) for t in texts)
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(sizes, dtype=np.int64, count=len(texts)), out=offsets[1:])
    return TextColumn(blob, offsets)
