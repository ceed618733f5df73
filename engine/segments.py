"""SMS sizing: encoding, segment counts, the API's text limit, link shorteners.

Pure functions, called per rendered text, so the common cases avoid Python
per-character work: an ASCII text is checked and counted with two
`bytes.translate` calls (C loops over a 256-byte table).

Segment rules (industry standard; RingCentral does not document them):

* GSM-7 (3GPP TS 23.038 basic set): a basic character is 1 septet, an
  extension-table character (``^ { } \\ [ ~ ] | €`` and form feed) is 2
  (escape + char). 1 segment up to 160 septets, else ``ceil(n / 153)``.
* UCS-2, used as soon as one character is outside GSM-7: counted in UTF-16
  code units (an emoji outside the BMP is 2). 1 segment up to 70 units, else
  ``ceil(n / 67)``.

This is the usual estimate: a phone that refuses to split an escape sequence or
a surrogate pair across two segments can need one more segment in rare cases.
An empty text counts as 1 segment (it would still be one SMS); the pipeline
refuses empty texts before sizing anyway.
"""

from __future__ import annotations

import re
from itertools import compress
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "MAX_TEXT_CHARS",
    "SHORTENER_DOMAINS",
    "encoding",
    "find_shortener",
    "segments",
    "segments_many",
    "septets",
    "text_length",
]

# The API's limit on `text` (`maxLength: 1000`). RingCentral does not say
# whether it counts code points or UTF-16 units (JSON Schema: code points;
# Java and JavaScript servers: UTF-16 units). hvsms counts UTF-16 units
# (`text_length`), never fewer than code points, so no text it lets through
# can be refused either way; an emoji counts 2.
MAX_TEXT_CHARS: Final = 1000


