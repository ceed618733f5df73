"""The built-in emulator of RingCentral's High Volume (A2P) SMS API.

    async with Emulator() as emu:
        creds = emu.credentials      # an engine.Credentials for emu.url
        ...
        assert emu.ledger()["accepted"] == 3

It serves the official RingCentral SDKs unmodified, processes batches over
time, and misbehaves on request (`FaultConfig`, `RateLimitConfig`).
`EmulatorProcess` runs it in a child process; `python -m engine.emulator`
runs it in the foreground.
"""

from __future__ import annotations

from .app import create_app
from .config import (
    A2P_OPERATIONS,
    CREATE_BATCH,
    EmulatorConfig,
    FaultConfig,
    RateLimitConfig,
    SenderNumber,
)
from .process import EmulatorProcess
from .server import Emulator

__all__ = [
    "A2P_OPERATIONS",
    "CREATE_BATCH",
    "Emulator",
    "EmulatorConfig",
    "EmulatorProcess",
    "FaultConfig",
    "RateLimitConfig",
    "SenderNumber",
    "create_app",
]
