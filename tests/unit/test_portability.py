"""The package on Pythons and systems that lack what CPython on Linux has.

Each fallback is forced in a fresh interpreter before `engine` is imported:
CPython's private regex parser absent (`re._parser`), and maps that cannot be
resized in place (macOS has no mremap: CPython raises SystemError). Numbers
must come out the same, dedupe must stay exact, and a small send must work.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, mmap, sys

    sys.modules["re._parser"] = None  # import raises ImportError

    refused = []

    class NoRemap(mmap.mmap):
        def resize(self, newsize):
            refused.append(newsize)
            raise SystemError("mmap: resizing not available--no mremap()")

    mmap.mmap = NoRemap

    import numpy as np
    import engine
    from engine import numberset, phones

    assert phones._sre is None
    norm = phones.Normalizer("US")
    out, dropped = norm.normalize(["(415) 555-0100", "+44 20 7946 0958", "555-0100", "12"])
    assert out[:2] == ["+14155550100", "+442079460958"], out
    assert sorted(dropped) == [2, 3], dropped

    seen, first = numberset.Seen(), {}
    seen.CHUNK = 1000
    rng = np.random.default_rng(3)
    line = 1
    for _ in range(12):
        block = ["+" + str(x) for x in rng.integers(10**10, 10**10 + 20_000, 3000).tolist()]
        want = {}
        for i, n in enumerate(block):
            if n in first:
                want[i] = first[n]
            else:
                first[n] = line + i
        assert seen.check(block, list(range(line, line + len(block)))) == want
        line += len(block)
    assert len(seen) == len(first) and refused, (len(seen), len(first), len(refused))

    report = asyncio.run(engine.send_bulk(sys.argv[1], text="Hi from hvsms. Reply STOP to opt out"))
    print(report.status, report.counts.accepted)
    """
)


def test_fallbacks_give_the_same_answers_and_a_send_works(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    env["HVSMS_STATE_DIR"] = str(tmp_path / "state")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(ROOT / "samples" / "recipients.csv")],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["completed", "20"]
