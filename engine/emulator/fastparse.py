"""A numpy fast path for the usual shapes of large batch bodies.

`parse_fast` handles two shapes, neither with an escape in any string:
- uniform: every message has the same keys in the same order (`to` alone, or
  `to` and `text`) and the same punctuation and whitespace between them (what
  any JSON serialiser writes for a plain or fully personalised batch);
- mixed compact: no whitespace, messages `{"to":[N]}` and `{"to":[N],"text":T}`
  in any mix (what hvsms sends when some rows use the default text).
It works on the positions of the quote characters instead of building Python
objects: a few vectorised passes over arrays of one entry per message.

Correctness rests on one check: the body with all messages but one cut out
(the "reduced" body) is parsed by orjson and must hold exactly one message
with the expected keys; the cut-out messages are verified token by token to
follow the same grammar. Anything else returns None and the caller uses the
orjson path, so both paths always give the same result (property tests in
`tests/emulator/test_parse.py` check this).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from .numbers import e164_spans, word_view
from .parse import BatchRequest, TextColumn, _from_document, no_gc

__all__ = ["MIN_FAST_BYTES", "parse_fast"]

MIN_FAST_BYTES = 64 * 1024
_MESSAGES_KEY = re.compile(rb'"messages"[ \t\r\n]*:')
_WS = b" \t\r\n"

Positions = npt.NDArray[np.signedinteger[Any]]  # int32 or int64 byte offsets


def _strip_ws(token: bytes) -> bytes:
    return token.translate(None, _WS)


class _Body:
    """The body as bytes, numpy views of it, and where its strings are.

    String k spans `[q[2k] + 1, q[2k + 1])`; outside token k (the bytes between
    string k and string k + 1, or the end) spans `[q[2k + 1] + 1, q[2k + 2])`.
    """

    def __init__(self, body: bytes, quotes: Positions) -> None:
        self.raw = body
        self.data = np.frombuffer(body, dtype=np.uint8)
        # One gather of `words` reads a whole short token or 8 digits.
        self.words = word_view(body)
        # Quote positions, then the body's length as the end of the last token;
        # int32 halves the biggest array (bodies are far below 2 GiB).
        self.q: Positions = np.empty(len(quotes) + 1, dtype=np.int32 if len(body) < 2**31 else np.int64)
        self.q[:-1] = quotes
        self.q[-1] = len(body)
        self.count = len(quotes) // 2

    def spans(self, k: Positions) -> tuple[Positions, Positions]:
        return self.q[2 * k] + 1, self.q[2 * k + 1]

    def out_spans(self, k: Positions) -> tuple[Positions, Positions]:
        return self.q[2 * k + 1] + 1, self.q[2 * k + 2]

    def string(self, k: int) -> bytes:
        return self.raw[self.q[2 * k] + 1:self.q[2 * k + 1]]

    def outside(self, k: int) -> bytes:
        return self.raw[self.q[2 * k + 1] + 1:self.q[2 * k + 2]]

    def all_equal(self, starts: Positions, ends: Positions, expected: bytes
                  ) -> npt.NDArray[np.bool_]:
        """For each span, whether its bytes are exactly `expected`."""
        same: npt.NDArray[np.bool_] = (ends - starts) == len(expected)
        for at in range(0, len(expected), 8):
            chunk = expected[at:at + 8]
            mask = np.uint64((1 << (8 * len(chunk))) - 1)
            want = np.uint64(int.from_bytes(chunk, "little"))
            # Past the body's end the padding is read; `same` is False there anyway.
            index = starts + at if at == 0 else np.minimum(starts + at, len(self.data))
            same &= (self.words[index] & mask) == want
        return same


def parse_fast(body: bytes, *, min_size: int = MIN_FAST_BYTES) -> BatchRequest | None:
    """The parsed body, or None when it is not a shape handled here."""
    if len(body) < min_size or b"\\" in body:
        return None
    with no_gc():
        return _parse(body)


@dataclass(slots=True)
class _Shape:
    """Where the recipients and texts are, and the reduced body that vouches for it."""

    to_strings: Positions  # string index of each message's number
    text_strings: Positions | None  # string index of each own text (ascending)
    text_owner: Positions | None  # the message of each of those texts (None: all)
    reduced: bytes  # the body with all messages but one cut out
    keys: list[str]  # the keys the one message left in `reduced` must have


def _parse(body: bytes) -> BatchRequest | None:
    if not body.isascii():
        try:
            body.decode("utf-8")  # the texts are sliced from the body unchecked
        except UnicodeDecodeError:
            return None
    data = np.frombuffer(body, dtype=np.uint8)
    quotes = np.flatnonzero(data == ord('"'))
    if len(quotes) % 2 or len(quotes) < 8:
        return None
    controls = np.flatnonzero(data < 0x20)
    # A raw control character inside a string is invalid JSON: leave it to orjson.
    if len(controls) and np.any(np.searchsorted(quotes, controls, side="right") % 2):
        return None
    keys = list(_MESSAGES_KEY.finditer(body))
    if len(keys) != 1:
        return None
    key = int(np.searchsorted(quotes, keys[0].start())) // 2
    b = _Body(body, quotes)
    del quotes  # _Body keeps a compact copy
    if _strip_ws(b.outside(key)) != b":[{":
        return None
    for find_shape in (_uniform, _mixed):
        shape = find_shape(b, key)
        doc = None if shape is None else _reduced_document(shape)
        if shape is not None and doc is not None:
            break
    else:
        return None
    head = _from_document(doc)  # top-level checks, same errors as the orjson path

    to_starts, to_ends = b.spans(shape.to_strings)
    numbers = e164_spans(b.data, b.words, to_starts, to_ends)
    invalid: list[tuple[int, Any]] = [
        (i, [body[to_starts[i]:to_ends[i]].decode("utf-8")])
        for i in np.flatnonzero(numbers == 0).tolist()
    ]
    texts = None
    if shape.text_strings is not None:
        texts = _texts(b, *b.spans(shape.text_strings), shape.text_owner, len(numbers))
    return BatchRequest(sender=head.sender, text=head.text, numbers=numbers,
                        invalid=invalid, texts=texts)


def _reduced_document(shape: _Shape) -> dict[str, Any] | None:
    """The reduced body parsed, if it holds exactly the one expected message."""
    try:
        doc = orjson.loads(shape.reduced)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
        return None
    messages = doc["messages"]
    if len(messages) != 1 or not isinstance(messages[0], dict):
        return None
    message = messages[0]
    if list(message) != shape.keys:
        return None
    to = message["to"]
    if not (isinstance(to, list) and len(to) == 1 and isinstance(to[0], str)):
        return None
    if "text" in message and not isinstance(message["text"], str):
        return None
    return doc


def _uniform(b: _Body, key: int) -> _Shape | None:
    """Every message alike: same keys, same order, same punctuation (any whitespace)."""
    first = key + 1
    strings = b.count
    # Period: strings per message, up to the first outside token with a "}".
    period = next((j - key for j in range(first, min(first + 5, strings))
                   if b"}" in b.outside(j)), 0)
    if period not in (2, 4):
        return None
    layout = [b.string(first + r) for r in range(0, period, 2)]
    if layout not in ([b"to"], [b"to", b"text"], [b"text", b"to"]):
        return None
    separator = b.outside(first + period - 1)
    if _strip_ws(separator) != (b"]},{" if layout[-1] == b"to" else b"},{"):
        return None

    # n: messages up to the first closing token that is not the separator.
    candidates = (strings - first) // period
    closing = first + period - 1 + period * np.arange(candidates, dtype=np.int64)
    mismatch = np.flatnonzero(~b.all_equal(*b.out_spans(closing), separator))
    if not len(mismatch):
        return None
    n = int(mismatch[0]) + 1
    # The last message must close the array, or this is not the uniform shape
    # (and orjson would be handed most of the body as the "reduced" one).
    closes = b"]}]" if layout[-1] == b"to" else b"}]"
    if not _strip_ws(b.outside(int(closing[n - 1]))).startswith(closes):
        return None
    base = first + period * np.arange(n, dtype=np.int64)
    for r in range(period):
        if r % 2 == 0 and not b.all_equal(*b.spans(base + r), layout[r // 2]).all():
            return None
        if r < period - 1 and not b.all_equal(*b.out_spans(base + r), b.outside(first + r)).all():
            return None

    # The reduced body: message 1, then everything from message n's closing on.
    cut_from = int(b.q[2 * (first + period - 1) + 1]) + 1
    cut_to = int(b.q[2 * int(closing[n - 1]) + 1]) + 1
    text_strings = None
    if b"text" in layout:
        text_strings = base + 2 * layout.index(b"text") + 1
    return _Shape(
        to_strings=base + 2 * layout.index(b"to") + 1,
        text_strings=text_strings,
        text_owner=None,
        reduced=b.raw[:cut_from] + b.raw[cut_to:],
        keys=[k.decode() for k in layout],
    )


# The tokens after each kind of string in a compact body whose messages are
# `{"to":[N]}` or `{"to":[N],"text":T}` in any mix (what hvsms itself sends).
_TO_KEY, _NUMBER_END, _NUMBER_THEN_TEXT, _TEXT_KEY, _TEXT_END, _LAST = 1, 2, 3, 4, 5, 9
_KIND_TOKENS = ((_TO_KEY, b":["), (_NUMBER_END, b"]},{"), (_NUMBER_THEN_TEXT, b"],"),
                (_TEXT_KEY, b":"), (_TEXT_END, b"},{"))
# Which kind may follow which: a deterministic automaton over adjacent pairs.
_FOLLOWS = {
    _TO_KEY: (_NUMBER_END, _NUMBER_THEN_TEXT, _LAST),
    _NUMBER_END: (_TO_KEY,),
    _NUMBER_THEN_TEXT: (_TEXT_KEY,),
    _TEXT_KEY: (_TEXT_END, _LAST),
    _TEXT_END: (_TO_KEY,),
}


def _mixed(b: _Body, key: int) -> _Shape | None:
    """Compact messages with and without their own text, mixed in any order."""
    if b.outside(key) != b":[{":
        return None
    first = key + 1
    index = np.arange(first, b.count, dtype=np.int64)
    starts, ends = b.out_spans(index)
    # One gather for all five tokens (each at most 8 bytes): length and first word.
    lengths = ends - starts
    heads = b.words[starts]
    kinds = np.zeros(len(index), dtype=np.int8)
    for code, token in _KIND_TOKENS:
        mask = np.uint64((1 << (8 * len(token))) - 1)
        want = np.uint64(int.from_bytes(token, "little"))
        kinds[(lengths == len(token)) & ((heads & mask) == want)] = code
    unknown = np.flatnonzero(kinds == 0)
    if not len(unknown):
        return None
    last = int(unknown[0])  # the last string of the last message: the array closes after it
    kinds = kinds[:last + 1]
    closes = b"]}]" if last and kinds[last - 1] == _TO_KEY else b"}]"
    if not b.outside(first + last).startswith(closes):
        return None
    kinds[last] = _LAST
    if kinds[0] != _TO_KEY:
        return None
    before, after = kinds[:-1], kinds[1:]
    for kind, allowed in _FOLLOWS.items():
        if not np.isin(after[before == kind], allowed).all():
            return None
    to_keys = np.flatnonzero(kinds == _TO_KEY) + first
    text_keys = np.flatnonzero(kinds == _TEXT_KEY) + first
    if not (b.all_equal(*b.spans(to_keys), b"to").all()
            and b.all_equal(*b.spans(text_keys), b"text").all()):
        return None
    # Message of each text: how many "to" keys come before it, less one.
    owner = np.searchsorted(to_keys, text_keys) - 1
    last_message = int(to_keys[-1])
    opening = int(b.q[2 * key + 1]) + 4  # just past ':[{' of the messages key
    reduced = b.raw[:opening] + b.raw[int(b.q[2 * last_message]):]
    has_text = len(text_keys) > 0 and int(text_keys[-1]) > last_message
    return _Shape(
        to_strings=to_keys + 1,
        text_strings=text_keys + 1 if len(text_keys) else None,
        text_owner=owner,
        reduced=reduced,
        keys=["to", "text"] if has_text else ["to"],
    )


def _texts(b: _Body, starts: Positions, ends: Positions, owner: Positions | None,
           count: int) -> TextColumn | None:
    """The own texts copied out of the body into one blob, in message order.

    `owner[i]` is the message of span i (None: span i belongs to message i);
    messages without a span, or with an empty one, use the default text.
    """
    lengths = ends - starts
    if not lengths.any():
        return None
    # A byte mask of the text spans, as alternating runs out/in/out/...: one
    # np.repeat (a running sum over the whole body would cost 5 times more).
    bounds = np.empty(2 * len(starts) + 2, dtype=np.int64)
    bounds[0] = 0
    bounds[1:-1:2] = starts
    bounds[2:-1:2] = ends
    bounds[-1] = len(b.data)
    runs = np.zeros(len(bounds) - 1, dtype=np.bool_)
    runs[1::2] = True
    inside = np.repeat(runs, np.diff(bounds))
    blob = b.data[inside].tobytes()
    per_message = lengths if owner is None else np.zeros(count, dtype=np.int64)
    if owner is not None:
        per_message[owner] = lengths
    offsets = np.zeros(count + 1, dtype=np.int64)
    np.cumsum(per_message, out=offsets[1:])
    return TextColumn(blob, offsets)
