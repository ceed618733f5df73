"""Phone numbers to E.164, a block of rows at a time, with phonenumbers' answers.

`Normalizer.normalize(values)` takes a whole block (tens of thousands of rows)
and returns the E.164 form of every value plus ``{index: reason}`` for the
values it drops. The cost is in three tiers:

1. A block that is already all E.164 is recognised by a few numpy passes over
   the joined block and returned as is: no per-row Python, no phonenumbers.
   (In the default mode E.164 values are trusted as they are; `strict=True`
   checks them too.)
2. Values made only of digits, one leading ``+`` and the separators
   ``space - . ( ) /`` (national formats such as ``(415) 555-0100``,
   ``1-415-555-0100``, ``+44 20 7946 0958``) are reduced to their digits in
   one pass over the block and looked up in a cache keyed by the digits'
   length and a short prefix. A cache entry is filled by a faithful
   re-implementation of phonenumbers' ``parse`` + ``is_possible_number``
   (+ ``is_valid_number`` in strict mode) that also records how many leading
   digits each of its decisions looked at; an entry is stored under a prefix
   only that long, so every number sharing it provably gets the same answer
   (see `_Probe`). With ``verify=True`` (the default) every new entry is
   also checked against phonenumbers itself on the row that created it.
3. Everything else (letters, other Unicode digits, odd punctuation, very
   short values) goes to phonenumbers directly, one value at a time.

Policy, where phonenumbers would accept more:

* Letters drop the value ("has letters"): vanity numbers such as
  ``1-800-FLOWERS`` (a phone keypad spelling that phonenumbers converts) and
  extensions (``x123``) are not something to send an SMS to, and a letter in
  the number column is more often a data error than a vanity number.
* A number that is only possible as a local number without its area code
  (``555-0100`` in the US; phonenumbers' IS_POSSIBLE_LOCAL_ONLY) is dropped:
  it has no E.164 form.
* The result must itself be E.164 (7 to 15 digits after the ``+``).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

import numpy as np
import phonenumbers
from phonenumbers import (
    COUNTRY_CODE_TO_REGION_CODE,
    NumberParseException,
    PhoneMetadata,
    PhoneNumberFormat,
    ValidationResult,
)

from .errors import ConfigError

__all__ = ["E164", "Normalizer", "e164_mask", "is_e164"]

log = logging.getLogger("engine.phones")

# [0-9], not \d: \d also matches other scripts' digits ("+1٥٥٥...").
E164: Final = re.compile(r"\+[1-9][0-9]{6,14}")


def is_e164(s: str) -> bool:
    """True if `s` is exactly an E.164 number: '+', then 7 to 15 digits, no leading 0."""
    return E164.fullmatch(s) is not None


# --- tier 1: whole-block E.164 check ------------------------------------------------

_NOT_DIGIT = np.ones(256, dtype=bool)
_NOT_DIGIT[ord("0"):ord("9") + 1] = False
_NOT_DIGIT_PLUS_NL = _NOT_DIGIT.copy()
_NOT_DIGIT_PLUS_NL[[ord("+"), ord("\n")]] = False


class _Lines(NamedTuple):
    """A block joined with newlines, as bytes, with where each value starts and ends."""

    raw: np.ndarray  # uint8 view of the joined bytes
    newlines: np.ndarray
    starts: np.ndarray
    lens: np.ndarray


def _lines(data: bytes, n: int) -> _Lines | None:
    if data.count(b"\n") != n - 1:  # a value contains a newline
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    starts = np.empty(n, dtype=np.intp)
    starts[0] = 0
    starts[1:] = newlines + 1
    ends = np.empty(n, dtype=np.intp)
    ends[:-1] = newlines
    ends[-1] = len(raw)
    return _Lines(raw, newlines, starts, ends - starts)


def _first_chars(lines: _Lines, offset: int) -> np.ndarray:
    """Byte `offset` of each line (0 where the line is shorter)."""
    out = np.zeros(len(lines.starts), dtype=np.uint8)
    ok = lines.lens > offset
    out[ok] = lines.raw[lines.starts[ok] + offset]
    return out


def _bad_lines(lines: _Lines, positions: np.ndarray) -> np.ndarray:
    """Line index of each byte position (positions are never newlines)."""
    return np.searchsorted(lines.newlines, positions)


def e164_mask(values: Sequence[str]) -> np.ndarray:
    """numpy bool array: which values match `E164` exactly. No per-row Python."""
    return _e164_scan(values)[0]


def _e164_scan(values: Sequence[str], *, nanp: bool = False) -> tuple[np.ndarray, bytes | None]:
    """`e164_mask` and the newline-joined UTF-8 block it scanned (None if not joinable).

    `nanp`: also require exactly 10 digits after a +1 (a vectorised length test).
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=bool), None
    data = "\n".join(values).encode("utf-8", "surrogatepass")
    lines = _lines(data, n)
    if lines is None:
        ok = np.fromiter((E164.fullmatch(v) is not None for v in values), bool, n)
        if nanp:
            ok &= np.fromiter((not (v.startswith("+1") and len(v) != 12) for v in values), bool, n)
        return ok, None
    ok = (lines.lens >= 8) & (lines.lens <= 16)
    ok &= _first_chars(lines, 0) == ord("+")
    second = _first_chars(lines, 1)
    ok &= (second >= ord("1")) & (second <= ord("9"))
    if nanp:
        ok &= (second != ord("1")) | (lines.lens == 12)
    # bytes.translate finds out in one fast pass whether anything but digits,
    # '+' and newlines is there; only then find where (a slower table lookup).
    if data.translate(None, b"0123456789+\n"):
        ok[_bad_lines(lines, np.flatnonzero(_NOT_DIGIT_PLUS_NL[lines.raw]))] = False
    if data.count(b"+") != n or not ok.all():
        plus = np.flatnonzero(lines.raw == ord("+"))
        line = _bad_lines(lines, plus)
        ok[line[plus != lines.starts[line]]] = False
    return ok, data


