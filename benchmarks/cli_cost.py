"""`python -m benchmarks --cli-cost`: what `hvsms send FILE --yes` costs over `send_bulk`.

Both run as their own process on the same file against one emulator process
(rate limits off, instant processing), measured from outside (`measure.py`:
user + sys CPU of the process, start-up included): the library contender
(`benchmarks.contenders.hvsms`, `engine.send_bulk`) and the command line with
credentials, which logs in, plans the whole file, shows the plan, then sends
what it planned. Neither fetches per-message results (`--no-results`), as in
the main benchmark. The target: the command within 25% of the library's CPU.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import data
from .contenders import POLL_INTERVAL
from .measure import Exit, run_measured

TARGET = 1.25  # the command's CPU over the library's


def _library(path: Path, text: str) -> list[str]:
    return [sys.executable, "-m", "benchmarks.contenders.hvsms", str(path), "--text", text,
            "--poll-interval", str(POLL_INTERVAL)]


def _command(path: Path, text: str, work: str) -> list[str]:
    return [sys.executable, "-m", "engine", "send", str(path), "--text", text, "--yes",
            "--again", "--no-results", "-q", "--journal", os.path.join(work, "job.journal"),
            "--report", os.path.join(work, "report")]


def scenario(rows: int, runs: int, seed: int) -> dict[str, Any]:
    from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig

    f = data.ensure("to", rows, seed=seed)
    config = EmulatorConfig.fast(processing_rate=math.inf,
                                 rate_limits=RateLimitConfig(enabled=False))
    cpu: dict[str, list[float]] = {"send_bulk": [], "hvsms send --yes": []}
    with EmulatorProcess(config) as emu:
        env = {**os.environ, "RC_SERVER_URL": emu.url, "RC_APP_CLIENT_ID": config.client_id,
               "RC_APP_CLIENT_SECRET": config.client_secret, "RC_USER_JWT": config.jwt}
        for _ in range(runs):
            for name, values in cpu.items():  # alternate: drift on a shared machine hits both
                emu.reset()
                with tempfile.TemporaryDirectory(prefix="hvsms-cli-cost-") as work:
                    cmd = (_library(f.path, f.meta.text) if name == "send_bulk"
                           else _command(f.path, f.meta.text, work))
                    ex = run_measured(cmd, env={**env, "HVSMS_STATE_DIR": work},
                                      timeout=1800)
                _check(name, ex, emu.ledger(), f.meta.rows)
                values.append(round(ex.cpu, 3))
    medians = {k: statistics.median(v) for k, v in cpu.items()}
    ratio = medians["hvsms send --yes"] / medians["send_bulk"]
    return {"rows": rows, "runs": runs, "cpu_s": cpu, "median_cpu_s": medians,
            "ratio": round(ratio, 3), "target": TARGET, "pass": ratio <= TARGET}


def _check(name: str, ex: Exit, ledger: dict[str, Any], rows: int) -> None:
    if ex.code != 0 or ledger["accepted"] != rows:
        raise SystemExit(f"{name}: exit {ex.code}, {ledger['accepted']:,} of {rows:,} "
                         f"accepted\n{ex.stderr[-2000:]}")


def main(argv: Sequence[str] | None = None, *, out: Path | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks --cli-cost")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    args = p.parse_args(argv)
    doc = scenario(args.rows, args.runs, args.seed)
    for name, values in doc["cpu_s"].items():
        print(f"{name}: CPU {', '.join(f'{v:.2f}' for v in values)} s "
              f"(median {doc['median_cpu_s'][name]:.2f} s), {args.rows:,} rows")
    print(f"hvsms send --yes / send_bulk CPU: {doc['ratio']:.2f}x "
          f"({'PASS' if doc['pass'] else 'MISS'}: target <= {TARGET:.2f}x)")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "cli-cost.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0
