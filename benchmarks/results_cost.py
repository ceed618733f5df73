"""`python -m benchmarks --results-cost`: what complete delivery results cost.

The same job runs twice on one emulator (its own process) with RingCentral's
Light budget of 50 requests a window switched on: once with ``--no-results``
(`JobOptions(fetch_delivery=False)`) and once fetching every message's result.
Reported: the requests spent on results per 1,000,000 messages, 429 answers,
and the submission time (start to the last batch accepted) of both runs, which
must be the same: results pages only use spare room in the budget.

The window is 6 s instead of 60 s (everything ten times faster, the same
contest for the budget), so the scenario takes a minute or two, not twenty.

A third run fetches the results with A2P events on (`JobOptions(events=True)`,
the default; the first two poll only): requests per 1,000,000 messages of
each run, and the delay from a failed message's final status (its
`lastModifiedTime` on the server) to its row in the journal (what
`failed.csv` is written from): the results page that listed it when polling,
the event that told it otherwise. The delay is measured on a sample of failed
messages (`SAMPLE`, looked up 15 numbers a request after the run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import data

ROWS = 200_000
BATCH_MESSAGES = 2_000  # 100 POSTs for 200,000 rows: sending alone needs several windows
LIGHT, WINDOW = 50, 6.0
PROCESSING_RATE = 40_000.0  # messages/s per sender: batches complete while others are posted
SAMPLE = 45  # failed messages whose delay is measured (15 numbers a lookup)


async def _delays(credentials: Any, journal: Path, *, events: bool) -> list[float]:
    """Seconds from final status to journal row, for up to `SAMPLE` failed messages."""
    import sqlite3

    from engine.api.a2p import ACCOUNT
    from engine.api.auth import Auth
    from engine.api.http import ApiClient
    from engine.emulator.responses import parse_time

    db = sqlite3.connect(journal)
    try:
        if events:
            rows = db.execute("SELECT b.batch_id, l.recipient, l.at FROM live_results l "
                              "JOIN batches b ON b.seq = l.seq ORDER BY l.rowid LIMIT ?",
                              (SAMPLE,)).fetchall()
        else:
            rows = db.execute("SELECT b.batch_id, r.recipient, rb.updated FROM results r "
                              "JOIN batches b ON b.seq = r.seq JOIN result_batches rb "
                              "ON rb.seq = r.seq WHERE r.status IN ('DeliveryFailed', "
                              "'SendingFailed') ORDER BY r.rowid LIMIT ?", (SAMPLE,)).fetchall()
    finally:
        db.close()
    written = {(b, to): float(at) for b, to, at in rows}
    delays: list[float] = []
    async with ApiClient(credentials.server_url, light_limit=LIGHT) as client:
        client.auth = Auth(client, credentials)
        by_batch: dict[str, list[str]] = {}
        for batch_id, to in written:
            by_batch.setdefault(batch_id, []).append(to)
        for batch_id, numbers in by_batch.items():
            for i in range(0, len(numbers), 15):
                params = [("batchId", batch_id), ("perPage", "1000")]
                params += [("phoneNumber", n) for n in numbers[i:i + 15]]
                resp = await client.request("GET", f"{ACCOUNT}/a2p-sms/messages",
                                            endpoint="listA2PSMS", params=params)
                for rec in resp.data.get("records") or ():
                    key = (batch_id, rec["to"][0])
                    if key in written:
                        delays.append(written[key] - parse_time(rec["lastModifiedTime"]))
    return delays


async def _one(credentials: Any, path: Path, text: str, *, results: bool,
               events: bool = False) -> dict[str, Any]:
    import engine

    submitted_at: list[float] = []
    started = time.monotonic()

    def progress(p: engine.Progress) -> None:
        if p.planning_done and p.batches_submitted >= p.batches_planned and not submitted_at:
            submitted_at.append(time.monotonic() - started)

    with tempfile.TemporaryDirectory(prefix="hvsms-results-cost-") as d:
        report = await engine.send_bulk(
            path, text=text, credentials=credentials, journal=Path(d) / "job.journal",
            progress=progress,
            options=engine.JobOptions(max_batch_messages=BATCH_MESSAGES, light_limit=LIGHT,
                                      fetch_delivery=results, events=events))
        delays = (sorted(await _delays(credentials, Path(d) / "job.journal", events=events))
                  if results else [])
    requests = dict(report.requests.get("requests") or {})
    pages = int(requests.get("listA2PSMS", 0))
    accepted = report.counts.accepted
    polls = sum(int(requests.get(k, 0)) for k in ("readA2PBatch", "listA2PBatches",
                                                    "aggregateA2PSMSStatuses"))
    return {
        "results": results, "events": events, "status": report.status, "accepted": accepted,
        "requests_per_1m": round(sum(requests.values()) / accepted * 1e6) if accepted else None,
        "polls": polls,
        "delay_median_s": round(delays[len(delays) // 2], 3) if delays else None,
        "delay_max_s": round(delays[-1], 3) if delays else None,
        "delay_sample": len(delays),
        "batches": len(report.batches),
        "submission_s": round(submitted_at[0], 2) if submitted_at else None,
        "elapsed_s": round(report.elapsed, 2), "requests": requests,
        "total_requests": sum(requests.values()),
        "responses_429": int(report.requests.get("rate_limited", 0)),
        "results_pages": pages,
        "results_requests_per_1m": round(pages / accepted * 1e6) if accepted else None,
        "failed": report.counts.failed, "failed_listed": len(report.failed),
    }


async def scenario(rows: int, seed: int) -> dict[str, Any]:
    from engine.emulator import EmulatorConfig, EmulatorProcess, RateLimitConfig

    f = data.ensure("to", rows, seed=seed)
    # The fast service (receipts at once) where the emulator is realistic by default.
    make = getattr(EmulatorConfig, "fast", EmulatorConfig)
    config = make(processing_rate=PROCESSING_RATE,
                  rate_limits=RateLimitConfig(light=LIGHT, window=WINDOW))
    runs = []
    with EmulatorProcess(config) as emu:
        for results, events in ((False, False), (True, False), (True, True)):
            emu.reset()
            await asyncio.sleep(WINDOW + 1)  # a fresh budget for each run
            runs.append(await _one(emu.credentials, f.path, f.meta.text, results=results,
                                   events=events))
    without, with_, _ = runs
    slower = None
    if without["submission_s"] and with_["submission_s"]:
        slower = round(with_["submission_s"] / without["submission_s"] - 1, 3)
    return {"rows": rows, "batch_messages": BATCH_MESSAGES, "light": LIGHT, "window": WINDOW,
            "processing_rate": PROCESSING_RATE, "runs": runs,
            "results_requests_per_1m": with_["results_requests_per_1m"],
            "submission_slower_by": slower}


def main(argv: Sequence[str] | None = None, *, out: Path | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks --results-cost")
    p.add_argument("--rows", type=int, default=ROWS)
    p.add_argument("--seed", type=int, default=data.DEFAULT_SEED)
    args = p.parse_args(argv)
    doc = asyncio.run(scenario(args.rows, args.seed))
    for run in doc["runs"]:
        print(f"results {'on ' if run['results'] else 'off'}, events "
              f"{'on ' if run['events'] else 'off'}: {run['accepted']:,} accepted in "
              f"{run['batches']} batches; submission {run['submission_s']} s, job "
              f"{run['elapsed_s']} s; {run['total_requests']} requests "
              f"({run['results_pages']} results pages), {run['responses_429']} x 429; "
              f"failed {run['failed']}, listed {run['failed_listed']}; "
              f"{run['requests_per_1m']:,} requests per 1M messages ({run['polls']} polls)"
              + (f"; final status to journal row: median {run['delay_median_s']} s, max "
                 f"{run['delay_max_s']} s ({run['delay_sample']} failed messages)"
                 if run["delay_sample"] else ""))
    per = doc["results_requests_per_1m"]
    slower = doc["submission_slower_by"]
    print(f"results: {per:,} requests per 1,000,000 messages; submission "
          f"{'not measured' if slower is None else f'{slower:+.1%}'} with results "
          f"(Light {LIGHT} per {WINDOW:g} s)")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "results-cost.json").write_text(json.dumps(doc, indent=2) + "\n")
    ok = all(r["status"] == "completed" and r["responses_429"] == 0 for r in doc["runs"])
    return 0 if ok and not math.isnan(per or 0) else 3