# --- regex dependence analysis -------------------------------------------------------
#
# To cache phonenumbers' answer for a number under a prefix of its digits, each
# regex decision must be known to depend only on that prefix. The metadata
# patterns use a small regex subset (literals, classes, \d, groups,
# alternation, bounded repeats, ^ $), so they are walked as an NFA over the
# concrete digit string, recording which positions a character class that is
# not "any digit" was checked at. A \d at position p only needs p < length,
# and the length is part of every cache key.

# CPython's own regex parser: private, so another Python (or a later CPython)
# may lack it; then no pattern is walked and each answer is cached under the
# whole number (slower, the same answers).
try:
    _sre: Any = importlib.import_module("re._parser")
    _C: Any = importlib.import_module("re._constants")
except ImportError:
    _sre = _C = None
_ALL_DIGITS: Final = (1 << 10) - 1
_CAP: Final = 40  # longest digit string the walker follows (inputs are <= 24)


class _Unsupported(Exception):
    pass


def _digit_mask(op: Any, av: Any) -> int:
    """The set of ASCII digits a one-character node accepts, as 10 bits."""
    if op is _C.LITERAL:
        return 1 << (av - 48) if 48 <= av <= 57 else 0
    if op is _C.NOT_LITERAL:
        return _ALL_DIGITS & ~(1 << (av - 48)) if 48 <= av <= 57 else _ALL_DIGITS
    if op is _C.ANY:
        return _ALL_DIGITS
    mask, negate = 0, False
    for o, a in av:
        if o is _C.NEGATE:
            negate = True
        elif o is _C.LITERAL:
            mask |= 1 << (a - 48) if 48 <= a <= 57 else 0
        elif o is _C.RANGE:
            for c in range(max(a[0], 48), min(a[1], 57) + 1):
                mask |= 1 << (c - 48)
        elif o is _C.CATEGORY:
            if a in (_C.CATEGORY_DIGIT, _C.CATEGORY_WORD, _C.CATEGORY_NOT_SPACE):
                mask |= _ALL_DIGITS
            elif a not in (_C.CATEGORY_NOT_DIGIT, _C.CATEGORY_NOT_WORD, _C.CATEGORY_SPACE):
                raise _Unsupported(a)
        else:
            raise _Unsupported(o)
    return _ALL_DIGITS & ~mask if negate else mask


