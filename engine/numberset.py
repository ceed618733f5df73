"""Compact sets of phone numbers: dedupe (`Seen`) and opt-out/suppression lists (`NumberSet`).

An E.164 number is at most 15 digits, so ``int("+15551234567")`` fits in 50
bits: a number is stored as one int64 key in sorted numpy arrays, never as a
Python string (a set of strings costs ~100 bytes a number; `Seen` costs 12
plus 1-2 for its filter). Lookups are vectorised per block with
`np.searchsorted`.
"""

from __future__ import annotations

import csv
import mmap
import os
import warnings
from collections.abc import Iterable, Sequence
from itertools import compress, islice
from typing import Final

import numpy as np

from .errors import InputError
from .phones import E164, Normalizer, e164_mask
from .reader import RECIPIENT_NAMES, loose_name

__all__ = ["NumberSet", "Seen", "key", "keys", "load_suppression"]

_EMPTY_KEYS: Final = np.empty(0, dtype=np.int64)
_MAX_LINE: Final = 2**32 - 1  # lines are stored as uint32


def key(number: str) -> int:
    """The int64 key of an E.164 number (its digits). ValueError for anything else."""
    if E164.fullmatch(number) is None:
        raise ValueError(f"not an E.164 number: {number!r}")
    return int(number)


def _parse(data: str | bytes, n: int) -> np.ndarray | None:
    """Whitespace-separated decimal integers, parsed in C; None if not exactly `n`."""
    with warnings.catch_warnings():
        # On text it cannot read, numpy warns (DeprecationWarning, older
        # versions) or raises ValueError (newer ones); either way: not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            out = np.fromstring(data, dtype=np.int64, sep=" ")
        except ValueError:
            return None
    return out if len(out) == n else None


_E164_MIN: Final = 10**6  # '+' and 7 digits, the first not 0
_E164_END: Final = 10**15  # 15 digits


def keys(numbers: Sequence[str]) -> np.ndarray:
    """int64 keys of a block of numbers; -1 where a value is not E.164 (e.g. '')."""
    n = len(numbers)
    if n == 0:
        return _EMPTY_KEYS
    joined = " ".join(numbers)
    if joined.isascii():
        data = joined.encode("ascii")
        del joined
        # Only digits, '+' and the n-1 separators, n pluses and no "+0": if
        # numpy then reads exactly n integers, each value was '+[1-9][0-9]*'
        # and the range check makes it 7 to 15 digits, i.e. E.164.
        if (not data.translate(None, b"0123456789+ ") and data.count(b" ") == n - 1
                and data.count(b"+") == n and b"+0" not in data):
            parsed = _parse(data, n)
            if parsed is not None and parsed.min() >= _E164_MIN and parsed.max() < _E164_END:
                return parsed
    ok = e164_mask(numbers)
    good = list(compress(numbers, ok.tolist()))
    out = np.full(n, -1, dtype=np.int64)
    if good:
        parsed = _parse(" ".join(good), len(good))
        out[ok] = parsed if parsed is not None else np.fromiter(map(int, good), np.int64)
    return out


