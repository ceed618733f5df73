"""The HTTP layer: one aiohttp session, rate governors, retries, error mapping.

Every request goes through `ApiClient.request`, which waits on the group's
governor, adds the bearer token, maps aiohttp's exceptions to the hvsms tree
(never carrying headers), and decides what may be retried:

- GETs are idempotent: retried on network errors, 429, 5xx.
- A POST is retried only when the server cannot have acted on it: refused
  before the body was fully written, or answered 429/503. A POST whose body
  was written but whose answer never came raises `OutcomeUnknown`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Protocol, Self

import aiohttp
import backoff
import orjson

from ..clock import CLOCK_HEADER
from ..errors import AuthError, HvsmsError, NetworkError, OutcomeUnknown, RateLimited, ServerError
from .answers import (
    DEFAULT_RETRY_AFTER,
    MAX_RESPONSE_BYTES,
    Response,
    Retry,
    classify,
    read_capped,
    seconds,
    too_large,
)
from .body import StreamBody
from .governor import Governor
from .stats import RequestStats

# Response, RequestStats, StreamBody and the limits live in their own modules;
# named here too, where callers of `request` look for them.
__all__ = ["DEFAULT_RETRY_AFTER", "MAX_RESPONSE_BYTES", "ApiClient", "RequestStats", "Response",
           "StreamBody", "TokenSource"]

log = logging.getLogger("engine.api")


class TokenSource(Protocol):
    """What the client needs of a login (`engine.api.auth.Auth`)."""

    async def token(self) -> str:
        """A valid access token."""

    async def renew(self, rejected: str | None) -> None:
        """The server refused `rejected` (401): get another one."""

    def accepted(self, token: str) -> None:
        """A request with `token` got past authentication."""


class ApiClient:
    """An authenticated session with the RingCentral platform."""

    def __init__(
        self,
        server_url: str,
        *,
        request_timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_retries: int = 6,
        stats: RequestStats | None = None,
        limit: int = 16,
        light_limit: int = 50,
    ) -> None:
        self.server_url = server_url
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.max_retries = max_retries
        self.stats = stats or RequestStats()
        self.governors = {
            "light": Governor("light", limit=light_limit),
            "auth": Governor("auth", limit=5),
        }
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None
        # Until the server has answered once, a DNS failure or a refused
        # connection is a wrong URL, not an outage: fail at once, no retries.
        self.reached = False
        # Called after each failed attempt that will be retried (progress display).
        self.on_retry: Callable[[HvsmsError], None] | None = None
        # Set when the job is stopping: a retry's wait ends at once and the
        # last error is raised instead of trying again.
        self.stopping = asyncio.Event()
        # The login whose tokens authorized requests carry; set by whoever signs
        # in (`engine.account.open_api`), since `Auth` itself needs this client.
        self.auth: TokenSource | None = None
        # The clock hvsms's emulator announced in its last answer, and when (monotonic).
        self.announced: tuple[str, float] | None = None

    async def __aenter__(self) -> Self:
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.connect_timeout, sock_read=self.request_timeout
        )
        connector = aiohttp.TCPConnector(limit=self._limit, enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(
            timeout=timeout, connector=connector, raise_for_status=False,
            headers={"User-Agent": "hvsms/0.1 (+aiohttp)"},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def background_reserve(self, governor: Governor) -> int:
        """Slots of a window background requests leave free: one per connection
        (the submitters' POSTs and the poller), and at least a fifth of the budget."""
        return max(self._limit, governor.limit // 5)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("ApiClient used outside `async with`")
        return self._session

    def _announced(self, headers: Mapping[str, str]) -> None:
        if (clock := headers.get(CLOCK_HEADER)) is not None:
            self.announced = (clock, time.monotonic())

    def _signed_in(self) -> TokenSource:
        if self.auth is None:
            raise RuntimeError("ApiClient.auth is not set: an authorized request needs a login")
        return self.auth

    async def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | list[tuple[str, str]] | None = None,
        json: Any = None,
        body: Callable[[], StreamBody] | None = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        group: str = "light",
        authorized: bool = True,
        idempotent: bool | None = None,
        background: bool = False,
    ) -> Response:
        """Send one API request with retries; returns the parsed JSON answer.

        A `background` request only uses spare room in its group's budget
        (`Governor.acquire_spare`): it waits while anything else wants to go.
        """
        if idempotent is None:
            idempotent = method == "GET"
        wait_gen = backoff.expo(base=2, factor=0.5, max_value=60)
        next(wait_gen)  # prime the generator (backoff yields None first)
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            token = await self._signed_in().token() if authorized else None
            try:
                return await self._once(
                    method, path, endpoint=endpoint, params=params, json=json, body=body,
                    form=form, headers=headers, group=group, token=token,
                    idempotent=idempotent, background=background,
                )
            except AuthError as exc:
                if not authorized or renewed or exc.status != 401:
                    raise
                renewed = True  # one renewal per request; never loop on the Auth group
                await self._signed_in().renew(token)
            except Retry as retry:
                if attempt > self.max_retries or self.stopping.is_set():
                    raise retry.error from None
                self.stats.retries += 1
                if self.on_retry is not None:
                    self.on_retry(retry.error)
                delay = retry.wait if retry.wait is not None else backoff.full_jitter(
                    next(wait_gen)
                )
                event = "rate_limited" if isinstance(retry.error, RateLimited) else "retry"
                log.info("%s %s: %s; retry %d in %.1fs", method, endpoint, retry.error,
                         attempt, delay, extra={"event": event, "endpoint": endpoint,
                                                "attempt": attempt, "delay": round(delay, 3)})
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), delay)
                if self.stopping.is_set():
                    raise retry.error from None

    async def _once(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        params: Mapping[str, Any] | list[tuple[str, str]] | None,
        json: Any,
        body: Callable[[], StreamBody] | None,
        form: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        group: str,
        token: str | None,
        idempotent: bool,
        background: bool = False,
    ) -> Response:
        governor = self.governors[group]
        await self._acquire(governor, endpoint, background)
        self.stats.requests[endpoint] += 1
        hdrs = {"Accept": "application/json", **(headers or {})}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        payload: Any = None
        stream: StreamBody | None = None
        if body is not None:
            payload = stream = body()
        elif json is not None:
            payload = orjson.dumps(json)
            hdrs["Content-Type"] = "application/json"
        elif form is not None:
            payload = aiohttp.FormData(dict(form))
        url = self.server_url + path
        started = time.monotonic()
        try:
            async with self.session.request(
                method, url, params=params, data=payload, headers=hdrs, allow_redirects=False
            ) as resp:
                governor.observe(resp.headers)
                self._announced(resp.headers)
                self.reached = True
                status = resp.status
                if token is not None and status != 401:
                    self._signed_in().accepted(token)
                self.stats.statuses[status] += 1
                declared = resp.content_length
                raw = None if declared is not None and declared > MAX_RESPONSE_BYTES else (
                    await read_capped(resp, within=self.request_timeout))
                if raw is None:
                    raise too_large(status, endpoint=endpoint, idempotent=idempotent,
                                    stats=self.stats)
                retry_after = seconds(resp.headers.get("Retry-After"))
                location = resp.headers.get("Location", "")
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if stream is not None and stream.error is not None:
                raise stream.error from None
            sent_fully = stream is None or stream.complete
            if isinstance(exc, aiohttp.ClientConnectorError):
                governor.refund()  # never reached the server: costs no rate slot
            if isinstance(exc, aiohttp.ClientConnectorCertificateError):
                # The server's certificate is not trusted: retrying cannot change that.
                raise NetworkError(f"cannot reach {self.server_url}: {_describe(exc)}") from None
            self._fail_if_unreachable(exc)
            if isinstance(exc, aiohttp.ClientConnectorError) or not sent_fully:
                err = NetworkError(f"cannot reach {self.server_url}: {_describe(exc)}")
                raise Retry(err) from None
            if idempotent:
                raise Retry(NetworkError(f"{endpoint}: {_describe(exc)}")) from None
            self.stats.unknown_outcomes += 1
            raise OutcomeUnknown(
                f"{endpoint}: no answer after {time.monotonic() - started:.1f}s "
                f"({_describe(exc)}); the request may have been processed"
            ) from None
        except HvsmsError as exc:
            # The body failed as it was written (its producer, or its size): nothing
            # complete was sent.
            raise exc from None
        return classify(
            status, raw, retry_after, location, endpoint=endpoint, idempotent=idempotent,
            governor=governor, stats=self.stats,
        )

    async def _acquire(self, governor: Governor, endpoint: str, background: bool = False) -> None:
        """The governor's slot (for a background request, a spare one); once the job
        is stopping, no waiting for one (the request was not sent: a POST is as
        refused, a resume sends it)."""
        def slot_taken() -> Coroutine[Any, Any, None]:
            if background:
                return governor.acquire_spare(self.background_reserve(governor))
            return governor.acquire()

        if governor.group == "auth" or (not background and not self.stopping.is_set()
                                        and governor.delay() <= 0):
            await slot_taken()
            return
        if not self.stopping.is_set():
            slot = asyncio.ensure_future(slot_taken())
            stop = asyncio.ensure_future(self.stopping.wait())
            await asyncio.wait({slot, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if slot.done():
                slot.result()
                return
            slot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await slot
        raise ServerError(0, None, "not sent: the job is stopping", endpoint=endpoint)

    def _fail_if_unreachable(self, exc: BaseException) -> None:
        """Before the server has ever answered, a DNS failure or a refused
        connection means a wrong URL: raise it now, with a hint, not after retries."""
        if self.reached or not isinstance(exc, aiohttp.ClientConnectorError):
            return
        hint = _unreachable_hint(exc)
        if hint:
            raise NetworkError(f"cannot reach {self.server_url}: {_describe(exc)}; {hint}")

def _unreachable_hint(exc: aiohttp.ClientConnectorError) -> str | None:
    """For an address that cannot work (no DNS name, nothing listening): what to check."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ("the host name does not resolve: check RC_SERVER_URL "
                "(https://platform.ringcentral.com) and the network's DNS")
    if isinstance(exc.os_error, ConnectionRefusedError):
        return "the connection was refused: check the host and port in RC_SERVER_URL"
    return None


def _describe(exc: BaseException) -> str:
    # aiohttp messages can include the URL but never headers; keep them short.
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if str(exc) else text