# Compiled node forms: (0, mask) one char; (1, alternatives) branch;
# (2, lo, hi, body) repeat. Groups are inlined, ^ and $ are ignored (they only
# look at the length for digit strings).
_Node = tuple[Any, ...]


def _compile_seq(seq: Any) -> list[_Node]:
    out: list[_Node] = []
    for op, av in seq:
        if op in (_C.LITERAL, _C.NOT_LITERAL, _C.ANY, _C.IN):
            out.append((0, _digit_mask(op, av)))
        elif op is _C.SUBPATTERN:
            out.extend(_compile_seq(av[-1]))
        elif op is _C.BRANCH:
            out.append((1, [_compile_seq(alt) for alt in av[1]]))
        elif op in (_C.MAX_REPEAT, _C.MIN_REPEAT):
            lo, hi, body = av
            out.append((2, lo, min(hi, _CAP + 1), _compile_seq(body)))
        elif op is _C.AT and av in (_C.AT_BEGINNING, _C.AT_BEGINNING_STRING, _C.AT_END,
                                    _C.AT_END_STRING):
            continue
        else:
            raise _Unsupported(op)
    return out


class _Walk:
    """One NFA walk of a pattern over a digit string (as ints).

    States are ``pos << 6 | last``: where a path is, and 1 + the last position
    at which it passed a check that depended on the digit there.
    """

    __slots__ = ("digits", "examined", "n", "violated")

    def __init__(self, digits: list[int]) -> None:
        self.digits = digits
        self.n = len(digits)
        self.examined = 0  # 1 + furthest position any check looked at
        self.violated = 0  # 1 + furthest position where a check failed

    def run(self, seq: list[_Node], states: set[int]) -> set[int]:
        for node in seq:
            if not states:
                break
            kind = node[0]
            if kind == 0:
                states = self._char(node[1], states)
            elif kind == 1:
                merged: set[int] = set()
                for alt in node[1]:
                    merged |= self.run(alt, states)
                states = merged
            else:
                states = self._repeat(node[1], node[2], node[3], states)
        return states

    def _char(self, mask: int, states: set[int]) -> set[int]:
        digits, n = self.digits, self.n
        new: set[int] = set()
        if mask == _ALL_DIGITS:  # \d: only needs the position to exist
            for st in states:
                if st >> 6 < n:
                    new.add(st + 64)
        elif mask:
            for st in states:
                p = st >> 6
                if p < n:
                    self.examined = max(self.examined, p + 1)
                    if mask >> digits[p] & 1:
                        new.add((p + 1) << 6 | (p + 1))
                    else:
                        self.violated = max(self.violated, p + 1)
        return new

    def _repeat(self, lo: int, hi: int, body: list[_Node], states: set[int]) -> set[int]:
        for _ in range(lo):
            states = self.run(body, states)
        # Breadth-first over repetition counts: a state first reached after r
        # repetitions has the most repetitions left, so later arrivals add nothing.
        seen = set(states)
        frontier = states
        reps = lo
        while frontier and reps < hi:
            frontier = self.run(body, frontier) - seen
            seen |= frontier
            reps += 1
        return seen


