"""Fixtures for emulator tests: an aiohttp session and logged-in raw API clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest

from engine.emulator import Emulator, EmulatorConfig

from .helpers import Api

ApiFactory = Callable[..., Awaitable[Api]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def api(emulator: Callable[..., Awaitable[Emulator]],
              http: aiohttp.ClientSession) -> ApiFactory:
    """`client = await api(EmulatorConfig(...))`: a fresh emulator and a logged-in client."""

    async def make(config: EmulatorConfig | None = None, *, login: bool = True) -> Api:
        client = Api(http, await emulator(config or EmulatorConfig.fast()))
        if login:
            await client.login()
        return client

    return make
