"""What an HTTP answer means: parsed JSON, an error of the hvsms tree, or a retry.

`classify` maps a status and body to a `Response` or raises; what may be tried
again is raised as `Retry` (internal to the API layer), carrying the error to
raise when no retry is left. Answers are read whole but capped in size and time.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson

from ..errors import (
    ApiError,
    AuthError,
    HvsmsError,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    ServerError,
)
from .governor import Governor
from .stats import RequestStats

__all__ = ["DEFAULT_RETRY_AFTER", "MAX_RESPONSE_BYTES", "Response", "Retry", "classify",
           "error_body", "read_capped", "seconds", "too_large"]

MAX_RESPONSE_BYTES = 64 << 20
# RingCentral: "If Retry-After is not returned, retry in 30 seconds or later."
DEFAULT_RETRY_AFTER = 30.0


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    data: Any


class Retry(Exception):
    """This attempt failed in a way that is safe to try again (`wait`: how long,
    when the answer said; None: back off)."""

    def __init__(self, error: HvsmsError, wait: float | None = None) -> None:
        self.error = error
        self.wait = wait


def classify(
    status: int,
    raw: bytes,
    retry_after: float | None,
    location: str,
    *,
    endpoint: str,
    idempotent: bool,
    governor: Governor,
    stats: RequestStats,
) -> Response:
    """The answer's JSON; an error, or `Retry`. A 429 or 503 also tells `governor`."""
    if 200 <= status < 300:
        try:
            return Response(status, orjson.loads(raw) if raw else None)
        except orjson.JSONDecodeError:
            if not idempotent:
                stats.unknown_outcomes += 1
                raise OutcomeUnknown(
                    f"{endpoint}: HTTP {status} with a body that is not JSON"
                ) from None
            raise Retry(ServerError(status, None, "answer is not JSON: " + snippet(raw),
                                    endpoint=endpoint)) from None
    code, message = error_body(raw)
    if 300 <= status < 400:
        raise ServerError(status, code, f"refused to follow a redirect to {location!r}",
                          endpoint=endpoint)
    if status == 401:
        raise AuthError(status, code, message or "unauthorized", endpoint=endpoint)
    if status == 403:
        # Every other request of the job would be refused the same way.
        raise PermissionDenied(code, endpoint=endpoint)
    if status == 429:
        stats.rate_limited += 1
        wait = retry_after if retry_after is not None else DEFAULT_RETRY_AFTER
        governor.penalize(wait)
        raise Retry(RateLimited(wait, governor.group, endpoint=endpoint), wait=0.0)
    if status == 503:
        if retry_after is not None:
            governor.hold(retry_after)
        raise Retry(ServerError(status, code, message or "service unavailable",
                                endpoint=endpoint),
                    wait=0.0 if retry_after is not None else None)
    if status >= 500:
        err = ServerError(status, code, message or snippet(raw), endpoint=endpoint)
        if idempotent:
            raise Retry(err)
        stats.unknown_outcomes += 1
        raise OutcomeUnknown(f"{endpoint}: {err}; the request may have been processed")
    raise ApiError(status, code, message or snippet(raw), endpoint=endpoint)


def too_large(status: int, *, endpoint: str, idempotent: bool,
              stats: RequestStats) -> HvsmsError:
    """An answer over the cap is not read; after a POST, what it said is unknown."""
    err = ServerError(status, None, "answer too large", endpoint=endpoint)
    if idempotent:
        return err
    # The server may well have acted (a 2xx we cannot read): reconcile, never
    # treat it as a refusal (the batch would be marked failed, yet stored).
    stats.unknown_outcomes += 1
    return OutcomeUnknown(f"{endpoint}: {err}; the request may have been processed")


async def read_capped(resp: aiohttp.ClientResponse, *, within: float) -> bytes | None:
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


def seconds(value: str | None) -> float | None:
    """A Retry-After header's seconds (None: absent or not a number)."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# A specific RingCentral error code: "CMN-101", "SMS-RC-410", "OAU-128".
_SPECIFIC_CODE = re.compile(r"[A-Z]{2,4}(?:-[A-Z]{2,4})?-\d{3}")


def error_body(raw: bytes) -> tuple[str | None, str]:
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


def snippet(raw: bytes) -> str:
    text = raw[:200].decode("utf-8", "replace").strip()
    return " ".join(text.split()) or "(empty body)"