def text_length(text: str) -> int:
    """`text`'s length for the 1000-character limit: UTF-16 code units."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2

# GSM 03.38 default alphabet, basic table (0x1B, the escape to the extension
# table, is not a character one can send, so it is left out).
GSM7_BASIC: Final = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs 2 septets.
GSM7_EXTENSION: Final = "^{}\\[~]|€\f"

_ASCII_BASIC = bytes(c for c in range(128) if chr(c) in GSM7_BASIC)
_ASCII_EXT = bytes(c for c in range(128) if chr(c) in GSM7_EXTENSION)
_ASCII_GSM = _ASCII_BASIC + _ASCII_EXT
_BASIC_LUT = np.zeros(0x10000, bool)
_BASIC_LUT[[ord(c) for c in GSM7_BASIC]] = True
_EXT_LUT = np.zeros(0x10000, bool)
_EXT_LUT[[ord(c) for c in GSM7_EXTENSION]] = True
_NON_GSM = re.compile("[^" + re.escape(GSM7_BASIC + GSM7_EXTENSION) + "]")
_EXT = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")


def _ascii_septets(text: str) -> int:
    """Septets of an ASCII text, or -1 if it needs UCS-2 (a backtick, a control char)."""
    raw = text.encode("ascii")
    if raw.translate(None, _ASCII_GSM):
        return -1
    # What is left after deleting everything but the extension chars is the
    # number of extra septets.
    return len(raw) + len(raw.translate(None, _ASCII_BASIC))


def septets(text: str) -> int:
    """GSM-7 septets needed for `text`, or -1 if it cannot be sent in GSM-7."""
    if text.isascii():
        return _ascii_septets(text)
    if _NON_GSM.search(text):
        return -1
    return len(text) + len(_EXT.findall(text))


def _ucs2_units(text: str) -> int:
    if text.isascii():
        return len(text)
    # UTF-16 code units: BMP chars are 1, the rest (emoji) 2.
    return len(text.encode("utf-16-le", "surrogatepass")) >> 1


def encoding(text: str) -> Literal["GSM-7", "UCS-2"]:
    """The encoding a phone network would use for `text`."""
    return "GSM-7" if septets(text) >= 0 else "UCS-2"


def _count(n: int, single: int, multi: int) -> int:
    if n <= single:
        return 1
    return -(-n // multi)


def segments(text: str) -> int:
    """Number of SMS segments for `text` (see the module doc for the rules)."""
    n = septets(text)
    if n >= 0:
        return 1 if n <= 160 else -(-n // 153)
    return _count(_ucs2_units(text), 70, 67)


def segments_many(texts: list[str]) -> int:
    """Total segments of `texts`.

    ASCII texts (the usual personalised text) are checked together: one
    joined `bytes.translate` decides whether any of them needs more than the
    basic GSM set, and if none does their counts come from the lengths alone,
    vectorised. The other texts are classified character by character in
    numpy (`_segments_each`), not one Python call each.
    """
    if not texts:
        return 0
    if "".join(texts).isascii():
        plain, other = texts, []
    else:
        ascii_flags = [t.isascii() for t in texts]
        plain = list(compress(texts, ascii_flags))
        other = [t for t, a in zip(texts, ascii_flags, strict=True) if not a]
    total = int(_segments_each(other).sum()) if other else 0
    if plain and not "".join(plain).encode("ascii").translate(None, _ASCII_BASIC):
        return total + _gsm_basic_segments(plain)
    return total + sum(map(segments, plain))


def _segments_each(texts: list[str]) -> npt.NDArray[np.int64]:
    """`segments` of each of `texts`, from one array of all their code points."""
    lens = np.fromiter(map(len, texts), np.int64, len(texts))
    if not lens.all():  # an empty text is one segment; reduceat needs no empty runs
        out = np.ones(len(texts), np.int64)
        full = np.flatnonzero(lens)
        out[full] = _segments_each([texts[i] for i in full]) if len(full) else 1
        return out
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32)
    bmp = cps < 0x10000
    at = np.where(bmp, cps, 0)
    starts = np.concatenate(([0], np.cumsum(lens)[:-1]))
    basic = np.add.reduceat((_BASIC_LUT[at] & bmp).astype(np.int64), starts)
    ext = np.add.reduceat((_EXT_LUT[at] & bmp).astype(np.int64), starts)
    astral = np.add.reduceat((~bmp).astype(np.int64), starts)
    gsm = basic + ext == lens
    septets_ = basic + 2 * ext
    units = lens + astral  # UTF-16: a character outside the BMP is two
    return np.where(gsm, np.where(septets_ <= 160, 1, -(-septets_ // 153)),
                    np.where(units <= 70, 1, -(-units // 67)))


def _gsm_basic_segments(texts: list[str]) -> int:
    """Total segments of texts all in the GSM-7 basic set (a septet a character)."""
    lens = np.fromiter(map(len, texts), np.int64, len(texts))
    return int(np.where(lens <= 160, 1, -(-lens // 153)).sum())


# Public link shorteners that carriers filter (SMS-CAR-435). Brand shorteners
# (amzn.to, youtu.be, ...) are left out: they point at one known site.
SHORTENER_DOMAINS: Final = (
    "bit.ly", "bitly.com", "j.mp", "tinyurl.com", "tiny.one", "goo.gl", "t.co",
    "ow.ly", "is.gd", "v.gd", "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at",
    "tiny.cc", "rb.gy", "t.ly", "bl.ink", "s.id", "shorte.st", "adf.ly", "x.co",
    "tr.im", "cli.gs", "soo.gd", "qr.ae", "shorturl.com", "lnkd.in", "db.tt",
    "po.st", "su.pr", "mcaf.ee", "u.to", "clck.ru", "short.gy",
)
# A domain counts when it is a whole host name or the end of one (a subdomain
# such as www.bit.ly): not preceded by a name character or '@' (so "ebit.ly"
# and "me@t.co" do not match), and not followed by more host name ("t.co.uk",
# "t.com"). The scheme and path are optional: a bare "bit.ly/x" counts.
# Searching for an alternation of names is slow (~9 us per text), so a first
# pass looks for ".tld" (a literal '.' lets the regex engine skip ahead) and
# only those few spots are checked against the full names.
_END = r"(?![\w-]|\.[\w-])"
_TLD = re.compile(
    r"\.(?:" + "|".join(sorted({d.rsplit(".", 1)[1] for d in SHORTENER_DOMAINS})) + ")" + _END
)
_DOMAIN = re.compile(
    r"(?<![\w@-])("
    + "|".join(re.escape(d) for d in sorted(SHORTENER_DOMAINS, key=len, reverse=True))
    + r")\Z"
)
_LONGEST = max(map(len, SHORTENER_DOMAINS))


def find_shortener(text: str) -> str | None:
    """The first public link-shortener domain used in `text` (lower case), or None."""
    low = text.lower()
    for m in _TLD.finditer(low):
        end = m.end()
        hit = _DOMAIN.search(low, max(0, end - _LONGEST), end)
        if hit:
            return hit.group(1)
    return None
