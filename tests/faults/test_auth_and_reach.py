"""Redirects, 401s mid-job, 429 without headers, and servers that cannot be reached.

- A redirect is never followed: the bearer token (or the app's Basic
  credentials) must never reach another host. A second server records every
  Authorization header it gets; it must get none.
- A 401 mid-job gets one renewal, then a clear failure: never a loop on the
  Auth group (5 requests a minute). Token requests are counted at the proxy.
- 429 without `Retry-After` or rate headers: RingCentral asks for 30 s.
- DNS failure and connection refused at start: a clear error, nothing sent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

import engine
from engine.api.http import DEFAULT_RETRY_AFTER, ApiClient
from engine.emulator import CREATE_BATCH, Emulator
from engine.errors import NetworkError, RateLimited
from engine.journal import COMPLETED, Journal

from .conftest import assert_exactly_once, cfg, opts
from .servers import Forward, Proxy, Recorder, closed_port, serve

Numbers = Callable[[int], tuple[Path, list[str]]]

TOKEN = "/restapi/oauth/token"


def _creds(emu: Emulator, url: str) -> engine.Credentials:
    c = emu.config
    return engine.Credentials(url, c.client_id, c.client_secret, c.jwt)


def _journal_states(journal: Path) -> list[str]:
    j = Journal.open(str(journal))
    try:
        return [b.state for b in j.batches()]
    finally:
        j.close()


def _redirect_to(target: str, status: int) -> Callable[[web.Request], web.Response]:
    def answer(request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": target + request.path_qs})

    return answer


# --- redirects --------------------------------------------------------------------------

@pytest.mark.parametrize("status", [302, 307])
async def test_api_redirect_to_another_host_is_not_followed(
    numbers_file: Numbers, tmp_path: Path, status: int,
) -> None:
    path, numbers = numbers_file(100)
    journal = tmp_path / "job.journal"
    other = Recorder()
    async with other.running() as elsewhere, Emulator(cfg()) as emu:
        redirect = _redirect_to(elsewhere, status)

        async def hook(request: web.Request, forward: Forward) -> web.StreamResponse | None:
            return None if request.path.startswith("/restapi/oauth") else redirect(request)

        proxy = Proxy(emu.url, hook)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal, options=opts())
        assert report.status == "failed"
        assert emu.ledger()["batches"] == 0
        # Resumable: straight to the emulator this time, every recipient once.
        resumed = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert f"HTTP {status}" in report.message and "refused to follow a redirect" in report.message
    assert elsewhere in report.message  # says where it was sent, so the user can check
    assert other.seen == []  # not a single request, so no token either
    # The token the proxy saw went to the configured server only.
    assert any(s.authorization and s.authorization.startswith("Bearer ") for s in proxy.seen)
    assert resumed.status == "completed", resumed.message
    assert_exactly_once(ledger, numbers, counts)


async def test_token_endpoint_redirect_does_not_carry_the_app_credentials(
    numbers_file: Numbers,
) -> None:
    path, _ = numbers_file(10)
    other = Recorder()
    async with other.running() as elsewhere, Emulator(cfg()) as emu:
        redirect = _redirect_to(elsewhere, 307)

        async def hook(request: web.Request, forward: Forward) -> web.StreamResponse | None:
            return redirect(request)

        proxy = Proxy(emu.url, hook)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            options=opts())
    assert report.status == "failed"
    assert "token" in report.message and "redirect" in report.message
    assert other.seen == []
    assert proxy.count(TOKEN) == 1  # a redirect is an answer, not something to retry


async def test_post_redirect_is_not_followed_and_the_batch_is_sent_on_resume(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    path, numbers = numbers_file(100)
    journal = tmp_path / "job.journal"
    other = Recorder()
    async with other.running() as elsewhere, Emulator(cfg()) as emu:
        redirect = _redirect_to(elsewhere, 307)

        async def hook(request: web.Request, forward: Forward) -> web.StreamResponse | None:
            if request.method == "POST" and request.path.endswith("/a2p-sms/batches"):
                return redirect(request)
            return None

        proxy = Proxy(emu.url, hook)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            journal=journal, options=opts())
        assert report.status == "failed"
        assert "refused to follow a redirect" in report.message
        assert other.seen == []
        assert emu.ledger()["batches"] == 0
        resumed = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert_exactly_once(ledger, numbers, counts)
    assert resumed.status == "completed", resumed.message
    assert set(_journal_states(journal)) == {COMPLETED}


# --- 401 mid-job ------------------------------------------------------------------------

def _unauthorized() -> web.Response:
    body = {"errorCode": "OAU-129", "message": "Access token corrupted",
            "errors": [{"errorCode": "OAU-129", "message": "Access token corrupted"}]}
    return web.json_response(body, status=401)


def _revoked_after(ok_calls: int) -> tuple[Callable[..., object], list[int]]:
    """A hook that lets `ok_calls` API requests through, then answers 401 to all."""
    calls = [0]

    async def revoked(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        if request.path.startswith("/restapi/oauth"):
            return None
        calls[0] += 1
        return _unauthorized() if calls[0] > ok_calls else None

    return revoked, calls


async def test_401_to_everything_after_login_gets_one_renewal_then_a_clear_failure(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    """A server that takes the login, then refuses every token it issued (a revoked app).

    Before the fix in engine/api/auth.py every batch's 401 renewed the token again:
    3000 rows (37 batches) made 16 token requests and took 183 s, waiting on the
    Auth group's 5 per minute.
    """
    path, _ = numbers_file(3000)
    journal = tmp_path / "job.journal"
    # Discovery, the number's SMS configuration and the opt-out list go through.
    revoked, _ = _revoked_after(3)
    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, revoked)  # type: ignore[arg-type]
        async with proxy.running() as url:
            report = await engine.send_bulk(
                path, text="Hi", credentials=_creds(emu, url), journal=journal,
                options=opts(concurrency=4),
            )
        assert report.status == "failed"
        assert "HTTP 401 from createA2PSMS: OAU-129: Access token corrupted" in report.message
        assert emu.ledger()["batches"] == 0
    # One login, one renewal: the Auth group (5/min) is never hammered.
    assert proxy.count(TOKEN) == 2
    # Counted, not timed: no backoff retries, and each of the (at most) 4 batches in
    # flight tried its POST at most twice, with the first token and the renewed one.
    # How many of the 4 got that far before the job stopped depends on scheduling.
    assert report.retries == 0
    assert 1 <= report.requests["requests"][CREATE_BATCH] <= 2 * 4
    assert "uncertain" not in _journal_states(journal)


async def test_401_on_the_first_api_call_renews_once() -> None:
    """An app whose tokens are never accepted: login, one renewal, a clear AuthError."""
    from engine.api.a2p import A2P
    from engine.api.auth import Auth
    from engine.errors import AuthError

    revoked, calls = _revoked_after(0)
    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, revoked)  # type: ignore[arg-type]
        async with proxy.running() as url, ApiClient(url) as client:
            auth = client.auth = Auth(client, _creds(emu, url))
            a2p = A2P(client)
            with pytest.raises(AuthError) as first:
                await a2p.a2p_senders()
            with pytest.raises(AuthError) as second:
                await a2p.a2p_senders()
    assert "OAU-129" in str(first.value)
    assert "freshly issued" in str(second.value)
    assert proxy.count(TOKEN) == 2 and auth.logins + auth.refreshes == 2
    # The second call tries its token once more (a 401 on it, no token request), then
    # every later one fails before sending anything.
    assert calls[0] == 3


async def test_after_a_401_failure_resume_sends_everything_once(
    numbers_file: Numbers, tmp_path: Path,
) -> None:
    path, numbers = numbers_file(400)
    journal = tmp_path / "job.journal"
    revoked, _ = _revoked_after(2)
    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, revoked)  # type: ignore[arg-type]
        async with proxy.running() as url:
            report = await engine.send_bulk(
                path, text="Hi", credentials=_creds(emu, url), journal=journal,
                options=opts(concurrency=2),
            )
        assert report.status == "failed"
        resumed = await engine.resume(journal, credentials=emu.credentials)
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert_exactly_once(ledger, numbers, counts)
    assert resumed.status == "completed", resumed.message


async def test_emulator_revoking_the_session_mid_job_is_renewed_once(
    numbers_file: Numbers,
) -> None:
    """The session is revoked after the first POST: one renewal and the job goes on."""
    path, numbers = numbers_file(300)
    revoked_once = False

    async with Emulator(cfg()) as emu:
        async def revoke_after_first_post(request: web.Request,
                                          forward: Forward) -> web.StreamResponse | None:
            nonlocal revoked_once
            if revoked_once or not (request.method == "POST"
                                    and request.path.endswith("/a2p-sms/batches")):
                return None
            answer = await forward()
            revoked_once = True
            bearer = (request.headers.get("Authorization") or "").partition(" ")[2]
            emu.runtime.tokens.revoke(bearer)  # the whole session ends, refresh token too
            return answer

        proxy = Proxy(emu.url, revoke_after_first_post)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                            options=opts(concurrency=1))
        ledger = emu.ledger()
        counts = emu.lookup(numbers)
    assert revoked_once
    assert report.status == "completed", report.message
    # Login, then (refresh refused: the session is gone) the JWT again; the revoke at the end.
    # Exactly: the login, the refresh (refused: 400, the session is gone), the JWT again;
    # and the revoke at the end. One renewal however many requests met the revoked token.
    assert proxy.count(TOKEN) == 3 and ledger["status_counts"]["400"] == 1
    assert proxy.count("/restapi/oauth/revoke") == 1
    assert ledger["status_counts"]["401"] >= 1  # the next request (a poll may meet it too)
    assert_exactly_once(ledger, numbers, counts)


# --- 429 without headers ----------------------------------------------------------------

@pytest.mark.slow
async def test_429_without_headers_waits_30_seconds() -> None:
    answers: list[float] = []

    async def handler(request: web.Request) -> web.Response:
        answers.append(time.monotonic())
        if len(answers) == 1:
            return web.Response(status=429, text="Too Many Requests")  # no headers at all
        return web.json_response({"records": []})

    app = web.Application()
    app.router.add_get("/x", handler)
    async with serve(app) as url, ApiClient(url) as client:
        resp = await client.request("GET", "/x", endpoint="x", authorized=False)
    assert resp.data == {"records": []}
    assert len(answers) == 2
    assert client.stats.rate_limited == 1 and client.stats.retries == 1
    assert answers[1] - answers[0] >= DEFAULT_RETRY_AFTER == 30.0


async def test_429_without_headers_once_is_not_retried_early() -> None:
    """The fast half of the above: after the 429 the group is held (checked without waiting)."""
    hits = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal hits
        hits += 1
        return web.Response(status=429)

    app = web.Application()
    app.router.add_get("/x", handler)
    async with serve(app) as url, ApiClient(url, max_retries=0) as client:
        with pytest.raises(RateLimited) as caught:
            await client.request("GET", "/x", endpoint="x", authorized=False)
    assert hits == 1
    assert caught.value.retry_after == 30.0
    assert "retry after 30s" in str(caught.value)


# --- cannot reach the server ------------------------------------------------------------

@pytest.mark.parametrize("where", ["dns", "refused"])
async def test_unreachable_server_at_start_is_a_clear_error_and_nothing_is_sent(
    numbers_file: Numbers, tmp_path: Path, where: str,
) -> None:
    path, _ = numbers_file(50)
    journal = tmp_path / "job.journal"
    url = ("https://hvsms-nonexistent.invalid" if where == "dns"
           else f"http://127.0.0.1:{closed_port()}")
    creds = engine.Credentials(url, "id-123456", "secret-123456", "jwt-123456")
    started = time.monotonic()
    report = await engine.send_bulk(path, text="Hi", credentials=creds, journal=journal,
                                    options=opts(max_retries=1, connect_timeout=2))
    assert time.monotonic() - started < 15
    assert report.status == "failed"
    host = "hvsms-nonexistent.invalid" if where == "dns" else "127.0.0.1"
    assert f"cannot reach {url}" in report.message and host in report.message
    assert report.counts.submitted == report.counts.accepted == 0
    assert "Traceback" not in report.message and "\n" not in report.message
    # Nothing in the journal is marked sent (the job never got to planning).
    assert [s for s in _journal_states(journal) if s not in ("planned",)] == []


async def test_api_client_maps_refused_connections_to_network_error() -> None:
    async with ApiClient(f"http://127.0.0.1:{closed_port()}", max_retries=0) as client:
        with pytest.raises(NetworkError) as caught:
            await client.request("GET", "/x", endpoint="x", authorized=False)
    assert "cannot reach http://127.0.0.1:" in str(caught.value)
    assert "refused" in str(caught.value).lower() or "connect" in str(caught.value).lower()


async def test_ledger_untouched_when_only_the_token_endpoint_is_reachable(
    numbers_file: Numbers,
) -> None:
    """Login works, then the API host stops answering: failed, resumable, nothing sent."""
    path, _ = numbers_file(20)

    async def gone(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        if request.path.startswith("/restapi/oauth"):
            return None
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)

    async with Emulator(cfg()) as emu:
        proxy = Proxy(emu.url, gone)
        async with proxy.running() as url:
            report = await engine.send_bulk(path, text="Hi", credentials=_creds(emu, url),
                                             options=opts(max_retries=1))
        ledger = emu.ledger()
    assert report.status == "failed"
    assert ledger["batches"] == 0 and ledger["requests"].get(CREATE_BATCH, 0) == 0


async def test_connection_attempts_that_never_reached_the_server_cost_no_rate_slot() -> None:
    async with ApiClient(f"http://127.0.0.1:{closed_port()}", max_retries=0,
                         light_limit=1) as client:
        with pytest.raises(NetworkError):
            await client.request("GET", "/x", endpoint="x", authorized=False)
        assert client.governors["light"].delay() == 0.0


@pytest.mark.parametrize("where", ["dns", "refused"])
def test_cli_unreachable_server_at_start(tmp_path: Path, where: str) -> None:
    """Checked at login, before the file is planned: at once, with a hint, no journal."""
    source = tmp_path / "r.csv"
    source.write_text("to\n+14155550100\n+14155550101\n")
    url = ("https://hvsms-nonexistent.invalid" if where == "dns"
           else f"http://127.0.0.1:{closed_port()}")
    env = {**os.environ, "RC_SERVER_URL": url, "RC_APP_CLIENT_ID": "id-123456",
           "RC_APP_CLIENT_SECRET": "secret-123456", "RC_USER_JWT": "jwt-123456"}
    done = subprocess.run(
        [sys.executable, "-m", "engine", "send", str(source), "--text", "Hi", "--yes", "-q",
         "--journal", "job.journal"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hvsms: error: cannot reach {url}: "), lines
    assert "check" in lines[0] and "RC_SERVER_URL" in lines[0]
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "job.journal").exists()
