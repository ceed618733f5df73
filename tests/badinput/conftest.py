"""Bad input files: bytes written as given, a quick emulator, and the CLI as a subprocess.

Every unreadable file must be refused before anything is sent; the checks
look at the emulator's ledger for that. CLI runs get a clean environment (no
RC_* variables: the built-in emulator) and their own TMPDIR and working
directory, so leftovers can be seen.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_STRIP = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT",
          "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "COLUMNS")

WriteBytes = Callable[..., Path]
Cli = Callable[..., subprocess.CompletedProcess[str]]




@pytest.fixture
def write_bytes(tmp_path: Path) -> WriteBytes:
    """`write_bytes(b"...", name="x.csv")`: the file, exactly these bytes (str: UTF-8)."""
    def write(data: bytes | str, name: str = "recipients.csv") -> Path:
        path = tmp_path / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    return write


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """`cli("send", file, "--text", "Hi")`: `python -m engine ...`, finished, text output."""
    work = tmp_path / "cwd"
    temp = tmp_path / "tmpdir"
    work.mkdir()
    temp.mkdir()

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in _STRIP}
        env.update(PYTHONUNBUFFERED="1", TMPDIR=str(temp))
        return subprocess.run([sys.executable, "-m", "engine", *args], cwd=work, env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)

    return run


def plain_error(stderr: str) -> list[str]:
    """stderr of a refused run: one or two plain lines, the first `hvsms: error: ...`."""
    lines = stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, stderr
    assert lines[0].startswith("hvsms: error: "), stderr
    assert "Traceback" not in stderr and "\x1b" not in stderr, stderr
    return lines


def sdk_texts(creds: Any, batch_ids: list[str | None]) -> dict[str, str]:
    """{number: text} of the batches, read with the official RingCentral SDK (blocking)."""
    from ringcentral import SDK

    platform = SDK(creds.client_id, creds.client_secret, creds.server_url).platform()
    platform.login(jwt=creds.jwt)
    out: dict[str, str] = {}
    for batch_id in batch_ids:
        resp = platform.get("/restapi/v1.0/account/~/a2p-sms/messages",
                            {"batchId": batch_id, "view": "Detailed", "perPage": 1000})
        out.update({m["to"][0]: m["text"] for m in resp.json_dict()["records"]})
    return out
