"""`Emulator`: the app served on a free loopback port, as an async context manager."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from ..config import Credentials
from .app import create_app
from .config import EmulatorConfig, FaultConfig, RateLimitConfig
from .runtime import Runtime
from .state import EmulatorState
from .websocket import GATEWAY, EventGateway

__all__ = ["Emulator"]


class Emulator:
    """An in-process emulator. `async with Emulator(cfg) as emu: emu.url`."""

    def __init__(self, config: EmulatorConfig | None = None, *,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.runtime = Runtime(config or EmulatorConfig())
        self.app = create_app(runtime=self.runtime)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("emulator already started")
        # Hanging handlers are released on shutdown, so a short timeout is enough.
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=2.0,
                               handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def config(self) -> EmulatorConfig:
        """The current config (faults, limits and rate as last configured)."""
        return self.runtime.config

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def credentials(self) -> Credentials:
        return Credentials(server_url=self.url, client_id=self.config.client_id,
                           client_secret=self.config.client_secret, jwt=self.config.jwt)

    @property
    def events(self) -> EventGateway:
        """Subscriptions and the WebSocket gateway (`events.configure(...)` for faults)."""
        return self.app[GATEWAY]

    @property
    def state(self) -> EmulatorState:
        return self.runtime.state

    def ledger(self) -> dict[str, Any]:
        return self.runtime.ledger_snapshot()

    def lookup(self, numbers: list[str]) -> dict[str, dict[str, int]]:
        return self.runtime.state.lookup(numbers)

    def configure(
        self,
        *,
        faults: FaultConfig | Mapping[str, Any] | None = None,
        rate_limits: RateLimitConfig | Mapping[str, Any] | None = None,
        processing_rate: float | None = None,
    ) -> None:
        self.runtime.configure(faults=faults, rate_limits=rate_limits,
                               processing_rate=processing_rate)

    def opt_out(self, sender: str, number: str) -> None:
        """`number` opts out of `sender`'s texts now (as if it texted STOP): later
        batches get SendingFailed SMS-RC-413 for it, and subscribers an opt-out event."""
        self.runtime.state.opt_outs.assign(sender, [number], [])

    def reset(self) -> None:
        self.runtime.reset()

    def advance(self, seconds: float) -> None:
        """Move the emulated clock `seconds` forward at once."""
        self.runtime.advance(seconds)
