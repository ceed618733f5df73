"""Seeded recipient CSVs for the benchmarks, cached under `benchmarks/data/`.

    path = ensure("to", 1_000_000).path      # generates once, then reuses

Variants:

- ``to``: one column, ``to``, unique possible US numbers in E.164
  (``+1`` + NPA 201-989 + exchange 200-999 + four digits).
- ``personalised``: ``to,name,code``, sent with ``--text "Hi {name}, your
  code is {code}"`` (`TEMPLATE`); a few names are not ASCII.
- ``dirty``: one column, ``to``, where a share of the rows are duplicates of
  other rows (half of them written in a national format), a share are
  unique numbers in a national format (``(415) 555-0123``, ``415-555-0123``,
  ...), a few are quoted, and a few are not phone numbers at all. The sidecar
  JSON says how many of each, so the runner can check what was accepted.

Rows are built with numpy in blocks of `_BLOCK` rows (no per-row Python
except for the dirty rows), so ten million rows take seconds. Each file has
a sidecar ``<name>.json`` (`Meta`); a file is regenerated when it is missing,
its size differs or the generator, seed or variant changed.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

__all__ = [
    "DATA_DIR",
    "DEFAULT_SEED",
    "DEFAULT_TEXT",
    "SIZES",
    "TEMPLATE",
    "VARIANTS",
    "DataFile",
    "Meta",
    "ensure",
    "generate",
    "label",
    "text_for",
]

GENERATOR_VERSION = 2
DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_SEED = 20_240_601
SIZES: dict[str, int] = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "10M": 10_000_000}
VARIANTS = ("to", "personalised", "dirty")
DEFAULT_TEXT = "Your appointment is confirmed for tomorrow. Reply STOP to opt out."
TEMPLATE = "Hi {name}, your code is {code}"

# The dirty variant's shares of rows.
DUPLICATE_SHARE = 0.10  # copies of another row's number (half written nationally)
NATIONAL_SHARE = 0.10  # unique numbers written in a national format
INVALID_SHARE = 0.02  # not a phone number
QUOTED_SHARE = 0.01  # E.164, but quoted: "+14155550123"
INVALID_VALUES = ("12345", "", "n/a", "+1415555", "0", "+99999999999999999", "555-12",
                  "unknown")

NAMES = (
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "John", "Margaret",
    "Ken", "Dennis", "Radia", "Tim", "Vint", "Leslie", "Niklaus", "Guido", "Linus", "Anita",
    "Katherine", "Dorothy", "Mary", "Hedy", "Shafi", "Tony", "Robin", "Juris", "Butler",
    "Fran", "Sophie", "Jean", "Adele", "Karen", "Hal", "Martin", "Yukihiro", "Bjarne",
    "James", "Larry", "Sergey", "Whitfield", "Ivan", "Carl", "Emmy", "Sofia", "Lise",
    "Chien-Shiung", "Rosalind", "Marie", "Alexander", "José", "Zoë", "Øystein", "Ana",
    "Li", "Mohammed", "Priya", "Olu", "Kwame", "Ines",
)

# NANP: NPA 201-989, exchange 200-999, line 0000-9999.
_NPA_COUNT, _EXCHANGE_COUNT, _LINE_COUNT = 789, 800, 10_000
_SPACE = _NPA_COUNT * _EXCHANGE_COUNT * _LINE_COUNT
_BLOCK = 1_000_000

Int64s = npt.NDArray[np.int64]


def label(rows: int) -> str:
    """10000 -> "10k", 1000000 -> "1M"; other sizes as digits."""
    for name, n in SIZES.items():
        if n == rows:
            return name
    return str(rows)


def text_for(variant: str) -> str:
    """The `--text` every contender gets for a variant."""
    return TEMPLATE if variant == "personalised" else DEFAULT_TEXT


@dataclass(frozen=True, slots=True)
class Meta:
    """What a generated file holds; stored next to it as JSON."""

    generator: int
    seed: int
    variant: str
    rows: int
    bytes: int
    columns: tuple[str, ...]
    text: str
    # What a careful sender should end up accepting: unique, valid numbers.
    unique_valid: int
    duplicates: int
    national: int
    invalid: int
    quoted: int
    seconds: float

    @classmethod
    def load(cls, path: Path) -> Meta:
        data = json.loads(path.read_text())
        data["columns"] = tuple(data["columns"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class DataFile:
    path: Path
    meta: Meta


def unique_numbers(rng: np.random.Generator, n: int) -> Int64s:
    """`n` distinct US numbers as integers (1NPANXXXXXX), in random order."""
    want = n + n // 16 + 1024
    while True:
        drawn = np.sort(rng.integers(0, _SPACE, size=want, dtype=np.int64))
        # Sort and drop repeats (np.unique is much slower here on numpy 2.x).
        fresh = np.ones(len(drawn), dtype=bool)
        np.not_equal(drawn[1:], drawn[:-1], out=fresh[1:])
        drawn = drawn[fresh]
        if len(drawn) >= n:
            break
        want *= 2
    rng.shuffle(drawn)
    picked = drawn[:n]
    line = picked % _LINE_COUNT
    rest = picked // _LINE_COUNT
    exchange = rest % _EXCHANGE_COUNT + 200
    npa = rest // _EXCHANGE_COUNT + 201
    out: Int64s = 10_000_000_000 + npa * 10_000_000 + exchange * 10_000 + line
    return out


def _digits(values: Int64s, width: int) -> npt.NDArray[np.uint8]:
    """Zero-padded decimal digits of `values` as an (n, width) array of ASCII codes."""
    out = np.empty((len(values), width), dtype=np.uint8)
    rest = values.copy()
    for col in range(width - 1, -1, -1):
        out[:, col] = rest % 10 + 48
        rest //= 10
    return out


def _e164_fields(numbers: Int64s, end: bytes) -> list[bytes]:
    """`+1NPANXXXXXX` + `end` (one byte) for each number, as a list of bytes."""
    matrix = np.empty((len(numbers), 13), dtype=np.uint8)
    matrix[:, 0] = ord("+")
    matrix[:, 1:12] = _digits(numbers, 11)
    matrix[:, 12] = end[0]
    fields: list[bytes] = matrix.view("S13").ravel().tolist()
    return fields


def _national(number: int, style: int) -> str:
    s = str(number)[1:]  # ten digits
    npa, exchange, line = s[:3], s[3:6], s[6:]
    if style == 0:
        return f"({npa}) {exchange}-{line}"
    if style == 1:
        return f"{npa}-{exchange}-{line}"
    if style == 2:
        return f"{npa}.{exchange}.{line}"
    if style == 3:
        return f"1 {npa} {exchange} {line}"
    return s


def _blocks(n: int) -> Iterator[slice]:
    for start in range(0, n, _BLOCK):
        yield slice(start, min(n, start + _BLOCK))


def _write_to(out: BinaryIO, numbers: Int64s) -> None:
    write = out.write
    write(b"to\n")
    for block in _blocks(len(numbers)):
        write(b"".join(_e164_fields(numbers[block], b"\n")))


def _write_personalised(out: BinaryIO, numbers: Int64s, rng: np.random.Generator) -> None:
    write = out.write
    write(b"to,name,code\n")
    names = np.array([(name + ",").encode() for name in NAMES])
    for block in _blocks(len(numbers)):
        count = block.stop - block.start
        codes = np.empty((count, 7), dtype=np.uint8)
        codes[:, :6] = _digits(rng.integers(0, 1_000_000, size=count, dtype=np.int64), 6)
        codes[:, 6] = ord("\n")
        parts: list[bytes] = [b""] * (3 * count)
        parts[0::3] = _e164_fields(numbers[block], b",")
        parts[1::3] = names[rng.integers(0, len(NAMES), size=count)].tolist()
        parts[2::3] = codes.view("S7").ravel().tolist()
        write(b"".join(parts))


def _dirty_values(numbers: Int64s, rng: np.random.Generator) -> tuple[list[bytes], dict[str, int]]:
    n = len(numbers)
    values: list[bytes] = _e164_fields(numbers, b"\n")
    order = rng.permutation(n)
    n_dup, n_nat = int(n * DUPLICATE_SHARE), int(n * NATIONAL_SHARE)
    n_bad, n_quoted = int(n * INVALID_SHARE), int(n * QUOTED_SHARE)
    dup_rows = order[:n_dup]
    nat_rows = order[n_dup:n_dup + n_nat]
    bad_rows = order[n_dup + n_nat:n_dup + n_nat + n_bad]
    quoted_rows = order[n_dup + n_nat + n_bad:n_dup + n_nat + n_bad + n_quoted]
    # Rows that keep a unique, valid number (E.164, national or quoted): copy from these.
    kept = np.concatenate([order[n_dup:n_dup + n_nat], order[n_dup + n_nat + n_bad:]])
    sources = kept[rng.integers(0, len(kept), size=n_dup)] if len(kept) else kept
    for i, (row, src) in enumerate(zip(dup_rows.tolist(), sources.tolist(), strict=True)):
        number = int(numbers[src])
        text = f"+{number}" if i % 2 == 0 else _national(number, i // 2 % 5)
        values[row] = text.encode() + b"\n"
    for i, row in enumerate(nat_rows.tolist()):
        values[row] = _national(int(numbers[row]), i % 5).encode() + b"\n"
    for i, row in enumerate(bad_rows.tolist()):
        values[row] = INVALID_VALUES[i % len(INVALID_VALUES)].encode() + b"\n"
    for row in quoted_rows.tolist():
        values[row] = b'"' + values[row][:-1] + b'"\n'
    counts = {"unique_valid": n - n_dup - n_bad, "duplicates": n_dup, "national": n_nat,
              "invalid": n_bad, "quoted": n_quoted}
    return values, counts


def generate(variant: str, rows: int, *, seed: int = DEFAULT_SEED,
             directory: Path = DATA_DIR) -> DataFile:
    """Write `<variant>-<label>.csv` and its sidecar JSON; returns both."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    if rows < 1:
        raise ValueError("rows must be positive")
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{variant}-{label(rows)}.csv"
    started = time.perf_counter()
    rng = np.random.default_rng([seed, VARIANTS.index(variant), rows])
    numbers = unique_numbers(rng, rows)
    counts = {"unique_valid": rows, "duplicates": 0, "national": 0, "invalid": 0, "quoted": 0}
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "wb", buffering=8 << 20) as out:
        if variant == "to":
            _write_to(out, numbers)
            columns: tuple[str, ...] = ("to",)
        elif variant == "personalised":
            _write_personalised(out, numbers, rng)
            columns = ("to", "name", "code")
        else:
            values, counts = _dirty_values(numbers, rng)
            out.write(b"to\n")
            out.write(b"".join(values))
            columns = ("to",)
    os.replace(tmp, path)
    meta = Meta(generator=GENERATOR_VERSION, seed=seed, variant=variant, rows=rows,
                bytes=path.stat().st_size, columns=columns, text=text_for(variant),
                seconds=round(time.perf_counter() - started, 3), **counts)
    path.with_suffix(".json").write_text(json.dumps(asdict(meta), indent=1) + "\n")
    return DataFile(path, meta)


