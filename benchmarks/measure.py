"""Run one contender process and measure it from outside: wall, CPU and peak RSS.

CPU and memory come from `os.wait4` on the contender's pid: user + sys
seconds and `ru_maxrss` of that process (and any children it waited for),
nothing of the runner's and nothing of the emulator's.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Exit", "run_measured"]


@dataclass(frozen=True, slots=True)
class Exit:
    code: int
    wall: float  # seconds from spawn to exit, interpreter start-up included
    cpu_user: float
    cpu_sys: float
    maxrss_kb: int
    stdout: str
    stderr: str
    timed_out: bool
    over_memory: bool = False  # killed for passing `max_rss_kb`

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _watch_memory(pid: int, limit_kb: int, stop: threading.Event, kill: Callable[[], None],
                  flag: threading.Event) -> None:
    while not stop.wait(0.1):
        if _rss_kb(pid) > limit_kb:
            flag.set()
            kill()
            return


def run_measured(cmd: Sequence[str], *, env: Mapping[str, str], timeout: float,
                 cwd: str | None = None, max_rss_kb: int | None = None) -> Exit:
    """Run `cmd` to completion and measure it.

    It is killed after `timeout` seconds, or as soon as its resident set
    passes `max_rss_kb` (checked ten times a second), so one runaway
    contender cannot take the machine down.
    """
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=err, env=dict(env), cwd=cwd)
        fired = threading.Event()

        def kill() -> None:
            fired.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.daemon = True
        timer.start()
        done, over = threading.Event(), threading.Event()
        if max_rss_kb is not None:
            threading.Thread(target=_watch_memory, args=(proc.pid, max_rss_kb, done, proc.kill,
                                                         over), daemon=True).start()
        try:
            assert proc.stdout is not None
            out = proc.stdout.read()
            proc.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            timer.cancel()
            done.set()
        wall = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Exit(code=code, wall=wall, cpu_user=usage.ru_utime, cpu_sys=usage.ru_stime,
                maxrss_kb=usage.ru_maxrss, stdout=out.decode(errors="replace"),
                stderr=stderr, timed_out=fired.is_set(), over_memory=over.is_set())
