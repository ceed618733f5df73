"""Waiting for work or for the job's stop, whichever comes first.

A job is stopped through one `asyncio.Event` (Ctrl-C, `hvsms stop`, a test);
every stage that waits on the network waits on it as well.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["Stopped", "cancel", "unless_stopped", "until_stopped"]

_T = TypeVar("_T")


class Stopped(Exception):
    """The job was stopped before it sent anything (internal to the job)."""


async def until_stopped(task: asyncio.Future[Any], stop: asyncio.Event,
                        timeout: float | None = None) -> bool:
    """Wait until `task` is done, `stop` is set or `timeout` passes; True: it is done."""
    if stop.is_set():
        await asyncio.wait({task}, timeout=0)
        return task.done()
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    return task.done()


async def cancel(task: asyncio.Future[Any]) -> None:
    """Cancel `task` and wait for it to unwind (its own cancellation is swallowed)."""
    if not task.done():
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def unless_stopped(aw: Awaitable[_T], stop: asyncio.Event) -> _T:
    """`aw`, unless the job is stopped first: then it is cancelled and `Stopped` raised
    (used before sending starts, so nothing was sent)."""
    task = asyncio.ensure_future(aw)
    if not await until_stopped(task, stop):
        await cancel(task)
        raise Stopped
    return task.result()
