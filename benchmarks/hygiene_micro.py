"""Micro-benchmarks of the hygiene primitives (phones, numberset, segments, templates).

    python -m benchmarks.hygiene_micro            # everything, ~1 minute
    python -m benchmarks.hygiene_micro --quick    # smaller sizes
    python -m benchmarks.hygiene_micro --json     # one JSON object instead of the table

Each figure is the best of a few repeats, in blocks of 50,000 rows as the
pipeline calls them. `Seen` runs in a subprocess per size, so peaks do not
mix: its peak RSS (VmHWM after resetting it) is taken relative to a baseline
that already holds one block of input and has run one warm-up block, so the
figure is what the dedupe structure adds, per unique number.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from engine.numberset import Seen
from engine.phones import Normalizer
from engine.segments import find_shortener, segments, segments_many
from engine.templates import Template

BLOCK = 50_000
FORMATS = ("({a}) {e}-{l}", "{a}-{e}-{l}", "{a}.{e}.{l}", "{a}{e}{l}", "1-{a}-{e}-{l}",
           "+1 {a} {e} {l}", "1{a}{e}{l}", "+1 ({a}) {e}-{l}")


def area_codes(rng: random.Random, n: int = 300) -> list[int]:
    # NANP area codes: [2-9][0-8][0-9], no N11.
    codes = [a for a in range(200, 1000) if (a // 10) % 10 != 9 and a % 100 != 11]
    return rng.sample(codes, n)


def national_numbers(n: int, seed: int = 1) -> list[str]:
    """Realistic US input: a few hundred area codes, mixed formatting."""
    rng = random.Random(seed)
    areas = area_codes(rng)
    return [rng.choice(FORMATS).format(a=rng.choice(areas), e=rng.randint(200, 999),
                                       l=f"{rng.randint(0, 9999):04d}") for _ in range(n)]


def e164_numbers(n: int, seed: int = 2) -> list[str]:
    rng = random.Random(seed)
    areas = area_codes(rng)
    return [f"+1{rng.choice(areas)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            for _ in range(n)]


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        gc.collect()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def rate_normalize(values: list[str], make: Callable[[], Normalizer], repeats: int) -> float:
    """Rows/s through a fresh Normalizer (its cache starts empty every repeat)."""
    def run() -> None:
        norm = make()
        for i in range(0, len(values), BLOCK):
            norm.normalize(values[i:i + BLOCK])
    return len(values) / best(run, repeats)


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    return 0


def seen_child(n: int, hint: bool) -> dict[str, Any]:
    """Run in a subprocess: `n` new numbers through one Seen, time and peak memory."""
    rng = np.random.default_rng(3)

    def block(first: int) -> tuple[list[str], list[int]]:
        k = rng.integers(2_000_000_000, 10_000_000_000, BLOCK) + 10_000_000_000
        return ["+" + s for s in k.astype(str).tolist()], list(range(first, first + BLOCK))

    # Warm-up: a few blocks through a throwaway Seen, so the allocator already
    # holds what the per-block temporaries need (a constant, not per number).
    warm = Seen()
    for first in range(1, 8 * BLOCK, BLOCK):
        numbers, lines = block(first)
        warm.check(numbers, lines)
    del warm
    gc.collect()
    seen = Seen(expected=n if hint else 0)
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    base = _status("VmRSS")
    spent = 0.0
    for first in range(1, n + 1, BLOCK):
        numbers, lines = block(first)  # replaces the block the baseline held
        t = time.perf_counter()
        seen.check(numbers, lines)
        spent += time.perf_counter() - t
    unique = len(seen)
    return {"numbers": n, "unique": unique, "seconds": spent, "per_s": n / spent,
            "ms_per_block": spent / (n / BLOCK) * 1e3,
            "peak_bytes_per_unique": (_status("VmHWM") - base) / unique,
            "end_bytes_per_unique": (_status("VmRSS") - base) / unique,
            "array_bytes_per_unique": seen.nbytes / unique, "hint": hint}


def run_seen(n: int, hint: bool = False) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.hygiene_micro", "--seen-child", str(n)]
        + (["--hint"] if hint else []),
        check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def personalised_texts(n: int) -> list[str]:
    rng = random.Random(4)
    names = ["Alice", "Bob", "Zoë", "Mohammed", "Łukasz", "María José", "Li", "Ngozi"]
    bound = Template("Hi {name}, your appointment at {place} is on {day} at {time}. "
                     "Reply STOP to opt out.").bind(["name", "place", "day", "time"])
    rows = [(rng.choice(names), f"Clinic {rng.randint(1, 99)}", rng.choice(["Mon", "Tue"]),
             f"{rng.randint(8, 17)}:{rng.choice(['00', '30'])}") for _ in range(n)]
    return bound.render_many(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, one repeat")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seen-child", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--hint", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.seen_child:
        print(json.dumps(seen_child(args.seen_child, args.hint)))
        return 0

    rows = 200_000 if args.quick else 1_000_000
    repeats = 1 if args.quick else 3
    res: dict[str, Any] = {"rows": rows, "block": BLOCK}
    e164 = e164_numbers(rows)
    national = national_numbers(rows)
    res["normalize_e164_rows_s"] = rate_normalize(e164, lambda: Normalizer("US"), repeats)
    res["normalize_national_rows_s"] = rate_normalize(national, lambda: Normalizer("US"), repeats)
    res["normalize_national_noverify_rows_s"] = rate_normalize(
        national, lambda: Normalizer("US", verify=False), repeats)
    res["normalize_strict_e164_rows_s"] = rate_normalize(
        e164, lambda: Normalizer("US", strict=True), repeats)
    res["normalize_strict_national_rows_s"] = rate_normalize(
        national, lambda: Normalizer("US", strict=True), repeats)

    texts = personalised_texts(rows)
    res["segments_per_s"] = rows / best(lambda: list(map(segments, texts)), repeats)
    res["segments_many_per_s"] = rows / best(
        lambda: [segments_many(texts[i:i + BLOCK]) for i in range(0, rows, BLOCK)], repeats)
    res["find_shortener_per_s"] = rows / best(lambda: list(map(find_shortener, texts)), repeats)
    rng = random.Random(5)
    bound = Template("Hi {name}, code {code}").bind(["name", "code"])
    trows = [(f"N{rng.randint(0, 999)}", str(rng.randint(0, 99999))) for _ in range(rows)]
    res["render_many_per_s"] = rows / best(lambda: bound.render_many(trows), repeats)

    sizes = [200_000, 1_000_000] if args.quick else [1_000_000, 10_000_000]
    res["seen"] = [run_seen(n) for n in sizes] + [run_seen(sizes[-1], hint=True)]

    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"hygiene micro-benchmarks: {rows:,} rows, blocks of {BLOCK:,}, best of {repeats}")
    for name, value in res.items():
        if name.endswith("_s"):
            print(f"  {name:38s} {value:>14,.0f}")
    for s in res["seen"]:
        print(f"  Seen {s['numbers']:>11,} new{' (expected= hint)' if s['hint'] else '':17s}"
              f" {s['per_s']:>11,.0f}/s  {s['ms_per_block']:5.1f} ms/block  peak "
              f"{s['peak_bytes_per_unique']:5.1f} B/unique (end {s['end_bytes_per_unique']:.1f},"
              f" arrays {s['array_bytes_per_unique']:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
