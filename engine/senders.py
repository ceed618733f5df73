"""A pool of sender numbers and which one sends to whom (pure numpy, no I/O).

Each recipient is assigned to one sender of the pool by (weighted) rendezvous
hashing: every (recipient, sender) pair gets a score from a fixed 64-bit mix
of the two numbers, scaled by the sender's weight (its pace: a toll-free
number takes eight times the recipients of a local one, so they all finish
together), and the highest score wins. The assignment is

- sticky: the same recipient gets the same sender in every job and on every
  machine while the pool is the same (no salted `hash()`, no dependence on the
  order the numbers were given in);
- stable: adding a number to the pool moves only the recipients the new
  number wins (about 1/N of them); removing one moves only its own.

With `match_area_code`, a recipient whose area code is that of a local number
of the pool is sent from one of those local numbers (sticky among them); every
other recipient is spread over the whole pool.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .errors import SenderError
from .phones import is_e164

__all__ = ["ALL", "TOLL_FREE_AREA_CODES", "SenderPool", "area_code", "capacity_shares",
           "is_toll_free", "pace_weight", "parse_senders"]

# `--from all`: every A2P SMS number of the account.
ALL = "all"
# North American toll-free area codes (NANPA).
TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})

Indices = npt.NDArray[np.intp]


def pace_weight(number: str) -> float:
    """A number's share of a pool: its pace by type (toll-free 8/s, local 1/s;
    RingCentral's figures), told by its area code so every run agrees."""
    return 8.0 if is_toll_free(number) else 1.0


def capacity_shares(rates: Sequence[float], caps: Sequence[int | None], *,
                    open_hours: float, recipients: int, day_begun: float = 0.0
                    ) -> tuple[float, ...]:
    """How many of `recipients` each number of a pool should take so that all finish
    together (pure; the weights of `SenderPool`).

    A number sends at its pace (`rates`, per second) while its recipients' window is
    open (`open_hours` a day, taken as spread over the day) and at most its daily cap
    (`caps`, per number: None for none) per UTC day, of which `day_begun` (0-1) is
    over at the start. The common finish is found by bisection on the days of
    sending: a cap that binds only over a long campaign changes nothing in a short one.
    """
    per_day = [r * open_hours * 3600.0 for r in rates]
    first_day = 1.0 - min(max(day_begun, 0.0), 0.999)

    def sent(days: float, i: int) -> float:
        cap = caps[i]
        if cap is None:
            return per_day[i] * days
        first = min(days, first_day)
        whole, part = divmod(days - first, 1.0)
        return (min(per_day[i] * first, cap) + min(per_day[i], cap) * whole
                + min(per_day[i] * part, cap))

    lo, hi = 0.0, 1.0
    while sum(sent(hi, i) for i in range(len(rates))) < recipients and hi < 1e6:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(sent(mid, i) for i in range(len(rates))) < recipients:
            lo = mid
        else:
            hi = mid
    shares = [max(sent(hi, i), 1e-9) for i in range(len(rates))]
    if recipients <= 0:
        return tuple(per_day)
    return tuple(_spill_margin(shares, [sent(hi, i) < per_day[i] * hi - 1
                                        for i in range(len(rates))], recipients))


def _spill_margin(shares: list[float], bound: list[bool], recipients: int) -> list[float]:
    """Hashing gives a number its share only on average (a binomial spread): a number
    held to its caps (`bound`) takes three standard deviations less, the others the
    rest, so its cap is not passed by a few recipients that would wait a day."""
    free = sum(s for s, b in zip(shares, bound, strict=True) if not b)
    if free <= 0 or not any(bound):
        return shares
    out, spare = [], 0.0
    for s, b in zip(shares, bound, strict=True):
        if b:
            p = s / recipients
            less = min(3.0 * math.sqrt(recipients * p * (1.0 - p)), s / 2)
            s, spare = s - less, spare + less
        out.append(s)
    return [s if b else s + spare * s / free for s, b in zip(out, bound, strict=True)]


