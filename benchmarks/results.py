"""Samples (one contender run), their medians, the ratios and the targets (pure)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = [
    "API_BODY_LIMIT",
    "Figure",
    "Ratio",
    "Sample",
    "Spread",
    "Target",
    "aggregate",
    "ratios",
    "targets",
]

API_BODY_LIMIT = 50 * 1024 * 1024  # the spec's 50m, read as MiB (the emulator's limit)
POST = "createA2PSMS"
POLL_OPERATIONS = ("readA2PBatch", "listA2PBatches")


@dataclass(slots=True)
class Sample:
    """One run of one contender on one file, measured from outside and from the ledger."""

    contender: str
    variant: str
    size: str
    rows: int
    rep: int
    status: str  # ok | failed (an outcome, e.g. 413) | error (crash, timeout)
    reason: str = ""
    wall: float = 0.0  # seconds of work, as the contender timed it (imports excluded)
    proc_wall: float = 0.0  # seconds from spawn to exit
    cpu_user: float = 0.0
    cpu_sys: float = 0.0
    startup_cpu: float = 0.0
    rss_mb: float = 0.0  # MiB: the contender's VmHWM (wait4's ru_maxrss if it died early)
    rss_wait4_mb: float = 0.0  # MiB: ru_maxrss from wait4 (includes the runner's at fork)
    requests: dict[str, int] = field(default_factory=dict)
    responses_429: int = 0
    accepted: int = 0  # on the ledger, duplicates included
    duplicates: int = 0  # extra acceptances of a number already accepted
    rejected: int = 0
    batches: int = 0  # batches stored by the emulator (floor: bodies built)
    bytes_posted: int = 0
    largest_body: int = 0
    expected_unique: int = 0
    client: dict[str, Any] = field(default_factory=dict)
    stderr_tail: str = ""

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys

    @property
    def rate(self) -> float:
        return self.rows / self.wall if self.wall > 0 else 0.0

    @property
    def fill(self) -> float | None:
        """Fewest batches the bytes posted could fit in (50 MiB each) / batches used."""
        if not self.batches or not self.bytes_posted:
            return None
        return math.ceil(self.bytes_posted / API_BODY_LIMIT) / self.batches

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sample:
        """The inverse of `to_dict` (derived values such as `rate` are recomputed)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def outcome(self) -> str:
        """"failed: body over 50 MB", "error: exit status 1", ... (no doubled status)."""
        if not self.reason:
            return self.status
        if self.reason.startswith(self.status):
            return self.reason
        return f"{self.status}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "contender": self.contender, "variant": self.variant, "size": self.size,
            "rows": self.rows, "rep": self.rep, "status": self.status, "reason": self.reason,
            "wall": round(self.wall, 4), "proc_wall": round(self.proc_wall, 4),
            "rate": round(self.rate, 1), "cpu": round(self.cpu, 4),
            "cpu_user": round(self.cpu_user, 4), "cpu_sys": round(self.cpu_sys, 4),
            "startup_cpu": round(self.startup_cpu, 4), "rss_mb": round(self.rss_mb, 2),
            "rss_wait4_mb": round(self.rss_wait4_mb, 2),
            "requests": self.requests, "responses_429": self.responses_429,
            "accepted": self.accepted, "duplicates": self.duplicates,
            "rejected": self.rejected, "batches": self.batches,
            "bytes_posted": self.bytes_posted, "largest_body": self.largest_body,
            "fill": None if self.fill is None else round(self.fill, 4),
            "expected_unique": self.expected_unique, "client": self.client,
            "stderr_tail": self.stderr_tail,
        }


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values))

    def to_dict(self, digits: int = 4) -> dict[str, float]:
        return {"median": round(self.median, digits), "min": round(self.low, digits),
                "max": round(self.high, digits)}


@dataclass(slots=True)
class Figure:
    """A contender on one file: medians (with min and max) over its successful runs."""

    contender: str
    variant: str
    size: str
    rows: int
    runs: int
    ok_runs: int
    status: str  # ok | failed | error: "ok" when at least one run succeeded
    reason: str = ""
    wall: Spread | None = None
    proc_wall: Spread | None = None
    rate: Spread | None = None
    cpu: Spread | None = None
    rss_mb: Spread | None = None
    # From the run with the median wall time (they do not vary between runs).
    representative: Sample | None = None

    def to_dict(self) -> dict[str, Any]:
        rep = self.representative
        out: dict[str, Any] = {
            "contender": self.contender, "variant": self.variant, "size": self.size,
            "rows": self.rows, "runs": self.runs, "ok_runs": self.ok_runs,
            "status": self.status, "reason": self.reason,
        }
        for name in ("wall", "proc_wall", "cpu", "rss_mb"):
            spread = getattr(self, name)
            out[name] = None if spread is None else spread.to_dict()
        out["rate"] = None if self.rate is None else self.rate.to_dict(1)
        if rep is not None:
            out.update({
                "requests": rep.requests, "responses_429": rep.responses_429,
                "accepted": rep.accepted, "duplicates": rep.duplicates,
                "rejected": rep.rejected, "expected_unique": rep.expected_unique,
                "batches": rep.batches, "bytes_posted": rep.bytes_posted,
                "largest_body": rep.largest_body,
                "fill": None if rep.fill is None else round(rep.fill, 4),
                "startup_cpu": rep.startup_cpu,
            })
        return out


