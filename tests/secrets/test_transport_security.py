"""Where credentials may travel: never over plain http to a remote host, never to an unverified TLS peer.

- `check_server_url` refuses `http://` for anything but loopback (library and CLI).
- TLS certificates are verified, and there is no switch to turn that off: a
  purpose-built HTTPS server with a self-signed certificate is refused before
  any HTTP request (so before any Authorization header) is sent, while the same
  server is fine for a client that trusts its certificate.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

import engine
from engine.api.http import ApiClient
from engine.config import Credentials, JobOptions, check_server_url
from engine.errors import ConfigError, NetworkError

_STRIP = ("RC_SERVER_URL", "RC_APP_CLIENT_ID", "RC_APP_CLIENT_SECRET", "RC_USER_JWT")


# --- plain http ---------------------------------------------------------------------------

@pytest.mark.parametrize("url", [
    "http://localhost", "http://localhost:8080/", "http://127.0.0.1:9", "http://127.8.9.10",
    "http://[::1]:8080", "HTTP://LOCALHOST:1", "https://platform.ringcentral.com",
    "https://example.com:8443", "https://10.1.2.3",
])
def test_allowed_server_urls(url: str) -> None:
    assert check_server_url(url) == url.rstrip("/")


@pytest.mark.parametrize("url", [
    "http://platform.ringcentral.com", "http://example.com:80", "http://10.0.0.1",
    "http://192.168.1.10:8080", "http://0.0.0.0:8080", "http://[::]:80",
    "http://localhost.evil.example", "http://127.0.0.1.nip.io", "http://[2001:db8::1]",
])
def test_plain_http_to_anything_but_loopback_is_refused(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_server_url(url)
    assert "refusing plain http" in str(caught.value) and "use https" in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://platform.ringcentral.com", "platform.ringcentral.com",
                                 "https://", "ws://127.0.0.1"])
def test_urls_that_are_not_http_at_all(url: str) -> None:
    with pytest.raises(ConfigError):
        check_server_url(url)


def test_credentials_and_env_refuse_plain_http() -> None:
    with pytest.raises(ConfigError):
        Credentials("http://platform.ringcentral.com", "id-1234", "secret-1234", "jwt-1234")
    env = {"RC_SERVER_URL": "http://platform.ringcentral.com", "RC_APP_CLIENT_ID": "id-1234",
           "RC_APP_CLIENT_SECRET": "secret-1234", "RC_USER_JWT": "jwt-1234"}
    with pytest.raises(ConfigError) as caught:
        Credentials.from_env(env)
    assert str(caught.value) == ("refusing plain http to platform.ringcentral.com: use https "
                                 "(http is only for loopback)")


def test_cli_refuses_plain_http_with_exit_2(tmp_path: Path) -> None:
    source = tmp_path / "r.csv"
    source.write_text("to\n+14155550100\n")
    env = {k: v for k, v in os.environ.items() if k not in _STRIP}
    env.update(RC_SERVER_URL="http://platform.ringcentral.com", RC_APP_CLIENT_ID="id-1234",
               RC_APP_CLIENT_SECRET="secret-1234", RC_USER_JWT="jwt-1234")
    done = subprocess.run([sys.executable, "-m", "engine", "send", str(source), "--text", "Hi",
                           "--yes"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == ("hvsms: error: refusing plain http to "
                                   "platform.ringcentral.com: use https (http is only for "
                                   "loopback)")


# --- TLS ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A self-signed certificate for localhost and 127.0.0.1 (openssl, 1 day)."""
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"openssl cannot make a certificate here: {done.stderr[-200:]}")
    yield cert, key


@contextlib.asynccontextmanager
async def https_server(cert: Path, key: Path, handshakes: list[str | None] | None = None
                       ) -> AsyncIterator[tuple[str, list[str | None]]]:
    """An HTTPS server answering 200 `{}`; yields its URL and the Authorization headers seen.

    `handshakes` gets the server name of every TLS handshake begun (to count attempts).
    """
    seen: list[str | None] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    if handshakes is not None:
        def hello(_: ssl.SSLObject, name: str | None, __: ssl.SSLContext) -> None:
            handshakes.append(name)
        ctx.sni_callback = hello
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    try:
        yield f"https://localhost:{runner.addresses[0][1]}", seen
    finally:
        await runner.cleanup()


async def test_self_signed_certificate_is_refused_before_any_request(
    self_signed: tuple[Path, Path],
) -> None:
    cert, key = self_signed
    async with https_server(cert, key) as (url, seen):
        # Control: the server is fine for a client that trusts this certificate.
        trusting = ssl.create_default_context(cafile=str(cert))
        async with aiohttp.ClientSession() as session, session.get(url + "/x",
                                                                   ssl=trusting) as resp:
            assert resp.status == 200
        assert seen == [None]
        seen.clear()
        async with ApiClient(url, max_retries=0) as client:
            with pytest.raises(NetworkError) as caught:
                await client.request("GET", "/restapi/v1.0/account/~", endpoint="x",
                                     authorized=False, headers={"Authorization": "Bearer t0k"})
    message = str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in message or "certificate verify failed" in message
    assert message.startswith(f"cannot reach {url}")
    assert seen == []  # the handshake failed: no request, no header, ever reached it


async def test_a_job_against_a_self_signed_server_fails_clearly_and_sends_no_secret(
    self_signed: tuple[Path, Path], tmp_path: Path,
) -> None:
    cert, key = self_signed
    source = tmp_path / "r.csv"
    source.write_text("to\n+14155550100\n")
    handshakes: list[str | None] = []
    async with https_server(cert, key, handshakes) as (url, seen):
        creds = Credentials(url, "tls-client-id", "tls-client-secret", "tls-user-jwt")
        report = await engine.send_bulk(source, text="Hi", credentials=creds)
    assert report.status == "failed"
    assert "certificate verify failed" in report.message
    assert seen == []
    # Not retried with backoff (the default 6 retries took 5 to 30 s): it cannot get
    # better. Counted, not timed: one handshake began, and no second attempt.
    assert handshakes == ["localhost"]
    assert report.retries == 0


def test_there_is_no_switch_to_turn_verification_off() -> None:
    words = ("ssl", "verify", "insecure", "cert", "tls")
    options = [f.name for f in dataclasses.fields(JobOptions)]
    client = list(inspect.signature(ApiClient.__init__).parameters)
    send = list(inspect.signature(engine.send_bulk).parameters)
    for name in options + client + send:
        assert not any(w in name.lower() for w in words), name
    helps = "".join(
        subprocess.run([sys.executable, "-m", "engine", *cmd, "--help"], capture_output=True,
                       text=True, timeout=60, check=True).stdout
        for cmd in (["send"], ["resume"]))
    for w in ("insecure", "no-verify", "--ssl", "--cert", "verify"):
        assert w not in helps.lower(), w


async def test_the_session_uses_aiohttps_default_verifying_ssl() -> None:
    async with ApiClient("https://platform.ringcentral.com") as client:
        connector = client.session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        # ssl=True: aiohttp's default, a verifying context from the system's CAs.
        assert connector._ssl is True  # a private attribute: no public accessor
        assert client.session.trust_env is False  # no proxy (or CA) taken from the env
