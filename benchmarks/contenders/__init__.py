"""The contenders: each runs as `python -m benchmarks.contenders.<name> FILE --text T`.

Each one reads the emulator's address and credentials from the RC_* variables
(RingCentral's own names), does its job, and prints one JSON line of its own
figures (`_common.Result`). CPU, memory and the API requests are measured
from outside, by the runner (os.wait4) and the emulator's ledger.
"""

CONTENDERS = ("hvsms", "sdk_sample", "handwritten", "floor")

# Every contender polls a batch's status this often (RingCentral's sample
# waits 5 s; hvsms's default first poll is after 2 s). The same for all, so
# no contender's time is mostly sleeping.
POLL_INTERVAL = 0.2
