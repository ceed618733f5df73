"""One running emulator's parts wired together, and its runtime reconfiguration."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from aiohttp import web

from .auth import TokenStore
from .config import EmulatorConfig, FaultConfig, RateLimitConfig, patch_dataclass
from .faults import FaultInjector
from .ledger import Ledger
from .lifecycle import ScaledClock
from .ratelimit import RateLimiter
from .state import EmulatorState

__all__ = ["RUNTIME", "Runtime"]


class Runtime:
    """Config, store, sessions, limiter, faults and ledger of one emulator."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] | None = None) -> None:
        # Every part runs on the emulated clock (real time x `time_scale`).
        self.scaled = ScaledClock(config.time_scale)
        self.clock: Callable[[], float] = clock or self.scaled
        self.config = config
        self.state = EmulatorState(config, self.clock)
        self.tokens = TokenStore(config, self.clock, self.scaled.real)
        self.limiter = RateLimiter(config.rate_limits, self.clock, self.scaled.real)
        self.faults = FaultInjector(config.faults)
        self.ledger = Ledger()
        # Set when the server shuts down, to release hanging handlers.
        self.closing = asyncio.Event()
        # Called after `advance` (the event pump looks again at once).
        self.on_advance: list[Callable[[], None]] = []

    def configure(
        self,
        *,
        faults: FaultConfig | Mapping[str, Any] | None = None,
        rate_limits: RateLimitConfig | Mapping[str, Any] | None = None,
        processing_rate: float | None = None,
    ) -> None:
        """Change behaviour at runtime; a mapping patches the current settings."""
        if faults is not None:
            if not isinstance(faults, FaultConfig):
                faults = patch_dataclass(self.config.faults, _with_tuple_paths(faults))
            self.faults.configure(faults)
            self.config = replace(self.config, faults=faults)
        if rate_limits is not None:
            if not isinstance(rate_limits, RateLimitConfig):
                rate_limits = patch_dataclass(self.config.rate_limits, rate_limits)
            self.limiter.configure(rate_limits)
            self.config = replace(self.config, rate_limits=rate_limits)
        if processing_rate is not None:
            self.state.set_processing_rate(float(processing_rate))
            self.config = replace(self.config, processing_rate=float(processing_rate))

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward at once (receipts, caps, tokens follow)."""
        self.scaled.advance(seconds)
        for wake in self.on_advance:
            wake()

    def reset(self) -> None:
        """Forget batches, opt-out changes and counts; sessions stay valid."""
        self.state = EmulatorState(self.config, self.clock)
        self.ledger = Ledger()

    def ledger_snapshot(self) -> dict[str, Any]:
        return self.ledger.snapshot(self.state)


def _with_tuple_paths(patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(patch)
    if "paths" in out and not isinstance(out["paths"], tuple):
        out["paths"] = tuple(out["paths"])
    return out


# Where an app keeps its Runtime (`app[RUNTIME]`).
RUNTIME = web.AppKey("runtime", Runtime)
