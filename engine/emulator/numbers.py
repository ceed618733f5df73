"""E.164 numbers as int64 digits, parsed with numpy for whole columns at once.

A recipient is stored as the integer of its digits (`+14155550100` ->
14155550100): 8 bytes instead of a ~60-byte Python string, and it sorts and
compares with numpy. 0 stands for "not a valid E.164 number".
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["E164", "e164_column", "e164_spans", "e164_to_int", "word_view"]

E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_PLUS, _ONE, _NINE = ord("+"), ord("1"), ord("9")

Positions = npt.NDArray[np.signedinteger[Any]]


def e164_to_int(number: str) -> int:
    """The digits of a valid E.164 number as an int, 0 if it is not valid."""
    if E164.fullmatch(number):
        return int(number[1:])
    return 0


def word_view(raw: bytes) -> npt.NDArray[np.uint64]:
    """The 8 bytes at every offset of `raw` as one little-endian word.

    Overlapping and unaligned (numpy copes); 8 zero bytes of padding make
    every offset up to `len(raw)` readable.
    """
    padded = raw + bytes(8)
    return np.ndarray(shape=(len(raw) + 1,), dtype="<u8", buffer=padded, strides=(1,))


_ASCII_ZEROS = np.uint64(0x3030303030303030)
_HIGH_NIBBLES = np.uint64(0xF0F0F0F0F0F0F0F0)
_PLUS_SIX = np.uint64(0x0606060606060606)


def _digits8(words: npt.NDArray[np.uint64]) -> tuple[npt.NDArray[np.uint64],
                                                     npt.NDArray[np.bool_]]:
    """Eight ASCII digits per word (first digit in the low byte) as numbers.

    The classic SWAR recipe: pairs, then quads, then the eight combine in
    three multiply-shift-mask steps; a byte is a digit iff its high nibble is
    3 both before and after adding 6.
    """
    ok = ((words & _HIGH_NIBBLES) == _ASCII_ZEROS) & (
        ((words + _PLUS_SIX) & _HIGH_NIBBLES) == _ASCII_ZEROS)
    x = words - _ASCII_ZEROS
    x = (x * np.uint64(10) + (x >> np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
    x = (x * np.uint64(100) + (x >> np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
    x = (x * np.uint64(10000) + (x >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return x, ok


def _left_pad(words: npt.NDArray[np.uint64], count: int) -> npt.NDArray[np.uint64]:
    """Keep the first `count` bytes of each word, behind 8 - count ASCII zeros."""
    if count == 8:
        return words
    shift = np.uint64(8 * (8 - count))
    return (words << shift) | (_ASCII_ZEROS >> np.uint64(8 * count))


def e164_spans(data: npt.NDArray[np.uint8], words: npt.NDArray[np.uint64], starts: Positions,
               ends: Positions) -> npt.NDArray[np.int64]:
    """The numbers in `data[starts[i]:ends[i]]` as int64 digits, 0 where not E.164.

    `words` is `word_view` of the same bytes. Spans are done one length at a
    time: "+" then 7 to 15 digits, read as one or two 8-digit words.
    """
    lengths = ends - starts
    numbers = np.zeros(len(starts), dtype=np.int64)
    present = np.bincount(np.minimum(lengths, 17), minlength=18)  # 17: "longer"
    for length in range(8, 17):
        if not present[length]:
            continue
        group: Positions | slice = (slice(None) if present[length] == len(lengths)
                                    else np.flatnonzero(lengths == length))
        at = starts[group]
        digits = length - 1
        ok = (data[at] == _PLUS) & (data[at + 1] >= _ONE) & (data[at + 1] <= _NINE)
        if digits <= 8:
            value, good = _digits8(_left_pad(words[at + 1], digits))
        else:
            high, good_high = _digits8(_left_pad(words[at + 1], digits - 8))
            low, good = _digits8(words[at + 1 + digits - 8])
            value = high * np.uint64(100_000_000) + low
            good &= good_high
        numbers[group] = np.where(ok & good, value.astype(np.int64), 0)
    return numbers


def e164_column(numbers: list[str]) -> npt.NDArray[np.int64]:
    """Each string's digits if it is valid E.164, else 0 (vectorised when ASCII)."""
    joined = "".join(numbers)
    if not joined.isascii():
        return np.fromiter(map(e164_to_int, numbers), dtype=np.int64, count=len(numbers))
    raw = joined.encode("ascii")
    ends = np.cumsum(np.fromiter(map(len, numbers), dtype=np.int64, count=len(numbers)))
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1]
    return e164_spans(np.frombuffer(raw, dtype=np.uint8), word_view(raw), starts, ends)