class _Pattern:
    """A metadata regex, compiled both for `re` and for the dependence walk."""

    __slots__ = ("nodes", "regex")

    def __init__(self, source: str) -> None:
        self.regex = re.compile(source)
        self.nodes: list[_Node] | None = None
        if _sre is not None:
            with contextlib.suppress(_Unsupported):
                self.nodes = _compile_seq(_sre.parse(source))

    def fullmatch(self, s: str) -> tuple[bool, int]:
        """Whether `s` matches, and how many leading digits decide that."""
        hit = self.regex.fullmatch(s) is not None
        if self.nodes is None:
            return hit, len(s)
        walk = _Walk([ord(c) - 48 for c in s])
        ends = [st & 63 for st in walk.run(self.nodes, {0}) if st >> 6 == walk.n]
        if hit != bool(ends):  # the walker disagrees with re: trust nothing
            return hit, len(s)
        # A match holds for every string sharing the digits up to the last
        # check of one accepting path; a miss needs every path's failure seen.
        return hit, (min(ends) if hit else walk.violated)

    def match(self, s: str) -> tuple[re.Match[str] | None, int]:
        """`re.match` at the start, and how many leading digits decide its outcome."""
        m = self.regex.match(s)
        if self.nodes is None:
            return m, len(s)
        walk = _Walk([ord(c) - 48 for c in s])
        walk.run(self.nodes, {0})
        # The engine only ever tries paths the walker follows, so no check it
        # makes looks further than the furthest check of any path.
        return m, walk.examined


_PATTERNS: dict[str, _Pattern] = {}


def _pattern(source: str) -> _Pattern:
    p = _PATTERNS.get(source)
    if p is None:
        p = _PATTERNS[source] = _Pattern(source)
    return p


# --- tier 2: phonenumbers' parse, re-implemented for digit strings --------------------

_TOO_SHORT: Final = ValidationResult.TOO_SHORT
_LOCAL_ONLY: Final = ValidationResult.IS_POSSIBLE_LOCAL_ONLY
_INVALID_LENGTH: Final = ValidationResult.INVALID_LENGTH
_POSSIBLE: Final = ValidationResult.IS_POSSIBLE
_TOO_LONG: Final = ValidationResult.TOO_LONG

_PARSE_REASONS: Final = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}

# A number in the middle of parsing: head + digits[off:], where `head` was
# derived from digits already accounted for (a national-prefix transform).
_Num = tuple[str, int]


class _Fail(Exception):
    def __init__(self, kind: int) -> None:
        self.kind = kind


class _Probe:
    """The digits being parsed, and how many leading digits the answer depends on."""

    __slots__ = ("d", "need")

    def __init__(self, digits: str) -> None:
        self.d = digits
        self.need = 0

    def text(self, x: _Num) -> str:
        return x[0] + self.d[x[1]:]

    def length(self, x: _Num) -> int:
        return len(x[0]) + len(self.d) - x[1]

    def saw(self, x: _Num, k: int) -> None:
        """The decision depended on the first `k` characters of `x`."""
        head, off = x
        if k > len(head):
            self.need = max(self.need, min(len(self.d), off + k - len(head)))

    def cut(self, x: _Num, k: int) -> _Num:
        """`x` without its first `k` characters."""
        head, off = x
        if k <= len(head):
            return head[k:], off
        return "", off + k - len(head)

    def match(self, source: str, x: _Num) -> re.Match[str] | None:
        m, k = _pattern(source).match(self.text(x))
        self.saw(x, k)
        return m

    def full(self, source: str, x: _Num) -> bool:
        hit, k = _pattern(source).fullmatch(self.text(x))
        self.saw(x, k)
        return hit


def _test_length(n: int, md: Any) -> int:
    """phonenumbers' `_test_number_length` for the UNKNOWN type (length only)."""
    gd = md.general_desc
    possible = gd.possible_length
    if n in gd.possible_length_local_only:
        return _LOCAL_ONLY
    if possible[0] == n:
        return _POSSIBLE
    if possible[0] > n:
        return _TOO_SHORT
    if possible[-1] < n:
        return _TOO_LONG
    return _POSSIBLE if n in possible[1:] else _INVALID_LENGTH


def _main_metadata(cc: int) -> Any:
    region = phonenumbers.region_code_for_country_code(cc)
    return PhoneMetadata.metadata_for_region_or_calling_code(cc, region)


def _match_nn(p: _Probe, x: _Num, desc: Any) -> bool:
    if desc is None or not desc.national_number_pattern:
        return False
    return p.full(desc.national_number_pattern, x)


def _matches_desc(p: _Probe, x: _Num, desc: Any) -> bool:
    if desc is None:
        return False
    lengths = desc.possible_length
    if len(lengths) > 0 and p.length(x) not in lengths:
        return False
    return _match_nn(p, x, desc)


