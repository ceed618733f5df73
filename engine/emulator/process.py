"""`EmulatorProcess`: the emulator in a child process, for benchmarks and kill -9 tests.

The child is `python -m engine.emulator --port 0 --json ...`; its first stdout
line is JSON with the URL and credentials. The parent talks to it only over
HTTP (`/_emulator/*` for the ledger and runtime configuration), with the
standard library, so the helpers work from sync and async code alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import IO, Any, Self

from ..config import Credentials
from .config import EmulatorConfig, FaultConfig, RateLimitConfig, config_to_dict

__all__ = ["EmulatorProcess"]


class EmulatorProcess:
    """The emulator in a separate process; a sync and async context manager."""

    def __init__(self, config: EmulatorConfig | None = None, *, host: str = "127.0.0.1",
                 port: int = 0, args: Sequence[str] = (), startup_timeout: float = 30.0,
                 env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.args = tuple(args)
        self.startup_timeout = startup_timeout
        self.env = dict(env) if env is not None else None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._info: dict[str, Any] = {}

    # -- lifecycle ----------------------------------------------------------

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "engine.emulator", "--host", self.host,
               "--port", str(self.port), "--json"]
        if self.config is not None:
            cmd += ["--config-json", json.dumps(config_to_dict(self.config))]
        return cmd + list(self.args)

    def start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("emulator process already started")
        # Kept open for the child's lifetime; closed in stop().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        env = {**os.environ, **(self.env or {})}
        self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        try:
            self._info = json.loads(self._first_line())
        except BaseException:
            self.stop()
            raise

    def _first_line(self) -> bytes:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        deadline = time.monotonic() + self.startup_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while b"\n" not in buffer:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"emulator did not start in {self.startup_timeout}s"
                                       f"{self._stderr_tail()}")
                if selector.select(left):
                    chunk = os.read(proc.stdout.fileno(), 4096)
                    if not chunk:
                        raise RuntimeError(f"emulator exited with {proc.wait()}"
                                           f"{self._stderr_tail()}")
                    buffer += chunk
        return buffer.split(b"\n", 1)[0]

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        text = self._stderr.read().decode(errors="replace").strip()
        return f": {text[-2000:]}" if text else ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit code."""
        proc, self._proc = self._proc, None
        code = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    code = proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    code = proc.wait()
            else:
                code = proc.returncode
            if proc.stdout is not None:
                proc.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return code

    def kill(self) -> None:
        """SIGKILL the emulator (the ledger dies with it)."""
        if self._proc is not None:
            self._proc.kill()
        self.stop()

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)

    # -- what the child told us ---------------------------------------------

    @property
    def url(self) -> str:
        if not self._info:
            raise RuntimeError("emulator process not started")
        return str(self._info["url"])

    @property
    def credentials(self) -> Credentials:
        info = self._info
        return Credentials(server_url=self.url, client_id=info["client_id"],
                           client_secret=info["client_secret"], jwt=info["jwt"])

    # -- control API over HTTP ----------------------------------------------

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + "/_emulator/" + path, data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())

    def ledger(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "ledger")
        return result

    def lookup(self, numbers: Sequence[str]) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._call("POST", "lookup", list(numbers))
        return result

    def reset(self) -> None:
        self._call("POST", "reset", {})

    def advance(self, seconds: float) -> None:
        """Move the emulated clock `seconds` forward at once."""
        self._call("POST", "advance", {"seconds": seconds})

    def configure(
        self,
        *,
        faults: FaultConfig | Mapping[str, Any] | None = None,
        rate_limits: RateLimitConfig | Mapping[str, Any] | None = None,
        processing_rate: float | None = None,
    ) -> dict[str, Any]:
        patch: dict[str, Any] = {}
        if faults is not None:
            patch["faults"] = _plain(faults)
        if rate_limits is not None:
            patch["rate_limits"] = _plain(rate_limits)
        if processing_rate is not None:
            patch["processing_rate"] = processing_rate
        result: dict[str, Any] = self._call("POST", "config", patch)
        return result


def _plain(value: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return dict(value)
