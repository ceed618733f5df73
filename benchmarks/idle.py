"""`python -m benchmarks --idle`: what a paced campaign costs while it waits on its numbers.

The realistic emulator (its own process: each number at its type's pace,
RingCentral's rate limits, receipts that come late) runs `--scale` times faster
than real time. The job (its own process, measured from outside with
`os.wait4`, and from inside with `getrusage` when its first batch is accepted)
sends `--rows` recipients from one toll-free number (8 messages/s) with the
default options, delivery results included, and a progress callback; the engine
is given the emulator's clock. The poller's intervals are real seconds, so
they are divided by the scale: it polls as often per emulated hour as it would
per real hour.

Reported: CPU seconds of the job from its first accepted batch to its end, per
emulated hour of that stretch: the CPU a real campaign spends per real hour
(every timer of the engine runs on the clock it is given). The target: <= 5.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import data
from .measure import run_measured
from .runner import ROOT, _last_json, snapshot

ROWS = 100_000  # 3.5 emulated hours at 8/s
SCALE = 600.0  # emulated seconds per real second
TARGET = 5.0  # CPU seconds per real hour
SENDER = "+18885550100"  # the emulator's toll-free number: 8 messages/s
SERVER = ("the realistic emulator (each number at its type's pace, Light 50 requests a "
          "minute, receipts up to 30 s late and a share much later) in compressed time")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _emulated_now(url: str) -> float:
    """The emulator's clock, as its control API says it (advancing it by nothing)."""
    from engine.emulator.responses import parse_time

    request = urllib.request.Request(url + "/_emulator/advance", data=b'{"seconds": 0}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return parse_time(json.loads(response.read())["now"])


async def _child(path: str, text: str, scale: float) -> dict[str, Any]:
    import engine
    from engine.clock import Clock
    from engine.config import JobOptions

    url = os.environ["RC_SERVER_URL"]
    base, t0 = _emulated_now(url), time.time()
    clock = Clock(now=lambda: base + (time.time() - t0) * scale, scale=scale)
    first: list[tuple[float, float]] = []  # (CPU, emulated time) at the first accepted batch
    ticks = 0

    def progress(p: engine.Progress) -> None:
        nonlocal ticks
        ticks += 1
        if p.batches_submitted and not first:
            first.append((_cpu(), clock.now()))

    credentials = engine.Credentials(url, os.environ["RC_APP_CLIENT_ID"],
                                     os.environ["RC_APP_CLIENT_SECRET"],
                                     os.environ["RC_USER_JWT"])
    defaults = JobOptions()
    options = JobOptions(poll_interval=defaults.poll_interval / scale,
                         max_poll_interval=defaults.max_poll_interval / scale)
    journal = Path(os.environ["HVSMS_IDLE_DIR"]) / "job.journal"
    report = await engine.send_bulk(path, text=text, sender=SENDER, credentials=credentials,
                                    journal=journal, options=options, progress=progress,
                                    clock=clock)
    end_cpu, end = _cpu(), clock.now()
    cpu0, start = first[0] if first else (end_cpu, end)
    return {"status": report.status, "accepted": report.counts.accepted,
            "batches": len(report.batches), "requests": report.requests.get("requests", {}),
            "progress_calls": ticks, "cpu_waiting_s": round(end_cpu - cpu0, 3),
            "emulated_hours": round((end - start) / 3600, 3)}


def scenario(rows: int, scale: float, seed: int) -> dict[str, Any]:
    import tempfile

    from engine.emulator import EmulatorConfig, EmulatorProcess

    f = data.ensure("to", rows, seed=seed)
    # Token lifetimes shrink with the clock too; real ones last an hour, which is
    # not what this measures (and would spend the Auth budget in real seconds).
    config = EmulatorConfig(time_scale=scale, access_token_ttl=30 * 86_400,
                            refresh_token_ttl=60 * 86_400, daily_cap=None)
    with (snapshot(ROOT) as code, EmulatorProcess(config) as emu,
          tempfile.TemporaryDirectory(prefix="hvsms-idle-") as d):
        env = {**os.environ, "RC_SERVER_URL": emu.url, "RC_APP_CLIENT_ID": config.client_id,
               "RC_APP_CLIENT_SECRET": config.client_secret, "RC_USER_JWT": config.jwt,
               "HVSMS_IDLE_DIR": d, "PYTHONPATH": str(code)}
        env.pop("PYTHONSTARTUP", None)
        cmd = [sys.executable, "-m", "benchmarks.idle", "--child", str(f.path), "--text",
               f.meta.text, "--scale", str(scale)]
        ex = run_measured(cmd, env=env, timeout=3600, cwd=str(code))
        ledger = emu.ledger()
    child = _last_json(ex.stdout)
    if ex.code != 0 or child is None or child["status"] != "completed":
        raise SystemExit(f"the job did not complete: exit {ex.code}\n{ex.stderr[-2000:]}")
    hours = child["emulated_hours"]
    per_hour = child["cpu_waiting_s"] / hours if hours > 0 else float("nan")
    return {"rows": rows, "scale": scale, "sender": SENDER, "server": SERVER,
            "job": child, "accepted_by_server": int(ledger["accepted"]),
            "duplicates": int(ledger["duplicates"]), "responses_429": int(ledger["responses_429"]),
            "cpu_total_s": round(ex.cpu, 3), "wall_s": round(ex.wall, 1),
            "cpu_s_per_real_hour": round(per_hour, 3), "target": TARGET,
            "pass": per_hour <= TARGET}


def main(argv: Sequence[str] | None = None, *, out: Path | None = None,
         stem: str = "idle") -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks --idle")
    p.add_argument("--rows", type=int, default=ROWS)
    p.add_argument("--scale", type=float, default=SCALE)
    p.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--text", default=data.DEFAULT_TEXT, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child is not None:
        print(json.dumps(asyncio.run(_child(args.child, args.text, args.scale))))
        return 0
    doc = scenario(args.rows, args.scale, args.seed)
    job = doc["job"]
    print(f"idle: {args.rows:,} recipients from {SENDER} (8/s) on {SERVER}, x{args.scale:g}: "
          f"{job['accepted']:,} accepted in {job['batches']} batches over "
          f"{job['emulated_hours']} emulated hours; {doc['responses_429']} x 429")
    print(f"CPU while paced: {job['cpu_waiting_s']:.2f} s over {job['emulated_hours']} h = "
          f"{doc['cpu_s_per_real_hour']:.2f} CPU-s per real hour "
          f"({'PASS' if doc['pass'] else 'MISS'}: target <= {TARGET:g}); whole process "
          f"{doc['cpu_total_s']:.2f} CPU-s")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
