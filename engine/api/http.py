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
import re
import time
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
import backoff
import orjson
from aiohttp.payload import AsyncIterablePayload

from ..errors import (
    ApiError,
    AuthError,
    HvsmsError,
    JournalError,
    NetworkError,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from .governor import Governor

__all__ = ["ApiClient", "RequestStats", "Response", "StreamBody"]

log = logging.getLogger("engine.api")

MAX_RESPONSE_BYTES = 64 << 20
# RingCentral: "If Retry-After is not returned, retry in 30 seconds or later."
DEFAULT_RETRY_AFTER = 30.0


@dataclass(slots=True)
class RequestStats:
    """What the job asked of the API; goes into the report."""

    requests: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    retries: int = 0
    rate_limited: int = 0
    unknown_outcomes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": dict(self.requests),
            "total_requests": sum(self.requests.values()),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "unknown_outcomes": self.unknown_outcomes,
        }


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    data: Any


class StreamBody(AsyncIterablePayload):
    """A JSON body produced piece by piece, whose exact size is known up front.

    Tracks how much was handed to the connection: a body that was not fully
    written cannot have been accepted by the server (Content-Length unmet).
    """

    def __init__(self, pieces: AsyncIterable[bytes], size: int) -> None:
        self.error: HvsmsError | None = None
        self.written = 0
        self.expected = size
        super().__init__(self._count(pieces), content_type="application/json")
        self._size = size

    async def _count(self, pieces: AsyncIterable[bytes]) -> AsyncIterator[bytes]:
        try:
            async for piece in pieces:
                self.written += len(piece)
                if self.written > self.expected:
                    raise JournalError("a body came out larger than planned: the input changed")
                yield piece
            if self.written != self.expected:
                raise JournalError("a body came out smaller than planned: the input changed")
        except HvsmsError as exc:
            # aiohttp wraps errors raised while writing; keep ours to re-raise.
            self.error = exc
            raise

    @property
    def complete(self) -> bool:
        return self.written >= self.expected


class _Retry(Exception):
    """Internal: this attempt failed in a way that is safe to try again."""

    def __init__(self, error: HvsmsError, wait: float | None = None) -> None:
        self.error = error
        self.wait = wait


