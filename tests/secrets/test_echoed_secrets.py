"""A server that echoes what it was sent must not put secrets into hvsms's errors or reports.

Some servers quote the offending value in their error ("Invalid JWT token eyJ...",
an HTML error page with the form, "Invalid Authorization header Bearer ...").
hvsms turns server messages into exceptions and `report.message`, which the
CLI writes into report.json: the app's secrets and the session's tokens must
be scrubbed on the way.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from aiohttp import web

import engine
from engine.config import Credentials
from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from faults.servers import Forward, Proxy

CLIENT_ID = "echoClientIdK2v9Pq4"
SECRET = "echoSecretM7z3Wx8Rt"
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJlY2hvIjoiand0In0.echoJwtSignatureN4b6"
_STRIP = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")

Hook = Callable[[web.Request, Forward], object]


def _emulator() -> Emulator:
    return Emulator(EmulatorConfig.fast(client_id=CLIENT_ID, client_secret=SECRET, jwt=JWT,
                                   rate_limits=RateLimitConfig(enabled=False)))


async def _echo_token_json(request: web.Request, forward: Forward) -> web.StreamResponse | None:
    if not request.path.endswith("/oauth/token"):
        return None
    form = await request.post()
    return web.json_response({
        "error": "invalid_grant",
        "error_description": (f"Invalid JWT token {form.get('assertion')} for client "
                              f"{CLIENT_ID} ({request.headers.get('Authorization')}), "
                              f"secret {SECRET}"),
    }, status=400)


async def _echo_token_html(request: web.Request, forward: Forward) -> web.StreamResponse | None:
    if not request.path.endswith("/oauth/token"):
        return None
    body = (await request.read()).decode()
    return web.Response(status=502, content_type="text/html",
                        text=f"<html><body>Bad gateway for {body}</body></html>")


def _echo_bearer(bare: bool) -> Hook:
    async def hook(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        if "/phone-number" not in request.path:
            return None
        header = request.headers.get("Authorization") or ""
        shown = header.partition(" ")[2] if bare else header
        return web.json_response({"errorCode": "CMN-401",
                                  "message": f"Permission required for token {shown}"},
                                 status=403)

    return hook


def _leaks(text: str, tokens: list[str]) -> list[str]:
    secrets = [CLIENT_ID, SECRET, JWT, JWT.rsplit(".", 1)[1], *tokens]
    return [s for s in secrets if s in text]


class _Tokens:
    def __init__(self, emu: Emulator) -> None:
        self.issued: list[str] = []
        store = emu.runtime.tokens
        original = store._token_info

        def spy(session: object, ttl: int) -> dict[str, object]:
            info = original(session, ttl)  # type: ignore[arg-type]
            self.issued += [str(info[k]) for k in ("access_token", "refresh_token") if k in info]
            return info

        store._token_info = spy  # type: ignore[method-assign,assignment]


@pytest.mark.parametrize("hook", [_echo_token_json, _echo_token_html, _echo_bearer(False),
                                  _echo_bearer(True)],
                         ids=["token-json", "token-html", "bearer", "bare-token"])
async def test_echoed_secrets_stay_out_of_reports_and_exceptions(tmp_path: Path,
                                                                 hook: Hook) -> None:
    source = tmp_path / "r.csv"
    source.write_text("to\n+14155550100\n")
    async with _emulator() as emu:
        tokens = _Tokens(emu)
        proxy = Proxy(emu.url, hook)  # type: ignore[arg-type]
        async with proxy.running() as url:
            creds = Credentials(url, CLIENT_ID, SECRET, JWT)
            report = await engine.send_bulk(source, text="Hi", credentials=creds,
                                            options=engine.JobOptions(max_retries=0))
    assert report.status == "failed"
    assert "HTTP 40" in report.message or "HTTP 50" in report.message, report.message
    text = orjson.dumps(report.to_dict()).decode() + repr(report)
    assert _leaks(text, tokens.issued) == [], report.message


async def test_cli_report_json_holds_no_echoed_secret(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("to\n+14155550100\n")
    async with _emulator() as emu:
        proxy = Proxy(emu.url, _echo_token_json)  # type: ignore[arg-type]
        async with proxy.running() as url:
            env = {k: v for k, v in os.environ.items() if k not in _STRIP}
            env.update(RC_SERVER_URL=url, RC_APP_CLIENT_ID=CLIENT_ID,
                       RC_APP_CLIENT_SECRET=SECRET, RC_USER_JWT=JWT, TMPDIR=str(tmp_path))
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "engine", "send", str(source), "--text", "Hi", "--yes",
                "--debug", "--report", str(tmp_path / "out"), cwd=tmp_path, env=env,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    # Refused at login, before planning: there may be no report to write.
    report = tmp_path / "out" / "report.json"
    everything = out.decode() + err.decode() + (report.read_text() if report.exists() else "")
    assert "Invalid JWT token" in everything
    assert _leaks(everything, []) == []
