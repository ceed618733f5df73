"""Shared fixtures: an `emulator` factory that starts in-process emulators and closes them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from engine.emulator import Emulator, EmulatorConfig

EmulatorFactory = Callable[..., Awaitable[Emulator]]


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorFactory]:
    """`emu = await emulator(EmulatorConfig(...))`: started now, closed after the test."""
    started: list[Emulator] = []

    async def start(config: EmulatorConfig | None = None, **kwargs: object) -> Emulator:
        emu = Emulator(config, **kwargs)  # type: ignore[arg-type]
        await emu.start()
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        await emu.close()
