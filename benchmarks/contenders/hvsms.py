"""hvsms: `engine.send_bulk(file, text=..., options=JobOptions(...))`, default options.

The only options changed are `poll_interval` (the first status poll), set to
the same interval every contender uses (`--poll-interval`, 0.2 s by default),
and `fetch_delivery=False`: no other contender lists every message's result,
so neither does hvsms here (`python -m benchmarks --results-cost` measures it).
`--max-batch-messages` is for the API-economy scenario only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Sequence

import engine

from ._common import Clock, Env, Result, parse_args, run_main


def main(argv: Sequence[str] | None = None) -> int:
    def options(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--max-batch-messages", type=int, default=None,
                            help="JobOptions.max_batch_messages (economy scenario only)")

    args = parse_args("hvsms", argv, options)
    env = Env.load()

    def work(clock: Clock, result: Result) -> None:
        credentials = engine.Credentials(env.server_url, env.client_id, env.client_secret,
                                         env.jwt)
        options = engine.JobOptions(poll_interval=args.poll_interval,
                                    max_batch_messages=args.max_batch_messages,
                                    fetch_delivery=False)
        # A journal of its own, gone with the run: runs repeat the same file on purpose.
        with tempfile.TemporaryDirectory(prefix="hvsms-bench-") as tmp:
            report = asyncio.run(engine.send_bulk(
                args.file, text=args.text, credentials=credentials, options=options,
                journal=os.path.join(tmp, "job.journal"), again=True))
        counts = report.counts
        result.rows = counts.read
        result.messages = counts.submitted
        result.accepted, result.rejected = counts.accepted, counts.rejected
        sizes = [b.bytes for b in report.batches if b.id is not None]
        result.batches = len(sizes)
        result.bytes_posted = sum(sizes)
        result.largest_body = max(sizes, default=0)
        result.extra = {
            "job_status": report.status,
            "counts": report.to_dict()["counts"],
            "requests": report.requests,
            "elapsed": round(report.elapsed, 4),
            "engine": os.path.dirname(engine.__file__),
        }
        if report.status != "completed":
            result.status = "failed"
            result.reason = f"job {report.status}: {report.message}"[:500]

    return run_main("hvsms", args.file, work)


if __name__ == "__main__":
    sys.exit(main())