def aggregate(samples: Iterable[Sample]) -> list[Figure]:
    groups: dict[tuple[str, str, str], list[Sample]] = {}
    for s in samples:
        groups.setdefault((s.variant, s.size, s.contender), []).append(s)
    figures = []
    for (variant, size, contender), group in groups.items():
        ok = [s for s in group if s.status == "ok"]
        figure = Figure(contender=contender, variant=variant, size=size, rows=group[0].rows,
                        runs=len(group), ok_runs=len(ok), status="ok")
        if ok:
            figure.wall = Spread.of([s.wall for s in ok])
            figure.proc_wall = Spread.of([s.proc_wall for s in ok])
            figure.rate = Spread.of([s.rate for s in ok])
            figure.cpu = Spread.of([s.cpu for s in ok])
            figure.rss_mb = Spread.of([s.rss_mb for s in ok])
            ranked = sorted(ok, key=lambda s: s.wall)
            figure.representative = ranked[(len(ranked) - 1) // 2]
            if len(ok) < len(group):
                figure.reason = f"{len(group) - len(ok)} of {len(group)} runs failed: " + \
                    next(s.reason for s in group if s.status != "ok")
        else:
            worst = "error" if any(s.status == "error" for s in group) else "failed"
            figure.status = worst
            figure.reason = next(s.reason for s in group if s.status == worst)
            figure.representative = group[-1]
            figure.cpu = Spread.of([s.cpu for s in group])
            figure.rss_mb = Spread.of([s.rss_mb for s in group])
        figures.append(figure)
    return figures


@dataclass(frozen=True, slots=True)
class Ratio:
    variant: str
    size: str
    pair: str  # "hvsms / sdk_sample"
    metric: str  # cpu | rss | wall
    value: float | None  # None: one side did not succeed
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.variant, "size": self.size, "pair": self.pair,
                "metric": self.metric,
                "value": None if self.value is None else round(self.value, 4),
                "note": self.note}


_PAIRS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sdk_sample", ("cpu", "rss")),
    ("handwritten", ("cpu", "rss", "wall")),
    ("floor", ("wall", "cpu", "rss")),
)


def _metric(figure: Figure, metric: str) -> float | None:
    spread = {"cpu": figure.cpu, "rss": figure.rss_mb, "wall": figure.wall}[metric]
    return None if spread is None else spread.median


def ratios(figures: Sequence[Figure]) -> list[Ratio]:
    """hvsms against each other contender, on the same file in the same run (medians)."""
    index = {(f.variant, f.size, f.contender): f for f in figures}
    out = []
    for f in figures:
        if f.contender != "hvsms":
            continue
        for other_name, metrics in _PAIRS:
            other = index.get((f.variant, f.size, other_name))
            if other is None:
                continue
            for metric in metrics:
                pair = f"hvsms / {other_name}"
                if f.status != "ok" or other.status != "ok":
                    bad = f if f.status != "ok" else other
                    why = "413" if "413" in bad.reason else bad.status
                    out.append(Ratio(f.variant, f.size, pair, metric, None,
                                     f"{bad.contender} {why}"))
                    continue
                mine, theirs = _metric(f, metric), _metric(other, metric)
                value = mine / theirs if mine is not None and theirs else None
                out.append(Ratio(f.variant, f.size, pair, metric, value))
    return out


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    verdict: str  # PASS | FAIL | NOT MEASURED
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "verdict": self.verdict, "detail": self.detail}

    def line(self) -> str:
        return f"{self.verdict:<12} {self.name}: {self.detail}"


def _find(figures: Sequence[Figure], variant: str, size: str, contender: str) -> Figure | None:
    for f in figures:
        if (f.variant, f.size, f.contender) == (variant, size, contender):
            return f
    return None


def _check(name: str, figure: Figure | None, test: Callable[[Figure], tuple[bool, str]],
           missing: str) -> Target:
    if figure is None:
        return Target(name, "NOT MEASURED", missing)
    if figure.status != "ok":
        reason = figure.reason if figure.reason.startswith(figure.status) else \
            f"{figure.status}: {figure.reason}"
        return Target(name, "FAIL", f"{figure.contender} {reason}")
    passed, detail = test(figure)
    return Target(name, "PASS" if passed else "FAIL", detail)


