"""Send samples/personalised.csv with the public API and print a summary.

Without RC_* variables this runs on the built-in emulator: nothing leaves the machine.
    python samples/send_basic.py
"""

import asyncio
from pathlib import Path

import engine


async def main() -> None:
    source = Path(__file__).with_name("personalised.csv")
    report = await engine.send_bulk(source, text="Hi {name}, your code is {code}")
    c = report.counts
    print(f"{report.status} on {report.server}: {c.read} rows read, {c.dropped} dropped, "
          f"{c.accepted} accepted, {c.rejected} rejected, {c.delivered} delivered, "
          f"{c.failed} failed in {len(report.batches)} batch(es), {report.elapsed:.1f}s")
    for row in report.rejected:
        print(f"  line {row.line}: {row.to} rejected: {row.error_code} {row.description}")


if __name__ == "__main__":
    asyncio.run(main())