def _type_known(p: _Probe, x: _Num, md: Any) -> bool:
    """`_number_type_helper(...) != UNKNOWN`, in phonenumbers' order."""
    if not _matches_desc(p, x, md.general_desc):
        return False
    for desc in (md.premium_rate, md.toll_free, md.shared_cost, md.voip,
                 md.personal_number, md.pager, md.uan, md.voicemail, md.fixed_line):
        if _matches_desc(p, x, desc):
            return True
    return not md.same_mobile_and_fixed_line_pattern and _matches_desc(p, x, md.mobile)


def _is_valid(p: _Probe, cc: int, nsn: _Num) -> bool:
    """phonenumbers' `is_valid_number` for a parsed (cc, national number)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(cc)
    region: str | None = None
    if regions is not None and len(regions) == 1:
        region = regions[0]
    elif regions is not None:
        for rc in regions:
            md = PhoneMetadata.metadata_for_region(rc.upper(), None)
            if md is None:
                continue
            if md.leading_digits is not None:
                if p.match(md.leading_digits, nsn):
                    region = rc
                    break
            elif _type_known(p, nsn, md):
                region = rc
                break
    if region is None:
        return False
    md = PhoneMetadata.metadata_for_region_or_calling_code(cc, region.upper())
    if md is None or (region != "001" and cc != phonenumbers.country_code_for_valid_region(region)):
        return False
    return _type_known(p, nsn, md)


def _strip_national_prefix(p: _Probe, x: _Num, md: Any) -> _Num:
    """`_maybe_strip_national_prefix_carrier_code`, returning only the number."""
    source = md.national_prefix_for_parsing
    if p.length(x) == 0 or not source:
        return x
    m = p.match(source, x)
    if not m:
        return x
    gd = md.general_desc
    viable = _match_nn(p, x, gd)
    groups = m.groups()
    rule = md.national_prefix_transform_rule
    rest = p.cut(x, m.end())
    if not rule or groups[len(groups) - 1] is None:
        if viable and not _match_nn(p, rest, gd):
            return x
        return rest
    # re.sub(pattern, rule, number, count=1) with the match at 0 is exactly this.
    transformed = (m.expand(rule) + rest[0], rest[1])
    if viable and not _match_nn(p, transformed, gd):
        return x
    return transformed


def _country_code(p: _Probe, x: _Num) -> tuple[int, _Num]:
    """`_extract_country_code`: 1 to 3 leading digits that are a calling code."""
    s = p.text(x)
    p.saw(x, 1)
    if not s or s[0] == "0":
        return 0, x
    for i in range(1, min(len(s), 3) + 1):
        p.saw(x, i)
        cc = int(s[:i])
        if cc in COUNTRY_CODE_TO_REGION_CODE:
            return cc, p.cut(x, i)
    return 0, x


def _extract_country_code(p: _Probe, x: _Num, plus: bool, md: Any) -> tuple[int, _Num]:
    """`_maybe_extract_country_code` for a digit string (after a '+' if `plus`)."""
    full = x
    from_default = not plus
    if not plus:
        idd = md.international_prefix
        m = p.match(idd, x) if idd else None
        if m:
            rest = p.cut(x, m.end())
            # Only an IDD if the next digit is not 0 (calling codes never start with 0).
            if p.length(rest) > 0:
                p.saw(rest, 1)
            if p.length(rest) == 0 or p.text(rest)[0] != "0":
                full, from_default = rest, False
    if not from_default:
        if p.length(full) <= 2:
            raise _Fail(NumberParseException.TOO_SHORT_AFTER_IDD)
        cc, rest = _country_code(p, full)
        if cc:
            return cc, rest
        raise _Fail(NumberParseException.INVALID_COUNTRY_CODE)
    ccs = str(md.country_code)
    p.saw(full, len(ccs))
    if p.text(full).startswith(ccs):
        gd = md.general_desc
        potential = _strip_national_prefix(p, p.cut(full, len(ccs)), md)
        if (not _match_nn(p, full, gd) and _match_nn(p, potential, gd)) or _test_length(
            p.length(full), md
        ) == _TOO_LONG:
            return md.country_code, potential
    return 0, ("", 0)


# --- the normaliser ----------------------------------------------------------------

# ok: text is the head of the E.164 result, the rest is canonical[off:];
# not ok: text is the reason.
_Entry = tuple[bool, str, int]

_SEPARATORS: Final = b" -.()/"
_CANON = re.compile(r"\+?[0-9]{3,24}")
_DELETE_SEPARATORS: Final = str.maketrans("", "", _SEPARATORS.decode())
# Any letter in any script (\w minus digits and underscore).
_LETTER = re.compile(r"[^\W\d_]")
# A number a spreadsheet showed in scientific notation ("1.41556E+10") and
# exported that way: the digits past the shown precision are gone for good.
_SCIENTIFIC: Final = re.compile(r"\s*[+-]?[0-9]+(?:[.,][0-9]*)?[eE]\+?[0-9]+\s*")
SCIENTIFIC_REASON: Final = ("in scientific notation: the spreadsheet lost the digits "
                            "(format the column as text and export again)")
_MAX_CANON: Final = 25
# Cache bounds (entries, all tables together; ~120 bytes each): cleared when
# exceeded. Usual data needs tens to thousands of entries.
_MAX_ENTRIES: Final = 100_000
_MAX_SLOW: Final = 20_000
_PAST_END: Final = 1 << 30
# phonenumbers refuses longer input outright (TOO_LONG), separators or not.
_MAX_INPUT: Final = 250


def _verdict(cc: int, e164: str, result: int, valid: Callable[[], bool], *,
             strict: bool) -> str | None:
    """Shared by both tiers: the drop reason for a parsed number, or None to keep it."""
    if result == _LOCAL_ONLY:
        return "local number without area code"
    if result != _POSSIBLE:
        region = phonenumbers.region_code_for_country_code(cc)
        if region == "001":
            return f"not a possible number for +{cc}"
        return f"not a possible number for region {region}"
    if E164.fullmatch(e164) is None:
        return "too long" if len(e164) > 16 else "too short"
    if strict and not valid():
        return "invalid number"
    return None


class Normalizer:
    """Normalises blocks of phone numbers to E.164 for one default region.

    `strict=True` also drops numbers that phonenumbers calls invalid
    (`is_valid_number`: the number matches no known number range), including
    values that are already E.164. `verify=False` skips checking each new
    cache entry against phonenumbers (one extra parse per distinct prefix).
    """

    def __init__(self, region: str = "US", *, strict: bool = False, verify: bool = True) -> None:
        region = region.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(
                f"unknown region {region!r}: use a two-letter ISO country code such as 'US'"
            )
        self.region = region
        self.strict = strict
        self.verify = verify
        self._md: Any = PhoneMetadata.metadata_for_region(region)
        # Per length of the canonical string: (prefix length, {prefix: entry}),
        # shortest prefix first. An entry is valid for every canonical string
        # of that length starting with its prefix.
        self._tables: list[list[tuple[int, dict[str, _Entry]]]] = [
            [] for _ in range(_MAX_CANON + 1)
        ]
        self._entries = 0
        self._slow_cache: dict[str, tuple[str, str | None]] = {}
        self.stats = {"computed": 0, "slow": 0, "mismatch": 0}

    def __repr__(self) -> str:
        return f"Normalizer({self.region!r}, strict={self.strict})"

    # -- public --

    def normalize(self, values: list[str]) -> tuple[list[str], dict[int, str]]:
        """E.164 form of each value ('' where dropped) and {index: reason} for drops.

        Returns `values` itself when the block is already all E.164 (default
        mode).
        """
        n = len(values)
        dropped: dict[int, str] = {}
        if n == 0:
            return [], dropped
        if self.strict:
            todo = list(range(n))
            sub = values
        else:
            # +1 (North America) takes exactly 10 digits after the 1; the others
            # go the slow way, where phonenumbers calls them not possible.
            ok, _ = _e164_scan(values, nanp=True)
            if ok.all():
                return values, dropped
            todo = np.flatnonzero(~ok).tolist()
            sub = [values[i] for i in todo]
        out = list(values)
        canon, simple = self._canonical(sub)
        tables = self._tables
        for j, i in enumerate(todo):
            if simple[j]:
                c = canon[j]
                for size, table in tables[len(c)]:
                    e = table.get(c[:size])
                    if e is not None:
                        break
                else:
                    e = self._fill(c, values[i])
                if e[0]:
                    out[i] = e[1] + c[e[2]:]
                    continue
                reason = e[1]
            else:
                e164, why = self._other(values[i])
                if why is None:
                    out[i] = e164
                    continue
                reason = why
            out[i] = ""
            dropped[i] = reason
        return out, dropped

    def normalize_one(self, value: str) -> tuple[str, str | None]:
        """(E.164, None) or ('', reason) for a single value."""
        out, dropped = self.normalize([value])
        return out[0], dropped.get(0)

    # -- tier 2 --

    @staticmethod
    def _canonical(values: list[str]) -> tuple[list[str], list[bool]]:
        """Each value without separators, and whether it is a simple shape.

        Simple: only separators, digits (3 to 24) and one leading '+'.
        """
        n = len(values)
        joined = "\n".join(values)
        data = joined.encode("utf-8", "surrogatepass").translate(None, _SEPARATORS)
        lines = _lines(data, n)
        if lines is None:
            canon = [v.translate(_DELETE_SEPARATORS) for v in values]
            return canon, [_CANON.fullmatch(c) is not None and len(v) <= _MAX_INPUT
                           for c, v in zip(canon, values, strict=True)]
        plus_first = _first_chars(lines, 0) == ord("+")
        digits = lines.lens - plus_first
        simple = (digits >= 3) & (digits <= 24)
        raw = lines.raw
        if data.translate(None, b"0123456789+\n"):
            simple[_bad_lines(lines, np.flatnonzero(_NOT_DIGIT_PLUS_NL[raw]))] = False
        if data.count(b"+") != int(plus_first.sum()):
            plus = np.flatnonzero(raw == ord("+"))
            line = _bad_lines(lines, plus)
            simple[line[plus != lines.starts[line]]] = False
        if max(map(len, values)) > _MAX_INPUT:
            simple &= np.fromiter(map(len, values), np.intp, n) <= _MAX_INPUT
        canon = data.decode("utf-8", "surrogatepass").split("\n")
        return canon, simple.tolist()

    def _lookup(self, c: str, raw: str) -> _Entry:
        for size, table in self._tables[len(c)]:
            e = table.get(c[:size])
            if e is not None:
                return e
        return self._fill(c, raw)

    def _fill(self, c: str, raw: str) -> _Entry:
        self.stats["computed"] += 1
        try:
            entry, need = self._resolve(c)
        except Exception:  # a metadata shape the re-implementation does not cover
            log.debug("falling back to phonenumbers", exc_info=True)
            return self._as_entry(self._reference(raw))
        if self.verify:
            want = self._reference(raw)
            got = (entry[1] + c[entry[2]:], None) if entry[0] else ("", entry[1])
            if got != want:
                self.stats["mismatch"] += 1
                if self.stats["mismatch"] == 1:  # no number in the log: it is personal data
                    log.warning("phone cache disagreed with phonenumbers (region %s); "
                                "using phonenumbers' answer", self.region)
                return self._as_entry(want)
        if self._entries >= _MAX_ENTRIES:
            for per_length in self._tables:  # in place: normalize() holds the list
                per_length.clear()
            self._entries = 0
        # Stored under exactly the prefix the answer depends on.
        tables = self._tables[len(c)]
        for size, found in tables:
            if size == need:
                table = found
                break
        else:
            table = {}
            tables.append((need, table))
            tables.sort(key=lambda t: t[0])
        table[c[:need]] = entry
        self._entries += 1
        return entry

    @staticmethod
    def _as_entry(result: tuple[str, str | None]) -> _Entry:
        e164, why = result
        # An entry whose tail is always empty: canonical[_PAST_END:] == "".
        return (True, e164, _PAST_END) if why is None else (False, why, 0)

    def _resolve(self, c: str) -> tuple[_Entry, int]:
        """The answer for canonical digits `c` and how many leading chars decide it."""
        plus = c.startswith("+")
        p = _Probe(c[1:] if plus else c)
        try:
            cc, nsn = self._parse(p, plus)
        except _Fail as f:
            return (False, _PARSE_REASONS[f.kind], 0), p.need + plus
        md = _main_metadata(cc)
        result = _test_length(p.length(nsn), md)
        head = f"+{cc}{nsn[0]}"
        e164 = head + p.d[nsn[1]:]
        why = _verdict(cc, e164, result, lambda: _is_valid(p, cc, nsn), strict=self.strict)
        need = max(p.need, nsn[1]) + plus
        if why is None:
            return (True, head, nsn[1] + plus), need
        return (False, why, 0), need

    def _parse(self, p: _Probe, plus: bool) -> tuple[int, _Num]:
        """phonenumbers' `parse` for digits (after a '+' if `plus`): (cc, national number)."""
        md = self._md
        start: _Num = ("", 0)
        try:
            cc, nnn = _extract_country_code(p, start, plus, md)
        except _Fail as f:
            if f.kind != NumberParseException.INVALID_COUNTRY_CODE or not plus:
                raise
            # parse() retries without the '+'.
            cc, nnn = _extract_country_code(p, start, False, md)
            if cc == 0:
                raise
        if cc != 0:
            region = phonenumbers.region_code_for_country_code(cc)
            if region != self.region:
                md = PhoneMetadata.metadata_for_region_or_calling_code(cc, region)
        else:
            cc, nnn = md.country_code, start
        if p.length(nnn) < 2:
            raise _Fail(NumberParseException.TOO_SHORT_NSN)
        potential = _strip_national_prefix(p, nnn, md)
        if _test_length(p.length(potential), md) not in (_TOO_SHORT, _LOCAL_ONLY,
                                                         _INVALID_LENGTH):
            nnn = potential
        if p.length(nnn) > 17:
            raise _Fail(NumberParseException.TOO_LONG)
        return cc, nnn

    # -- tier 3 --

    def _other(self, value: str) -> tuple[str, str | None]:
        """A value that is not a simple shape: strip, look for letters, else phonenumbers."""
        s = value.strip()
        if not s:
            return "", "empty"
        if _LETTER.search(s):
            return "", SCIENTIFIC_REASON if _SCIENTIFIC.fullmatch(s) else "has letters"
        c = s.translate(_DELETE_SEPARATORS)
        if len(s) != len(value) and len(value) <= _MAX_INPUT and _CANON.fullmatch(c):
            e = self._lookup(c, value)
            return (e[1] + c[e[2]:], None) if e[0] else ("", e[1])
        hit = self._slow_cache.get(value)
        if hit is None:
            if len(self._slow_cache) >= _MAX_SLOW:
                self._slow_cache.clear()
            hit = self._slow_cache[value] = self._reference(value)
        return hit

    def _reference(self, value: str) -> tuple[str, str | None]:
        """phonenumbers itself, under this normaliser's policy."""
        self.stats["slow"] += 1
        if not value.strip():
            return "", "empty"
        if _LETTER.search(value):
            return "", SCIENTIFIC_REASON if _SCIENTIFIC.fullmatch(value) else "has letters"
        try:
            num = phonenumbers.parse(value, self.region)
        except NumberParseException as e:
            return "", _PARSE_REASONS.get(e.error_type, "not a phone number")
        except Exception:  # phonenumbers bugs on odd input must not stop a job
            log.debug("phonenumbers failed", exc_info=True)
            return "", "not a phone number"
        e164 = phonenumbers.format_number(num, PhoneNumberFormat.E164)
        result = phonenumbers.is_possible_number_with_reason(num)
        why = _verdict(num.country_code or 0, e164, result,
                       lambda: bool(phonenumbers.is_valid_number(num)), strict=self.strict)
        return ("", why) if why else (e164, None)