def ensure(variant: str, rows: int, *, seed: int = DEFAULT_SEED,
           directory: Path = DATA_DIR) -> DataFile:
    """The cached file if it is current, else a freshly generated one."""
    path = directory / f"{variant}-{label(rows)}.csv"
    meta_path = path.with_suffix(".json")
    try:
        meta = Meta.load(meta_path)
        if (meta.generator, meta.seed, meta.variant, meta.rows) == (
                GENERATOR_VERSION, seed, variant, rows) and path.stat().st_size == meta.bytes:
            return DataFile(path, meta)
    except (OSError, ValueError, TypeError, KeyError):
        pass
    return generate(variant, rows, seed=seed, directory=directory)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.data",
                                     description="Generate (or reuse) benchmark CSVs.")
    parser.add_argument("--sizes", default="10k,100k,1M",
                        help=f"comma-separated, of {', '.join(SIZES)} or a number of rows")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--dir", type=Path, default=DATA_DIR)
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    args = parser.parse_args(argv)
    for variant in args.variants.split(","):
        for size in args.sizes.split(","):
            rows = SIZES.get(size) or int(size)
            make = generate if args.force else ensure
            data = make(variant, rows, seed=args.seed, directory=args.dir)
            print(json.dumps({"path": str(data.path), **asdict(data.meta)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