def area_code(number: str) -> str | None:
    """The NPA of a +1 number (`+1415...` -> `"415"`); None outside +1."""
    if number.startswith("+1") and len(number) == 12:
        return number[2:5]
    return None


def is_toll_free(number: str) -> bool:
    return area_code(number) in TOLL_FREE_AREA_CODES


def parse_senders(values: Iterable[str] | str | None) -> tuple[str, ...] | None:
    """`--from` values as a pool: None (the account's first A2P number), `("all",)`,
    or distinct E.164 numbers in the order given."""
    if values is None:
        return None
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for value in items:
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            if part.lower() == ALL:
                if len(items) > 1 or "," in value:
                    raise SenderError("--from all means every A2P number: give it alone")
                return (ALL,)
            if not is_e164(part):
                raise SenderError(f"sender {part!r} is not an E.164 number (+15551234567)")
            if part not in out:
                out.append(part)
    return tuple(out) or None


def _mix64(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64: a fixed, well-spread 64-bit mix (the same on every machine)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        out: npt.NDArray[np.uint64] = z ^ (z >> np.uint64(31))
    return out


def _digits(numbers: Sequence[str]) -> npt.NDArray[np.uint64]:
    """E.164 numbers as integers (`+14155550100` -> 14155550100)."""
    return np.fromiter((int(n[1:]) for n in numbers), np.uint64, len(numbers))


@dataclass(frozen=True, slots=True)
class SenderPool:
    """The numbers a job sends from; `assign` says which sends to each recipient."""

    numbers: tuple[str, ...]
    match_area_code: bool = False
    # Share of recipients per number (its pace); None: equal shares.
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.numbers:
            raise SenderError("a sender pool needs at least one number")
        if len(set(self.numbers)) != len(self.numbers):
            raise SenderError("a sender pool lists a number twice")
        for n in self.numbers:
            if not is_e164(n):
                raise SenderError(f"sender {n!r} is not an E.164 number (+15551234567)")
        if self.weights is not None and (len(self.weights) != len(self.numbers)
                                         or min(self.weights) <= 0):
            raise SenderError("a sender pool needs one positive weight per number")

    def __len__(self) -> int:
        return len(self.numbers)

    def assign(self, recipients: Sequence[str]) -> Indices:
        """Index into `numbers` of the sender of each recipient (E.164 strings)."""
        n = len(recipients)
        if len(self.numbers) == 1 or n == 0:
            return np.zeros(n, dtype=np.intp)
        keys = _mix64(_digits(self.numbers))
        who = _digits(recipients)
        # A uniform draw in (0, 1) per pair; weight / -ln(draw) is weighted rendezvous
        # hashing (each sender wins its weight's share). Scores are positive: 0 is
        # left for the senders a recipient may not use.
        draws = ((_mix64(who[:, None] ^ keys[None, :]) >> np.uint64(11)).astype(np.float64)
                 + 0.5) / float(1 << 53)
        weights = np.asarray(self.weights or (1.0,) * len(self.numbers), dtype=np.float64)
        scores = weights[None, :] / -np.log(draws)
        if self.match_area_code:
            self._only_local_matches(recipients, scores)
        out: Indices = np.argmax(scores, axis=1).astype(np.intp)
        return out

    def _only_local_matches(self, recipients: Sequence[str],
                            scores: npt.NDArray[np.float64]) -> None:
        local = {i: area_code(s) for i, s in enumerate(self.numbers) if not is_toll_free(s)}
        codes = {c for c in local.values() if c is not None}
        if not codes:
            return
        npa = np.fromiter((int(r[2:5]) if area_code(r) else 0 for r in recipients),
                          np.int64, len(recipients))
        matched = np.isin(npa, [int(c) for c in codes])
        if not matched.any():
            return
        for i in range(len(self.numbers)):
            code = local.get(i)
            mine = npa == int(code) if code is not None else np.zeros(len(npa), np.bool_)
            # A matched recipient may only use the local numbers of its own area code.
            scores[matched & ~mine, i] = 0

    def sender_of(self, recipient: str) -> str:
        return self.numbers[int(self.assign([recipient])[0])]
