"""What every contender shares: arguments, credentials, the clock, the JSON line."""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Clock", "Env", "Result", "parse_args", "peak_rss_kb", "run_main"]


@dataclass(frozen=True, slots=True)
class Env:
    """The RC_* variables (RingCentral's own names) the runner sets."""

    server_url: str
    client_id: str
    client_secret: str
    jwt: str

    @classmethod
    def load(cls) -> Env:
        try:
            return cls(os.environ["RC_SERVER_URL"], os.environ["RC_APP_CLIENT_ID"],
                       os.environ["RC_APP_CLIENT_SECRET"], os.environ["RC_USER_JWT"])
        except KeyError as exc:
            raise SystemExit(f"{exc.args[0]} is not set (the runner sets RC_*)") from None


class Clock:
    """Work time: starts after the imports, when the contender opens its file."""

    def __init__(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.startup_cpu = usage.ru_utime + usage.ru_stime
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


@dataclass(slots=True)
class Result:
    """One contender's own figures, printed as one JSON line."""

    contender: str
    file: str
    status: str = "ok"  # ok | failed
    reason: str = ""
    wall: float = 0.0  # seconds of work (after imports)
    startup_cpu: float = 0.0  # CPU seconds spent before the work began (imports)
    rows: int = 0  # data rows the contender read
    messages: int = 0  # messages it put into request bodies
    batches: int = 0  # request bodies it built (floor) or POSTed
    bytes_posted: int = 0  # total size of those bodies, where the contender knows it
    largest_body: int = 0
    accepted: int = 0  # recipients the API said it accepted (client's view)
    rejected: int = 0
    polls: int = 0
    peak_rss_kb: int = 0  # VmHWM of this process, read just before the JSON line
    extra: dict[str, Any] = field(default_factory=dict)

    def emit(self) -> None:
        self.peak_rss_kb = peak_rss_kb()
        sys.stdout.write(json.dumps(asdict(self), separators=(",", ":")) + "\n")
        sys.stdout.flush()


def peak_rss_kb() -> int:
    """This process's peak resident set (VmHWM), in KiB; 0 where /proc is missing.

    Unlike `ru_maxrss` from wait4, VmHWM starts afresh at exec: it never
    includes the memory of the (larger) runner that forked this process.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def parse_args(name: str, argv: Sequence[str] | None,
               extra: Callable[[argparse.ArgumentParser], None] | None = None
               ) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.contenders.{name}")
    parser.add_argument("file", help="recipient CSV (a `to` column, maybe template columns)")
    parser.add_argument("--text", required=True,
                        help="default text, or a template such as 'Hi {name}'")
    parser.add_argument("--poll-interval", type=float, default=0.2,
                        help="seconds between status polls (default 0.2, the same for all)")
    if extra is not None:
        extra(parser)
    return parser.parse_args(argv)


def run_main(name: str, file: str, work: Callable[[Clock, Result], None]) -> int:
    """Run `work`, fill in the timings and print the JSON line.

    An expected failure (the contender set `result.status = "failed"`) exits 0;
    an exception is printed to stderr and exits 1, after a JSON line saying so.
    """
    clock = Clock()
    result = Result(contender=name, file=file, startup_cpu=round(clock.startup_cpu, 4))
    code = 0
    try:
        work(clock, result)
    except Exception as exc:  # noqa: BLE001 - reported in the JSON line; traceback on stderr
        traceback.print_exc()
        result.status, result.reason = "error", f"{type(exc).__name__}: {exc}"[:500]
        code = 1
    result.wall = round(clock.elapsed(), 4)
    result.emit()
    return code