def _missing(variant: str, size: str) -> str:
    return f"no {variant} run at {size}" + (" (needs --large)" if size == "10M" else "")


def _rate_targets(figures: Sequence[Figure]) -> list[Target]:
    def rate_at_least(minimum: float) -> Callable[[Figure], tuple[bool, str]]:
        def test(f: Figure) -> tuple[bool, str]:
            assert f.rate is not None
            detail = (f"{f.rate.median:,.0f} recipients/s (median of {f.ok_runs}; "
                      f"min {f.rate.low:,.0f}, max {f.rate.high:,.0f})")
            return f.rate.median >= minimum, detail
        return test

    out = []
    for variant, minimum, label in (("to", 1_000_000, "to-only"),
                                    ("personalised", 300_000, "personalised")):
        for size in ("1M", "10M"):
            out.append(_check(f"hvsms >= {minimum:,} recipients/s, {label}, {size}",
                              _find(figures, variant, size, "hvsms"), rate_at_least(minimum),
                              _missing(variant, size)))
    return out


def _cpu_target(figures: Sequence[Figure]) -> Target:
    sdk = _find(figures, "to", "1M", "sdk_sample")

    def less_cpu(f: Figure) -> tuple[bool, str]:
        assert f.cpu is not None
        if sdk is None or sdk.status != "ok" or sdk.cpu is None:
            why = "not run" if sdk is None else f"{sdk.status}: {sdk.reason}"
            return False, f"no SDK-sample figure to compare with ({why})"
        factor = sdk.cpu.median / f.cpu.median
        return factor >= 10, (f"SDK sample {sdk.cpu.median:.2f} CPU-s, hvsms "
                              f"{f.cpu.median:.2f} CPU-s: {factor:.1f}x less")

    return _check("hvsms uses >= 10x less client CPU than the SDK sample, to-only, 1M",
                  _find(figures, "to", "1M", "hvsms"), less_cpu, _missing("to", "1M"))


def _floor_targets(figures: Sequence[Figure]) -> list[Target]:
    out = []
    for variant, size in (("to", "1M"), ("personalised", "1M"), ("to", "10M"),
                          ("personalised", "10M")):
        floor = _find(figures, variant, size, "floor")

        def near_floor(f: Figure, floor: Figure | None = floor) -> tuple[bool, str]:
            assert f.wall is not None
            if floor is None or floor.wall is None:
                return False, "no floor figure"
            factor = f.wall.median / floor.wall.median
            return factor <= 2, (f"hvsms {f.wall.median:.3f} s, floor {floor.wall.median:.3f} s:"
                                 f" {factor:.1f}x the floor's time")

        out.append(_check(f"hvsms within 2x of the floor, {variant}, {size}",
                          _find(figures, variant, size, "hvsms"), near_floor,
                          _missing(variant, size)))
    return out


def _memory_targets(figures: Sequence[Figure]) -> list[Target]:
    out = []
    for variant in ("to", "personalised"):
        small = _find(figures, variant, "1M", "hvsms")

        def flat(f: Figure, small: Figure | None = small) -> tuple[bool, str]:
            assert f.rss_mb is not None
            if small is None or small.rss_mb is None or small.status != "ok":
                return False, "no 1M figure to compare with"
            growth = f.rss_mb.median / small.rss_mb.median - 1
            ok = growth <= 0.10 and f.rss_mb.median < 256
            return ok, (f"peak RSS {small.rss_mb.median:.0f} MB at 1M, "
                        f"{f.rss_mb.median:.0f} MB at 10M ({growth:+.0%}; limit +10% "
                        "and 256 MB)")

        out.append(_check(f"hvsms peak RSS at 10M within 10% of 1M and under 256 MB, {variant}",
                          _find(figures, variant, "10M", "hvsms"), flat,
                          _missing(variant, "10M")))
    return out


def _economy_target(economy: dict[str, Any] | None) -> Target:
    name = "zero 429 responses in the API-economy scenario"
    if economy is None:
        return Target(name, "NOT MEASURED", "economy scenario not run (--economy)")
    if economy.get("status") != "ok":
        return Target(name, "FAIL", f"hvsms {economy.get('status')}: {economy.get('reason')}")
    got = int(economy.get("responses_429", 0))
    return Target(name, "PASS" if got == 0 else "FAIL",
                  f"{got} x 429 over {economy.get('total_requests')} requests, "
                  f"{economy.get('batches')} batches")


def targets(figures: Sequence[Figure], economy: dict[str, Any] | None) -> list[Target]:
    """The DESIGN.md targets, as measured here; reported, never asserted."""
    return [*_rate_targets(figures), _cpu_target(figures), *_floor_targets(figures),
            *_memory_targets(figures), _economy_target(economy)]
