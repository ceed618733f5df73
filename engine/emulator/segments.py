"""SMS segment counts: GSM-7 160/153 septets, otherwise UCS-2 70/67 code units.

RingCentral does not document its rules; this is the industry standard (see
the reference, section 3.4). Extension characters (`^{}\\[~]|€` and form feed)
take two septets. `segment_counts` does a whole batch with numpy and only
falls back to Python for the messages that contain non-ASCII characters.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["segment_count", "segment_counts"]

_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = frozenset("\f^{}\\[~]|€")


def _from_lengths(septets: int | None, ucs2_units: int) -> int:
    if septets is not None:
        return 1 if septets <= 160 else -(-septets // 153)
    return 1 if ucs2_units <= 70 else -(-ucs2_units // 67)


def segment_count(text: str) -> int:
    """Segments of one message (at least 1, even for an empty text)."""
    septets = 0
    for ch in text:
        if ch in _GSM_BASIC:
            septets += 1
        elif ch in _GSM_EXTENDED:
            septets += 2
        else:
            units = len(text.encode("utf-16-le")) // 2
            return _from_lengths(None, units)
    return _from_lengths(septets, 0)


# Per ASCII byte: 0 = not GSM-7, 1 = one septet, 2 = an extension character.
_ASCII_SEPTETS = np.zeros(256, dtype=np.int8)
for _ch in _GSM_BASIC | _GSM_EXTENDED:
    if ord(_ch) < 128:
        _ASCII_SEPTETS[ord(_ch)] = 2 if _ch in _GSM_EXTENDED else 1


_ASCII_GSM_BASIC = bytes(sorted(ord(c) for c in _GSM_BASIC if ord(c) < 128))


def segment_counts(blob: bytes, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """Segments of each UTF-8 text `blob[offsets[i]:offsets[i + 1]]`, vectorised.

    The texts must be contiguous (offsets ascending, the last one `len(blob)`).
    An empty span counts as one segment.
    """
    n = len(offsets) - 1
    out = np.ones(max(n, 0), dtype=np.uint8)
    if n <= 0 or not blob:
        return out
    lengths = np.diff(offsets)
    if not blob.translate(None, _ASCII_GSM_BASIC):
        # Only one-septet characters (the usual case): length is the septet count.
        return np.where(lengths <= 160, 1, -(-lengths // 153)).astype(np.uint8)
    data = np.frombuffer(blob, dtype=np.uint8)
    septet_of = _ASCII_SEPTETS[data]
    septets = _span_sums(septet_of, offsets)
    non_gsm = _span_sums((septet_of == 0).view(np.int8), offsets)
    ascii_gsm = (non_gsm == 0) & (lengths > 0)
    s = septets[ascii_gsm]
    out[ascii_gsm] = np.where(s <= 160, 1, -(-s // 153)).astype(np.uint8)
    rest = np.flatnonzero(non_gsm > 0)
    if len(rest):
        high = _span_sums((data >= 0x80).view(np.int8), offsets)[rest]
        # ASCII-only texts with a non-GSM character (e.g. a backtick): UCS-2.
        idx = rest[high == 0]
        units = lengths[idx]
        out[idx] = np.where(units <= 70, 1, -(-units // 67)).astype(np.uint8)
        for i in rest[high > 0].tolist():
            out[i] = segment_count(blob[offsets[i]:offsets[i + 1]].decode("utf-8"))
    return out


def _span_sums(values: npt.NDArray[np.int8], offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sum of `values` over each contiguous span, without a full-size running total."""
    padded = np.append(values, np.int8(0))  # lets an empty last span index len(values)
    sums = np.add.reduceat(padded, offsets[:-1], dtype=np.int64)
    sums[offsets[:-1] == offsets[1:]] = 0  # reduceat gives values[i] for empty spans
    return sums
