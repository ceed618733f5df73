"""Results tests: the CLI fixtures (`run`, `workdir`, `external_emulator`) come from tests/cli."""

from __future__ import annotations

from cli.conftest import external_emulator, run, workdir

__all__ = ["external_emulator", "run", "workdir"]