def _lookup(sorted_keys: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted unique `q`: a mask of those in `sorted_keys`, and their positions."""
    if len(sorted_keys) == 0:
        return np.zeros(len(q), dtype=bool), np.zeros(len(q), dtype=np.intp)
    pos = np.searchsorted(sorted_keys, q)
    np.minimum(pos, len(sorted_keys) - 1, out=pos)
    return sorted_keys[pos] == q, pos



def _merge(
    ak: np.ndarray, av: np.ndarray, bk: np.ndarray, bv: np.ndarray,
    out_k: np.ndarray, out_v: np.ndarray,
) -> None:
    """Merge two sorted runs into `out_*`.

    A stable argsort of the concatenation is timsort finding the two runs and
    merging them in one linear pass: ~3x faster than scattering by searchsorted.
    """
    kk = np.concatenate((ak, bk))
    order = np.argsort(kk, kind="stable")
    np.take(kk, order, out=out_k)
    np.take(np.concatenate((av, bv)), order, out=out_v)


def _split(a: np.ndarray, ia: int, b: np.ndarray, ib: int, c: int) -> int:
    """Merge path: how many of the `c` largest of a[:ia] | b[:ib] (disjoint) are in b."""
    lo, hi = max(0, c - ia), min(c, ib)
    while lo < hi:
        x = (lo + hi) >> 1
        # Taking x from b and c - x from a is too few from b if b's largest
        # left-out key is above a's smallest taken key.
        if b[ib - x - 1] > a[ia - (c - x)]:
            lo = x + 1
        else:
            hi = x
    return lo


# Windows has neither flag: there `mmap(-1, n)` is anonymous memory already.
_ANON_FLAGS: Final = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)


def _anon(nbytes: int) -> mmap.mmap:
    # Private anonymous memory: grows with mremap, so nothing is copied (numpy's
    # own realloc copies its hugepage-advised arrays), and is freed on close.
    if _ANON_FLAGS:
        return mmap.mmap(-1, max(nbytes, 1), flags=_ANON_FLAGS)
    return mmap.mmap(-1, max(nbytes, 1))


def _grown(m: mmap.mmap, nbytes: int) -> mmap.mmap:
    """`m` resized to `nbytes`: in place where the system can remap it, else copied."""
    try:
        m.resize(nbytes)
        return m
    except (OSError, SystemError, ValueError):
        # macOS has no mremap (CPython raises SystemError) and Windows cannot
        # resize anonymous maps: copy into a new one instead.
        new = _anon(nbytes)
        keep = min(len(m), nbytes)
        new[:keep] = m[:keep]
        m.close()
        return new


class _Run:
    """A sorted run: int64 keys and their uint32 lines, on mmaps that grow in place."""

    __slots__ = ("_km", "_vm", "keys", "lines", "n")

    def __init__(self, k: np.ndarray, v: np.ndarray) -> None:
        self.n = len(k)
        self._km = _anon(self.n * 8)
        self._vm = _anon(self.n * 4)
        self.keys = np.frombuffer(self._km, np.int64, self.n)
        self.lines = np.frombuffer(self._vm, np.uint32, self.n)
        self.keys[:] = k
        self.lines[:] = v

    def _resize(self, n: int) -> None:
        # The arrays are views of the maps: drop them so the maps can be
        # remapped (nothing else may hold a view at this point).
        del self.keys, self.lines
        self._km = _grown(self._km, max(n * 8, 1))
        self._vm = _grown(self._vm, max(n * 4, 1))
        self.n = n
        self.keys = np.frombuffer(self._km, np.int64, n)
        self.lines = np.frombuffer(self._vm, np.uint32, n)

    def close(self) -> None:
        del self.keys, self.lines
        self._km.close()
        self._vm.close()

    def absorb(self, other: _Run, chunk: int) -> None:
        """Merge `other` into this run in place, from the top down, `chunk` at a time.

        Each step moves the `chunk` largest remaining keys of both runs to the
        top of the free space (merge path), so the only extra memory is a chunk.
        """
        ia, ib = self.n, other.n
        self._resize(ia + ib)
        ak, av, bk, bv = self.keys, self.lines, other.keys, other.lines
        while ib > 0:
            c = min(chunk, ia + ib)
            x = _split(ak, ia, bk, ib, c)  # how many of the top c come from `other`
            top, lo = ia + ib, ia - (c - x)
            if x == 0:
                ak[top - c:top] = ak[lo:ia]
                av[top - c:top] = av[lo:ia]
            else:
                # Copy A's part first: the destination may overlap it.
                _merge(ak[lo:ia].copy(), av[lo:ia].copy(), bk[ib - x:ib], bv[ib - x:ib],
                       ak[top - c:top], av[top - c:top])
            ia, ib = lo, ib - x
        del ak, av, bk, bv


_HASH_MUL: Final = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
_LOG2_BITS_MIN: Final = 20
_LOG2_BITS_HINT_MAX: Final = 27  # 16 MB of filter, enough for 16M numbers


class _Filter:
    """One bit per hashed key (a Bloom filter with one hash), 8 to 16 bits a key.

    Most numbers in a block are new; the filter says "certainly new" for
    about 90% of them, so only the rest are binary-searched in the runs.
    """

    __slots__ = ("bits", "capacity", "shift")

    def __init__(self, log2_bits: int) -> None:
        self.bits = np.zeros(1 << (log2_bits - 6), dtype=np.uint64)
        self.shift = np.uint64(64 - log2_bits)
        self.capacity = (1 << log2_bits) >> 3

    def _slots(self, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = (k.view(np.uint64) * _HASH_MUL) >> self.shift
        return h >> np.uint64(6), np.left_shift(np.uint64(1), h & np.uint64(63))

    def maybe(self, k: np.ndarray) -> np.ndarray:
        word, bit = self._slots(k)
        hit: np.ndarray = (self.bits[word] & bit) != 0
        return hit

    def add(self, k: np.ndarray) -> None:
        word, bit = self._slots(k)
        # Unbuffered: keys sharing a word all land (numpy >= 1.25 made `ufunc.at`
        # fast: twice as fast as redoing a fancy `|=` until no write is lost).
        np.bitwise_or.at(self.bits, word, bit)


def _filter_bits(n: int) -> int:
    """log2 of the filter size giving `n` numbers at least 8 bits each."""
    log2_bits = _LOG2_BITS_MIN
    while (1 << log2_bits) >> 3 < n:
        log2_bits += 1
    return log2_bits


class Seen:
    """The numbers already sent in this job, with the line each first appeared on.

    Layout: sorted runs of int64 keys with parallel uint32 lines (12 bytes a
    number), one new run per block, merged like a binary counter (the newest
    run is merged into the one before while that one is at most twice its
    size), so there are about log2(numbers / block) runs and each number is
    rewritten about that many times. Runs live on anonymous mmaps; a merge
    grows the bigger run in place (mremap) and merges from the top down a
    chunk at a time, so no second copy of anything big is ever made. A
    one-hash Bloom filter (1 to 2 bytes a number) spares the binary searches
    for numbers that are new. Peak: 12 bytes a number, plus the filter, plus
    a few MB of per-block temporaries.
    """

    CHUNK: Final = 1 << 15

    def __init__(self, expected: int = 0) -> None:
        """`expected`: roughly how many numbers will be added, if known (e.g. the
        file size / 13). It sizes the filter up front, which saves re-hashing
        every number each time the filter doubles (~0.5-1 s per 10M numbers).
        At most 16 MB is taken on its word; past that the filter grows as usual."""
        self._runs: list[_Run] = []
        self._filter = _Filter(min(_filter_bits(expected), _LOG2_BITS_HINT_MAX))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"Seen({self._n} numbers in {len(self._runs)} runs)"

    @property
    def nbytes(self) -> int:
        """Bytes held by the runs and the filter."""
        return self._n * 12 + self._filter.bits.nbytes

    def check(self, numbers: Sequence[str], lines: Sequence[int]) -> dict[int, int]:
        """Record new numbers; return ``{index: line of first occurrence}`` for repeats.

        A number is a repeat if it was seen in an earlier block or earlier in
        this one (first occurrence wins). Values that are not E.164 (e.g. '')
        are ignored: neither recorded nor reported. Lines must fit in uint32.
        """
        n = len(numbers)
        if n != len(lines):
            raise ValueError(f"{n} numbers but {len(lines)} lines")
        if n == 0:
            return {}
        q = keys(numbers)
        # Consecutive lines come as a range: np.arange, not a million Python ints.
        line = (np.arange(lines.start, lines.stop, lines.step, dtype=np.int64)
                if isinstance(lines, range) else np.asarray(lines, dtype=np.int64))
        order = np.argsort(q)  # unstable is fine: first occurrences come from a min below
        sq = q[order]
        del q  # per-block scratch is the fixed part of the peak: free it early
        head = np.empty(n, dtype=bool)
        head[0] = True
        np.not_equal(sq[1:], sq[:-1], out=head[1:])
        if head.all():  # no repeats inside the block (the usual case)
            u, first, group = sq, order, None
        else:
            starts = np.flatnonzero(head)
            u = sq[starts]
            first = np.minimum.reduceat(order, starts)  # earliest index of each number
            group = np.cumsum(head) - 1  # number (group) of each sorted position
        valid = u >= 0
        earlier = np.full(len(u), -1, dtype=np.int64)  # line seen before, -1 if new
        if self._runs:
            cand = np.flatnonzero(self._filter.maybe(u) & valid)
            if len(cand):
                uc = u[cand]
                for run in self._runs:
                    hit, pos = _lookup(run.keys, uc)
                    earlier[cand[hit]] = run.lines[pos[hit]]
        new = valid & (earlier < 0)
        if group is None:
            dup = np.flatnonzero(earlier >= 0)
            rows, dup_lines = order[dup], earlier[dup]
        else:
            group_line = np.where(earlier >= 0, earlier, line[first])
            is_dup = (earlier[group] >= 0) | ((order != first[group]) & valid[group])
            rows, dup_lines = order[is_dup], group_line[group][is_dup]
        if new.any():
            new_lines = line[first[new]]
            if new_lines.max() > _MAX_LINE or new_lines.min() < 0:
                raise ValueError(f"line numbers must be between 0 and {_MAX_LINE}")
            self._add(u[new], new_lines.astype(np.uint32))
        return dict(zip(rows.tolist(), dup_lines.tolist(), strict=True))

    def _add(self, k: np.ndarray, v: np.ndarray) -> None:
        self._n += len(k)
        if self._n > self._filter.capacity:
            self._grow_filter()
        self._filter.add(k)
        runs = self._runs
        runs.append(_Run(k, v))
        while len(runs) > 1 and runs[-2].n <= 2 * runs[-1].n:
            small, big = runs.pop(), runs[-1]
            if small.n > big.n:
                small, big = big, small
                runs[-1] = big
            big.absorb(small, self.CHUNK)
            small.close()

    def _grow_filter(self) -> None:
        self._filter = _Filter(_filter_bits(self._n))
        step = 1 << 15  # small temporaries while re-hashing everything
        for run in self._runs:
            for i in range(0, run.n, step):
                self._filter.add(run.keys[i:i + step])


class NumberSet:
    """An immutable set of E.164 numbers (opt-outs, suppression lists)."""

    __slots__ = ("_keys",)

    def __init__(self, sorted_unique_keys: np.ndarray | None = None) -> None:
        """Use `from_numbers`; this takes already sorted, unique, valid int64 keys."""
        self._keys = _EMPTY_KEYS if sorted_unique_keys is None else sorted_unique_keys

    @classmethod
    def from_numbers(cls, numbers: Iterable[str], *, block: int = 1 << 16) -> NumberSet:
        """A set of the E.164 numbers in `numbers`; other values are ignored."""
        it = iter(numbers)
        parts = []
        while chunk := list(islice(it, block)):
            k = keys(chunk)
            parts.append(k[k >= 0])
        return cls.from_keys(np.concatenate(parts) if parts else _EMPTY_KEYS)

    @classmethod
    def from_keys(cls, k: np.ndarray) -> NumberSet:
        return cls(np.unique(np.asarray(k, dtype=np.int64)))

    def __len__(self) -> int:
        return len(self._keys)

    def __repr__(self) -> str:
        return f"NumberSet({len(self)} numbers)"

    def __contains__(self, number: object) -> bool:
        if not isinstance(number, str) or E164.fullmatch(number) is None:
            return False
        k = int(number)
        i = int(np.searchsorted(self._keys, k))
        return i < len(self._keys) and int(self._keys[i]) == k

    def _member(self, numbers: Sequence[str]) -> np.ndarray:
        if len(self._keys) == 0:  # no opt-outs: not worth parsing every number
            return np.zeros(len(numbers), dtype=bool)
        q = keys(numbers)
        pos = np.searchsorted(self._keys, q)
        np.minimum(pos, len(self._keys) - 1, out=pos)
        hit: np.ndarray = (self._keys[pos] == q) & (q >= 0)
        return hit

    def indices(self, numbers: Sequence[str]) -> list[int]:
        """Positions of the values that are in the set."""
        out: list[int] = np.flatnonzero(self._member(numbers)).tolist()
        return out


# --- suppression files ---------------------------------------------------------------

def _number_column(row: list[str], normalizer: Normalizer) -> tuple[int, bool]:
    """(column, is_header) from a file's first row.

    A header is recognised by the names a recipient file may use (the reader's
    list), so a file that sends can also be given as a suppression list.
    """
    names = [loose_name(c) for c in row]
    for want in RECIPIENT_NAMES:
        if want in names:
            return names.index(want), True
    looks_like_number = normalizer.normalize_one(row[0])[1] is None
    if len(row) == 1:
        # A lone header such as "DNC" or "Phone numbers": text that is no number.
        return 0, not looks_like_number and any(ch.isalpha() for ch in row[0])
    if looks_like_number:
        return 0, False
    raise InputError(
        f"cannot tell which column holds the numbers (columns: {', '.join(map(repr, row))})",
        hint=f"name it one of {', '.join(RECIPIENT_NAMES[:3])}, or use a file with one column",
    )


def load_suppression(
    path: str | os.PathLike[str], normalizer: Normalizer, *, block: int = 1 << 16
) -> tuple[NumberSet, list[tuple[int, str, str]]]:
    """Read a do-not-text CSV: the set of its numbers and the lines it could not use.

    The file has a header naming a ``to``/``phone``/``number`` column, or a
    single column with or without a header. Values are normalised like the
    recipients (national formats allowed); unusable ones come back as
    ``(line, value, reason)``. Blank lines are skipped. A missing or
    unreadable file raises `InputError` naming it.
    """
    where = os.fspath(path)
    unusable: list[tuple[int, str, str]] = []
    parts: list[np.ndarray] = []
    values: list[str] = []
    lines: list[int] = []

    def flush() -> None:
        out, dropped = normalizer.normalize(values)
        for i, why in dropped.items():
            unusable.append((lines[i], values[i], why))
        k = keys(out)
        parts.append(k[k >= 0])
        values.clear()
        lines.clear()

    line = 0
    try:
        with open(where, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            col = -1
            for row in reader:
                line = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if col < 0:
                    try:
                        col, is_header = _number_column(row, normalizer)
                    except InputError as e:
                        e.path, e.line = where, line
                        raise
                    if is_header:
                        continue
                if col >= len(row):
                    unusable.append((line, "", "no value in the number column"))
                    continue
                values.append(row[col])
                lines.append(line)
                if len(values) >= block:
                    flush()
            if values:
                flush()
    except OSError as e:
        raise InputError(f"cannot read the suppression list: {e.strerror or e}",
                         path=where) from e
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(f"cannot read the suppression list: {e}", path=where,
                         line=line + 1) from e
    unusable.sort()
    return NumberSet.from_keys(np.concatenate(parts) if parts else _EMPTY_KEYS), unusable
