"""Canary secrets: run hvsms every way it can run and look for them everywhere it wrote.

An in-process emulator accepts only distinctive canary credentials. `hvsms`
runs as a subprocess with `--debug` and RC_* variables set to the canaries:
a send, failing sends (a wrong secret, a server answering 503), a dry run, a
resume and a status. Everything they print and every file they leave (reports, journal
and its -wal/-shm, temporary files under their own TMPDIR, anything in the
working directory) is searched for the canaries, the HTTP Basic value built
from them, and every access and refresh token the emulator issued.
In-process: `Credentials` reprs, exceptions, log records and `report.to_dict()`.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest

import engine
from engine.config import Credentials
from engine.emulator import Emulator, EmulatorConfig, FaultConfig, RateLimitConfig
from engine.errors import HvsmsError

CANARY_ID = "cnryClientIdQ7x3Lm9Vw2"
CANARY_SECRET = "cnrySecretZ8w2K4pLr6Tq"
# Shaped like a real RingCentral JWT (header.payload.signature, base64url).
CANARY_JWT = ("eyJraWQiOiJjbnJ5IiwiYWxnIjoiUlMyNTYifQ.eyJjbnJ5IjoiSnd0UGF5bG9hZCJ9."
              "cnryJwtSignatureH5m2Xv8Qa1")
WRONG_SECRET = "cnryWrongSecretB3n7Yd1Kc"
_STRIP = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT",
          "FORCE_COLOR", "CLICOLOR_FORCE", "TTY_COMPATIBLE", "COLUMNS")


def _needles(secrets: Iterable[str]) -> dict[str, bytes]:
    """Each secret, its distinctive middle (a partial leak), and the Basic header values."""
    out: dict[str, bytes] = {}
    for s in secrets:
        out[s] = s.encode()
        out[f"part of {s[:8]}…"] = s[4:-4].encode()
    for secret in (CANARY_SECRET, WRONG_SECRET):
        basic = base64.b64encode(f"{CANARY_ID}:{secret}".encode())
        out[f"Basic of {secret[:8]}…"] = basic
    out["JWT signature"] = CANARY_JWT.rsplit(".", 1)[1].encode()
    return out


def _leaks(blobs: dict[str, bytes], secrets: Iterable[str]) -> list[str]:
    found = []
    for needle_name, needle in _needles(secrets).items():
        for where, blob in blobs.items():
            if needle in blob:
                found.append(f"{needle_name} in {where}")
    return found


def _files(*roots: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                out[str(p)] = p.read_bytes()
    return out


class Spy:
    """Records every token the emulator hands out."""

    def __init__(self, emu: Emulator) -> None:
        self.tokens: list[str] = []
        store = emu.runtime.tokens
        original = store._token_info

        def spy(session: Any, ttl: int) -> dict[str, Any]:
            info = original(session, ttl)
            self.tokens += [str(info[k]) for k in ("access_token", "refresh_token") if k in info]
            return info

        store._token_info = spy  # type: ignore[method-assign]


async def _hvsms(*args: str, env: dict[str, str], cwd: Path) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "engine", *args, cwd=cwd, env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, out, err


def _canary_emulator() -> Emulator:
    return Emulator(EmulatorConfig.fast(
        client_id=CANARY_ID, client_secret=CANARY_SECRET, jwt=CANARY_JWT,
        rate_limits=RateLimitConfig(enabled=False)))


def _recipients(path: Path, n: int = 30) -> Path:
    rows = "".join(f"+1415555{i:04d},Name{i}\n" for i in range(n))
    path.write_text("to,name\n" + rows + "not-a-number,Bad\n", encoding="utf-8")
    return path


async def test_no_canary_or_token_in_any_output_or_file(tmp_path: Path) -> None:
    cwd, temp = tmp_path / "cwd", tmp_path / "tmp"
    cwd.mkdir()
    temp.mkdir()
    source = _recipients(cwd / "recipients.csv")
    blobs: dict[str, bytes] = {}
    async with _canary_emulator() as emu:
        spy = Spy(emu)
        base = {k: v for k, v in os.environ.items() if k not in _STRIP}
        env = {**base, "PYTHONUNBUFFERED": "1", "TMPDIR": str(temp),
               "RC_SERVER_URL": emu.url, "RC_APP_CLIENT_ID": CANARY_ID,
               "RC_APP_CLIENT_SECRET": CANARY_SECRET, "RC_USER_JWT": CANARY_JWT}
        text = ["--text", "Hi {name}", "--debug", "--yes"]

        async def run(name: str, *args: str, env: dict[str, str] = env) -> int:
            code, out, err = await _hvsms(*args, env=env, cwd=cwd)
            blobs[f"{name} stdout"], blobs[f"{name} stderr"] = out, err
            return code

        # 1. A send that works.
        assert await run("send", "send", str(source), *text, "--journal", "ok.journal",
                         "--report", "ok-report") == 0, blobs["send stderr"][-2000:]
        # 2. A send with the wrong secret: refused at login.
        wrong = {**env, "RC_APP_CLIENT_SECRET": WRONG_SECRET}
        assert await run("wrong secret", "send", str(source), *text, "--journal",
                         "wrong.journal", "--report", "wrong-report", env=wrong) == 1
        assert b"invalid_client" in blobs["wrong secret stderr"] or \
            b"Invalid client" in blobs["wrong secret stderr"]
        # 3. A send the server fails with 503s: fails after its retries, resumable.
        emu.configure(faults=FaultConfig(error_503_share=1.0, retry_after_503=0.01))
        assert await run("503", "send", str(source), *text, "--journal", "503.journal",
                         "--report", "503-report") == 1
        emu.configure(faults=FaultConfig())
        # 4. A dry run (with the RC_* variables still set).
        assert await run("dry run", "send", str(source), *text, "--dry-run",
                         "--report", "dry-report") == 0
        # 5. Resume the job the 503s stopped.
        assert await run("resume", "resume", "503.journal", "--debug", "--yes",
                         "--report", "resume-report") == 0, blobs["resume stderr"][-2000:]
        assert emu.ledger()["accepted"] == 60  # the first send and the resume: 30 each
        # 6. What the journal shows.
        assert await run("status", "status", "ok.journal") == 0
        # The WebSocket tokens of the event subscriptions (they travel in a URL).
        ws_tokens = emu.events.issued_tokens
    assert len(ws_tokens) >= 2  # sends 1 and 5 subscribed to events
    assert len(spy.tokens) >= 4  # sends 1, 3 and 5 logged in (with refresh tokens)
    assert b"retry" in blobs["503 stderr"]  # --debug logged the retries, with their URLs
    blobs.update(_files(cwd, temp))
    assert any(name.endswith("ok.journal") for name in blobs)
    assert any(name.endswith("report.json") for name in blobs)
    leaks = _leaks(blobs, [CANARY_ID, CANARY_SECRET, CANARY_JWT, WRONG_SECRET, *spy.tokens,
                           *ws_tokens])
    assert leaks == [], leaks


async def test_wal_and_shm_files_hold_no_canary(tmp_path: Path) -> None:
    """While a job runs its journal has -wal/-shm side files: look inside them too."""
    source = _recipients(tmp_path / "recipients.csv", 200)
    journal = tmp_path / "job.journal"
    seen: dict[str, bytes] = {}

    def snapshot(_: engine.Progress) -> None:
        for suffix in ("-wal", "-shm"):
            side = Path(f"{journal}{suffix}")
            if side.exists():
                seen[f"{side.name} ({len(seen)})"] = side.read_bytes()

    async with _canary_emulator() as emu:
        spy = Spy(emu)
        report = await engine.send_bulk(
            source, text="Hi {name}", credentials=emu.credentials, journal=journal,
            options=engine.JobOptions(max_batch_bytes=2048, poll_interval=0.05,
                                      light_limit=10_000),
            progress=snapshot)
    assert report.status == "completed", report.message
    assert any("-wal" in k for k in seen)
    seen.update(_files(tmp_path))
    assert _leaks(seen, [CANARY_ID, CANARY_SECRET, CANARY_JWT, *spy.tokens]) == []


def test_credentials_repr_and_str_hide_the_secrets() -> None:
    creds = Credentials("https://platform.ringcentral.com", CANARY_ID, CANARY_SECRET,
                        CANARY_JWT)
    for text in (repr(creds), str(creds), f"{creds}", f"{creds!r}", repr([creds]),
                 repr({"c": creds})):
        assert _leaks({"repr": text.encode()}, [CANARY_ID, CANARY_SECRET, CANARY_JWT]) == []
    assert "platform.ringcentral.com" in repr(creds)


def test_credentials_errors_name_variables_not_values() -> None:
    with pytest.raises(HvsmsError) as incomplete:
        Credentials.from_env({"RC_APP_CLIENT_ID": CANARY_ID, "RC_USER_JWT": CANARY_JWT})
    with pytest.raises(HvsmsError) as plain_http:
        Credentials(f"http://{CANARY_ID}.example.com", CANARY_ID, CANARY_SECRET, CANARY_JWT)
    with pytest.raises(HvsmsError) as empty:
        Credentials("https://platform.ringcentral.com", CANARY_ID, "", CANARY_JWT)
    for caught in (incomplete, plain_http, empty):
        text = "".join(traceback.format_exception(caught.value))
        assert _leaks({"exception": text.encode()}, [CANARY_SECRET, CANARY_JWT]) == [], text
    assert "RC_APP_CLIENT_SECRET" in str(incomplete.value)


def _exception_texts(exc: BaseException) -> list[str]:
    """str, repr and the formatted traceback of `exc` and everything chained to it."""
    out = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        out += [str(e), repr(e), "".join(traceback.format_exception(e)), repr(vars(e))]
        todo += [e.__cause__, e.__context__]
    return out


async def test_exceptions_reports_and_library_logs_hold_no_secret(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    """The library without the CLI's redacting filter: what it logs and raises must be clean."""
    caplog.set_level(logging.DEBUG)  # every logger: engine.*, aiohttp.*, asyncio
    source = _recipients(tmp_path / "recipients.csv")
    texts: list[str] = []
    async with _canary_emulator() as emu:
        spy = Spy(emu)
        options = engine.JobOptions(poll_interval=0.05, light_limit=10_000, max_retries=1)
        good = await engine.send_bulk(source, text="Hi {name}", credentials=emu.credentials,
                                      options=options)
        assert good.status == "completed", good.message
        bad_creds = Credentials(emu.url, CANARY_ID, WRONG_SECRET, CANARY_JWT)
        bad = await engine.send_bulk(source, text="Hi", credentials=bad_creds,
                                     journal=tmp_path / "bad.journal", options=options)
        assert bad.status == "failed"
        # The lower layers raise: their exceptions must be clean too.
        from engine.api.a2p import A2P
        from engine.api.auth import Auth
        from engine.api.http import ApiClient

        async with ApiClient(emu.url, max_retries=0) as client:
            auth = client.auth = Auth(client, bad_creds)
            texts.append(repr(auth))
            try:
                await A2P(client).a2p_senders()
            except HvsmsError as exc:
                texts += _exception_texts(exc)
            else:
                pytest.fail("a wrong secret was accepted")
    for report in (good, bad):
        texts.append(orjson.dumps(report.to_dict()).decode())
        texts.append(repr(report))
    texts += [r.getMessage() for r in caplog.records]
    texts += [caplog.text]
    blobs = {f"text {i}": t.encode() for i, t in enumerate(texts)}
    leaks = _leaks(blobs, [CANARY_ID, CANARY_SECRET, CANARY_JWT, WRONG_SECRET, *spy.tokens])
    assert leaks == [], leaks
    assert any("invalid" in t.lower() for t in texts)  # the failure was there to be read