class ApiClient:
    """An authenticated session with the RingCentral platform."""

    def __init__(
        self,
        server_url: str,
        *,
        token: Callable[[], Any] | None = None,
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
        # Set by Auth: has `token()`, `renew(rejected)` and `accepted(token)`.
        self.auth: Any = None

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
            token = await self.auth.token() if authorized else None
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
                await self.auth.renew(token)
            except _Retry as retry:
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
                self.reached = True
                status = resp.status
                if token is not None and status != 401:
                    self.auth.accepted(token)
                self.stats.statuses[status] += 1
                declared = resp.content_length
                raw = None if declared is not None and declared > MAX_RESPONSE_BYTES else (
                    await _read_capped(resp, within=self.request_timeout))
                if raw is None:
                    raise self._too_large(status, endpoint=endpoint, idempotent=idempotent)
                retry_after = _seconds(resp.headers.get("Retry-After"))
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
                raise _Retry(err) from None
            if idempotent:
                raise _Retry(NetworkError(f"{endpoint}: {_describe(exc)}")) from None
            self.stats.unknown_outcomes += 1
            raise OutcomeUnknown(
                f"{endpoint}: no answer after {time.monotonic() - started:.1f}s "
                f"({_describe(exc)}); the request may have been processed"
            ) from None
        except HvsmsError as exc:
            # Our body generator failed (input changed): nothing complete was sent.
            raise exc from None
        return self._classify(
            status, raw, retry_after, location, endpoint=endpoint, idempotent=idempotent,
            governor=governor,
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

    def _too_large(self, status: int, *, endpoint: str, idempotent: bool) -> HvsmsError:
        """An answer over the cap is not read; after a POST, what it said is unknown."""
        err = ServerError(status, None, "answer too large", endpoint=endpoint)
        if idempotent:
            return err
        # The server may well have acted (a 2xx we cannot read): reconcile, never
        # treat it as a refusal (the batch would be marked failed, yet stored).
        self.stats.unknown_outcomes += 1
        return OutcomeUnknown(f"{endpoint}: {err}; the request may have been processed")

    def _classify(
        self,
        status: int,
        raw: bytes,
        retry_after: float | None,
        location: str,
        *,
        endpoint: str,
        idempotent: bool,
        governor: Governor,
    ) -> Response:
        if 200 <= status < 300:
            try:
                return Response(status, orjson.loads(raw) if raw else None)
            except orjson.JSONDecodeError:
                if not idempotent:
                    self.stats.unknown_outcomes += 1
                    raise OutcomeUnknown(
                        f"{endpoint}: HTTP {status} with a body that is not JSON"
                    ) from None
                raise _Retry(ServerError(status, None, "answer is not JSON: " + _snippet(raw),
                                         endpoint=endpoint)) from None
        code, message = _error_body(raw)
        if 300 <= status < 400:
            raise ServerError(status, code, f"refused to follow a redirect to {location!r}",
                              endpoint=endpoint)
        if status == 401:
            raise AuthError(status, code, message or "unauthorized", endpoint=endpoint)
        if status == 403:
            # Every other request of the job would be refused the same way.
            raise PermissionDenied(code, endpoint=endpoint)
        if status == 429:
            self.stats.rate_limited += 1
            wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
            governor.penalize(wait)
            raise _Retry(RateLimited(wait, governor.group, endpoint=endpoint), wait=0.0)
        if status == 503:
            if retry_after is not None:
                governor.hold(retry_after)
            raise _Retry(ServerError(status, code, message or "service unavailable",
                                     endpoint=endpoint),
                         wait=0.0 if retry_after is not None else None)
        if status >= 500:
            err = ServerError(status, code, message or _snippet(raw), endpoint=endpoint)
            if idempotent:
                raise _Retry(err)
            self.stats.unknown_outcomes += 1
            raise OutcomeUnknown(f"{endpoint}: {err}; the request may have been processed")
        raise ApiError(status, code, message or _snippet(raw), endpoint=endpoint)


async def _read_capped(resp: aiohttp.ClientResponse, *, within: float) -> bytes | None:
    """The whole body; None past MAX_RESPONSE_BYTES (`read(n)` may return less than n).

    The body must be complete `within` seconds: `sock_read` only bounds the gap
    between two reads, so an answer trickling in a byte at a time would
    otherwise hold the request (and a POST's outcome) forever.
    """
    parts: list[bytes] = []
    total = 0
    try:
        async with asyncio.timeout(within):
            while chunk := await resp.content.read(1 << 20):
                total += len(chunk)
                if total > MAX_RESPONSE_BYTES:
                    return None
                parts.append(chunk)
    except TimeoutError:
        raise TimeoutError(f"the answer did not finish within {within:g}s") from None
    return b"".join(parts)


def _unreachable_hint(exc: aiohttp.ClientConnectorError) -> str | None:
    """For an address that cannot work (no DNS name, nothing listening): what to check."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return ("the host name does not resolve: check RC_SERVER_URL "
                "(https://platform.ringcentral.com) and the network's DNS")
    if isinstance(exc.os_error, ConnectionRefusedError):
        return "the connection was refused: check the host and port in RC_SERVER_URL"
    return None


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# A specific RingCentral error code: "CMN-101", "SMS-RC-410", "OAU-128".
_SPECIFIC_CODE = re.compile(r"[A-Z]{2,4}(?:-[A-Z]{2,4})?-\d{3}")


def _error_body(raw: bytes) -> tuple[str | None, str]:
    """(errorCode, message) from an ASGErrorResponse or an OAuth error body.

    The top-level `errorCode` can be a category ("InvalidParameter"); the
    specific code is then the first one in `errors[]`.
    """
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    code = data.get("errorCode")
    message = data.get("message") or data.get("error_description") or ""
    errors = data.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, dict) and first.get("errorCode") and not (
            isinstance(code, str) and _SPECIFIC_CODE.fullmatch(code)):
        code = first.get("errorCode")
        message = first.get("message") or message
    return (str(code) if code else None), str(message)


def _snippet(raw: bytes) -> str:
    text = raw[:200].decode("utf-8", "replace").strip()
    return " ".join(text.split()) or "(empty body)"


def _describe(exc: BaseException) -> str:
    # aiohttp messages can include the URL but never headers; keep them short.
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if str(exc) else text
