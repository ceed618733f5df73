"""Which recipients of a batch the service refuses at submit time (pure numpy).

High Volume SMS serves the US and Canada only: a valid E.164 number outside
+1 (or a "+1" number that is not 10 digits long) is rejected. Of the valid +1
numbers, a configured set and a configured share are rejected as the carrier
would (invalid, landline). The share is drawn per number from a hash of the
number and the seed, so a number is always rejected or always accepted,
whichever batch or sender it comes in.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["carrier_rejects", "mix64", "outside_plus_one"]

Int64s = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# +1 and ten digits: 1 000 000 0000 .. 1 999 999 9999.
_PLUS_ONE_LO = 10_000_000_000
_PLUS_ONE_HI = 20_000_000_000


def outside_plus_one(numbers: Int64s) -> Bools:
    """Valid E.164 numbers (non-zero) that are not +1 followed by ten digits."""
    outside: Bools = (numbers != 0) & ((numbers < _PLUS_ONE_LO) | (numbers >= _PLUS_ONE_HI))
    return outside


def mix64(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser: every input bit moves every output bit."""
    x = values.copy()
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def carrier_rejects(numbers: Int64s, share: float, seed: int) -> Bools:
    """The numbers (of `numbers`, non-zero) in the seeded `share` the carrier refuses."""
    if share <= 0 or not len(numbers):
        return np.zeros(len(numbers), dtype=np.bool_)
    salt = mix64(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))[0]
    with np.errstate(over="ignore"):
        hashed = mix64(numbers.astype(np.uint64) ^ salt)
    # The top 53 bits as a float in [0, 1).
    draws = (hashed >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    hit: Bools = (draws < share) & (numbers != 0)
    return hit
