"""Helpers the test packages share (`tests/` is on sys.path through the root conftest)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from engine import Credentials, JobOptions
from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig
from engine.quiet_hours import QuietHours

SENDER = "+16505550100"


def us_number(i: int) -> str:
    """The i-th of many distinct possible US numbers (415 area code, exchanges 200-999)."""
    return f"+1415{200 + (i // 10_000) % 800:03d}{i % 10_000:04d}"


def cfg(**kw: Any) -> EmulatorConfig:
    """The fast emulator (instant receipts) without rate limits, unless a test is about them."""
    kw.setdefault("rate_limits", RateLimitConfig(enabled=False))
    return EmulatorConfig.fast(**kw)


def opts(**kw: Any) -> JobOptions:
    """Quick polling; the emulator has no limits here, so neither need the client."""
    base: dict[str, Any] = {"poll_interval": 0.05, "max_poll_interval": 0.3,
                            "light_limit": 10_000}
    base.update(kw)
    return JobOptions(**base)


# Generous on purpose: these wait for a condition, so a fast machine never waits it out,
# and a busy 2-core one gets all the time it needs.
WAIT = 60.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT,
               step: float = 0.02) -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        time.sleep(step)


async def until(condition: Callable[[], bool], what: str, timeout: float = WAIT,
                step: float = 0.02) -> None:
    """`wait_until` for a test running on the event loop (the emulator keeps serving)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:g} s"
        await asyncio.sleep(step)


def submitted_batches(journal: Path) -> int:
    """Batches with a batch id in `journal`, read beside the process writing it (0 while
    the journal does not exist yet or is locked for a moment)."""
    if not journal.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute("SELECT count(*) FROM batches WHERE batch_id IS NOT NULL").fetchone()
        finally:
            db.close()
    except sqlite3.Error:
        return 0
    return int(row[0])


def rc_env(credentials: Credentials) -> dict[str, str]:
    """This process's environment with `credentials` as the RC_* variables (for a child)."""
    c = credentials
    return {**os.environ, "RC_SERVER_URL": c.server_url, "RC_APP_CLIENT_ID": c.client_id,
            "RC_APP_CLIENT_SECRET": c.client_secret, "RC_USER_JWT": c.jwt}


def batch_states(journal: Path) -> dict[str, int]:
    """How many batches of `journal` are in each state."""
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return dict(db.execute("SELECT state, count(*) FROM batches GROUP BY state").fetchall())
    finally:
        db.close()


def outside_window(emu: Emulator, quiet: QuietHours) -> tuple[int, int, list[float]]:
    """Messages `emu` processed outside their recipient's window; all processed; their times."""
    outside = total = 0
    times: list[float] = []
    for b in emu.runtime.state.batches:
        at = b.processed_at_many(np.arange(b.size, dtype=np.int64))
        for number, t in zip(b.numbers.tolist(), at.tolist(), strict=True):
            total += 1
            times.append(t)
            if quiet.open_span(quiet.key_of(f"+{number}"), t) is None:
                outside += 1
    return outside, total, times
