"""The campaign scenario: a sender pool against the realistic emulator, in compressed time.

    python -m benchmarks --campaign        # 200,000 recipients (about two minutes)
    python -m benchmarks.campaign --rows 20000 --scale 400

Recipients spread over four US time zones (area codes 212, 312, 303, 415), three
senders (one toll-free at 8/s, two local at 1/s), a 08:00-21:00 window in each
recipient's local time, a daily cap per sender, a 10-minute horizon. The
emulator runs `--scale` times faster than real time and the engine is given
its clock. Judged on the emulator's own records, it writes `campaign.json`
with exactly these keys:

- `utilisation`: the physical limit (the senders' total throughput over the
  hours when some recipient's window is open) / the campaign's duration, both
  from the first batch the server accepted (the client's own start, about a
  real second, would otherwise count `--scale` times over);
- `outside_window`: messages processed outside their recipient's window;
- `over_cap`: messages processed past a sender's daily cap;
- `duplicates`: recipients texted more than once;
- `max_queued_seconds`: per sender, the most it ever had queued on the
  server, in seconds of its own throughput (the horizon is 600);

and `campaign.png`: messages per minute per sender over the campaign.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["main", "run_campaign"]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SENDERS = {"+18885550100": 8.0, "+16505550100": 1.0, "+16505550101": 1.0}
AREA_CODES = ("212", "312", "303", "415")  # Eastern, Central, Mountain, Pacific
WINDOW = "08:00-21:00"
HORIZON = 600.0
CAP = 250_000  # "up to 250,000 texts per day" from one number (RingCentral)
START_UTC_HOUR = 14  # 09:00 in New York (winter), 06:00 in California


def _write(path: Path, rows: int) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["to"])
        for i in range(rows):
            k = i // len(AREA_CODES)
            npa = AREA_CODES[i % len(AREA_CODES)]
            w.writerow([f"+1{npa}{200 + k // 10_000:03d}{k % 10_000:04d}"])


def _physical_limit(quiet: Any, counts: dict[str, int], rate: float, start: float) -> float:
    """Seconds from `start` an ideal sender of the pool's total pace needs, working on
    whichever recipients may be reached (the window that closes first, first)."""
    left = dict(counts)
    t = start
    for _ in range(100_000):
        if not any(left.values()):
            return t - start
        open_now = [(span[1], key) for key in left if left[key]
                    and (span := quiet.open_span(key, t)) is not None]
        if not open_now:
            t = min(o for key in left if left[key]
                    and (o := quiet.next_open(key, t)) is not None)
            continue
        close, key = min(open_now)
        nexts = [o for k in left if left[k] and quiet.open_span(k, t) is None
                 and (o := quiet.next_open(k, t)) is not None]
        until = min([close, *nexts])
        n = min(left[key], max(1, int((until - t) * rate)))
        left[key] -= n
        t += n / rate
    return math.inf


async def _campaign(rows: int, scale: float, work: Path) -> dict[str, Any]:
    import engine
    from engine.clock import Clock
    from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig
    from engine.quiet_hours import QuietHours, parse_window

    path = work / "campaign.csv"
    _write(path, rows)
    config = EmulatorConfig(time_scale=scale, rate_limits=RateLimitConfig(enabled=False),
                            receipt_delay=0.0, late_receipt_share=0.0,
                            pending_failure_share=0.0, daily_cap=CAP,
                            # Token lifetimes shrink with the clock too: at x600 an hour
                            # is 6 s, and each renewal counts against the client's Auth
                            # budget (5 a minute, in real time), which would stall it.
                            access_token_ttl=30 * 86_400, refresh_token_ttl=60 * 86_400)
    async with Emulator(config) as emu:
        now = emu.runtime.clock()
        target = (now // 86_400 + 1) * 86_400 + START_UTC_HOUR * 3600
        emu.advance(target - now)
        peak: Counter[str] = Counter()

        async def watch() -> None:
            while True:
                t = emu.runtime.clock()
                queued: Counter[str] = Counter()
                for b in emu.runtime.state.batches:
                    queued[b.sender] += b.size - b.processed(t)
                for s, n in queued.items():
                    peak[s] = max(peak[s], n)
                await asyncio.sleep(0.01)

        watcher = asyncio.create_task(watch())
        start = emu.runtime.clock()
        report = await engine.send_bulk(
            path, text="Spring sale: 20% off today", sender=list(SENDERS),
            credentials=emu.credentials, journal=work / "campaign.journal",
            options=engine.JobOptions(window=WINDOW, daily_cap=CAP, horizon=HORIZON,
                                      poll_interval=0.01, max_poll_interval=0.05,
                                      light_limit=10_000),
            clock=Clock(now=emu.runtime.clock, scale=scale))
        watcher.cancel()
        ledger = emu.ledger()
        batches = list(emu.runtime.state.batches)

    span = parse_window(WINDOW)
    assert span is not None
    quiet = QuietHours(span)
    outside = 0
    last = start
    lanes: Counter[str] = Counter()  # accepted recipients per hours key
    per_day: Counter[tuple[str, int]] = Counter()
    minutes: dict[str, Counter[int]] = {s: Counter() for s in SENDERS}
    for b in batches:
        if not b.size:
            continue
        at = b.processed_at_many(np.arange(b.size, dtype=np.int64))
        last = max(last, float(at.max()))
        key = quiet.key_of(f"+{int(b.numbers[0])}")  # a batch holds one lane's hours
        lanes[key] += b.size
        keys = {quiet.key_of(f"+{int(n)}") for n in b.numbers[:: max(1, b.size // 50)]}
        assert keys == {key}, "a batch mixes recipients of different hours"
        spans = quiet.intervals(key, float(at.min()) - 1, float(at.max()) + 1)
        ok = np.zeros(len(at), dtype=np.bool_)
        for a, e in spans:
            ok |= (at >= a) & (at < e)
        outside += int((~ok).sum())
        for day, n in Counter((at // 86_400).astype(np.int64).tolist()).items():
            per_day[(b.sender, day)] += n
        minutes[b.sender].update(((at - start) // 60).astype(np.int64).tolist())
    # From the first batch the server accepted: the client's own start (reading and
    # planning the file, about a real second) is magnified by the compressed clock.
    start = min((b.created for b in batches), default=start)
    limit = _physical_limit(quiet, dict(lanes), sum(SENDERS.values()), start)
    duration = last - start
    return {
        "result": {
            "utilisation": round(limit / duration, 4) if duration > 0 else 0.0,
            "outside_window": outside,
            "over_cap": sum(max(0, n - CAP) for n in per_day.values()),
            "duplicates": int(ledger["duplicates"]),
            "max_queued_seconds": {s: round(peak[s] / r, 1) for s, r in SENDERS.items()},
        },
        "minutes": {s: sorted(c.items()) for s, c in minutes.items()},
        "status": report.status,
        "accepted": report.counts.accepted,
        "duration_hours": round(duration / 3600, 2),
        "limit_hours": round(limit / 3600, 2),
    }


def _plot(minutes: dict[str, list[tuple[int, int]]], out: Path) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "plot skipped: matplotlib is not installed (pip install -e '.[bench]')"
    fig, ax = plt.subplots(figsize=(9, 4))
    for sender, points in minutes.items():
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot([x / 60 for x in xs], ys, label=f"{sender} ({SENDERS[sender]:g}/s)")
    ax.set_xlabel("hours since the start (emulated)")
    ax.set_ylabel("messages per minute")
    ax.set_title("campaign: messages processed per minute per sender")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return None


def run_campaign(rows: int, scale: float, out_dir: Path, stem: str = "campaign"
                 ) -> dict[str, Any]:
    """Run the scenario; write `stem`.json (and `stem`.png) to `out_dir`."""
    with tempfile.TemporaryDirectory(prefix="hvsms-campaign-") as tmp:
        outcome = asyncio.run(_campaign(rows, scale, Path(tmp)))
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(outcome["result"], indent=2) + "\n")
    note = _plot(outcome["minutes"], out_dir / f"{stem}.png")
    outcome["note"] = note
    return outcome


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.campaign", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000)
    # The client's own work (cutting and rebuilding a batch from the file, a tenth
    # of a real second) is magnified by the scale; at x200 it stays well inside the
    # half horizon each sender keeps in reserve.
    p.add_argument("--scale", type=float, default=200.0,
                   help="emulated seconds per real second")
    p.add_argument("--out", type=Path, default=RESULTS_DIR)
    p.add_argument("--stem", default="campaign", help="file names: STEM.json, STEM.png")
    args = p.parse_args(argv)
    outcome = run_campaign(args.rows, args.scale, args.out, args.stem)
    r = outcome["result"]
    print(f"campaign: {args.rows:,} recipients, {len(SENDERS)} senders, window {WINDOW}, "
          f"x{args.scale:g} time: {outcome['status']}, {outcome['accepted']:,} accepted in "
          f"{outcome['duration_hours']} h (physical limit {outcome['limit_hours']} h)")
    print(json.dumps(r, indent=2))
    if outcome["note"]:
        print(f"note: {outcome['note']}")
    print(f"wrote {args.out / (args.stem + '.json')}")
    ok = (outcome["status"] == "completed" and r["outside_window"] == 0 and r["over_cap"] == 0
          and r["duplicates"] == 0)
    return 0 if ok else 3


if __name__ == "__main__":
    sys.exit(main())
