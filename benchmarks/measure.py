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
from collections.abc import Mapping, Sequence
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

    @property
    def cpu(self) -> float:
        return self.cpu_user + self.cpu_sys


def run_measured(cmd: Sequence[str], *, env: Mapping[str, str], timeout: float,
                 cwd: str | None = None) -> Exit:
    """Run `cmd` to completion (killed after `timeout` seconds) and measure it."""
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
        wall = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    return Exit(code=code, wall=wall, cpu_user=usage.ru_utime, cpu_sys=usage.ru_stime,
                maxrss_kb=usage.ru_maxrss, stdout=out.decode(errors="replace"),
                stderr=stderr, timed_out=fired.is_set())
