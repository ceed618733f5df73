"""The built-in emulator of RingCentral's High Volume (A2P) SMS API.

    async with Emulator() as emu:
        creds = emu.credentials      # an engine.Credentials for emu.url
        ...
        assert emu.ledger()["accepted"] == 3

It serves the official RingCentral SDKs unmodified and by default behaves
like the real service (each number at its own pace, receipts after
processing, daily caps; `time_scale` compresses time, `emu.advance` jumps
ahead); `EmulatorConfig.fast()` is the quick service of tests and
benchmarks. It misbehaves on request (`FaultConfig`, `RateLimitConfig`).
What it assumes where RingCentral's documentation is silent is listed in
`app`.
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
