"""Middlewares around every request: bookkeeping, injected faults, auth and rate limits.

Outermost first: `observe` (ledger counts, in-flight spy, JSON errors for
404/405/413), `inject_faults` (API endpoints listed in the fault config),
`guard` (bearer check and rate limit, `X-Rate-Limit-*` headers). The
`/_emulator/*` control endpoints skip all but the JSON error mapping.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import web

from ..clock import CLOCK_HEADER
from .auth import Session, Unauthorized
from .config import A2P_OPERATIONS
from .faults import FaultKind
from .ratelimit import AUTH, LIGHT
from .responses import ApiError, asg_body, json_response
from .runtime import RUNTIME, Runtime

__all__ = ["BATCH_ID", "CONTROL_PREFIX", "guard", "inject_faults", "observe", "too_large"]

SESSION = web.RequestKey("session", Session)
NO_ANSWER = web.RequestKey("no_answer", bool)  # set when the connection was closed on purpose
BATCH_ID = web.RequestKey("batch_id", str)  # the batch a POST stored, for the ledger

CONTROL_PREFIX = "/_emulator/"
AUTH_OPERATIONS = frozenset({"token", "revoke"})
# The WebSocket gateway checks its own token (in the URL), not a Bearer header.
GATEWAY_OPERATIONS = frozenset({"websocket"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


def _operation(request: web.Request) -> str:
    route = request.match_info.route
    return route.name or "unknown"


def _is_api(request: web.Request) -> bool:
    """A matched API route (not the control API, not a 404/405)."""
    return (request.match_info.http_exception is None
            and not request.path.startswith(CONTROL_PREFIX))


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(CONTROL_PREFIX):
        return await _as_json_errors(request, handler)
    ledger = _runtime(request).ledger
    operation = _operation(request)
    ledger.started(operation)
    try:
        response = await _as_json_errors(request, handler)
        if not request.get(NO_ANSWER):
            ledger.answered(response.status)
        if not response.prepared:  # its clock, for hvsms to plan by (`engine.clock`)
            runtime = _runtime(request)
            response.headers[CLOCK_HEADER] = f"{runtime.clock():.3f} {runtime.config.time_scale!r}"
        return response
    finally:
        ledger.finished(operation)


async def _as_json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        return too_large()
    except web.HTTPNotFound:
        return ApiError(404, "CMN-102", "Resource for parameter [path] is not found.").response()
    except web.HTTPMethodNotAllowed:
        return ApiError(405, "CMN-102", "Method not allowed").response()


def too_large() -> web.Response:
    response = ApiError(413, "AGW-413", "Request entity too large").response()
    response.force_close()
    return response


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not _is_api(request):
        return await handler(request)
    runtime = _runtime(request)
    plan = runtime.faults.plan(_operation(request))
    if plan.delay:
        runtime.ledger.fault("latency")
        await asyncio.sleep(plan.delay)
    if plan.kind is None:
        return await handler(request)
    runtime.ledger.fault(plan.kind.value)
    if plan.kind is FaultKind.DROP:
        return _close_without_answer(request)
    if plan.kind is FaultKind.ERROR_503:
        retry = runtime.config.faults.retry_after_503
        headers = {} if retry is None else {"Retry-After": f"{retry:g}"}
        raise ApiError(503, "AGW-503", "Service Unavailable", headers)
    if plan.kind is FaultKind.ERROR_500:
        raise ApiError(500, "CMN-201", "Service Temporary Unavailable")
    if plan.kind is FaultKind.HANG:
        await _stall(request, runtime)
        return _close_without_answer(request)
    response = await handler(request)
    if plan.kind is FaultKind.LOST_ANSWER:
        batch_id = request.get(BATCH_ID)
        if batch_id is not None:
            runtime.ledger.lost_answer_batches.append(batch_id)
        return _close_without_answer(request)
    # HANG_AFTER_HEADERS: the status line and headers go out, the body never does.
    if isinstance(response, web.Response):
        stalled = web.StreamResponse(status=response.status, headers=response.headers)
        body = response.body
        stalled.content_length = len(body) if isinstance(body, bytes) else None
        await stalled.prepare(request)
    await _stall(request, runtime)
    return _close_without_answer(request)


async def _stall(request: web.Request, runtime: Runtime) -> None:
    """Wait until the client hangs up or the emulator stops, whichever is first."""
    while not runtime.closing.is_set():
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.closing.wait(), 0.25)


def _close_without_answer(request: web.Request) -> web.Response:
    request[NO_ANSWER] = True
    if request.transport is not None:
        request.transport.close()
    # aiohttp's write to the closed transport fails quietly: nothing is sent.
    return web.Response(status=500)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    operation = _operation(request)
    if not _is_api(request) or operation in GATEWAY_OPERATIONS:
        return await handler(request)
    runtime = _runtime(request)
    if operation in AUTH_OPERATIONS:
        group, key = AUTH, "client:" + _basic_client_id(request.headers.get("Authorization"))
    else:
        try:
            session = runtime.tokens.authenticate(request.headers.get("Authorization"))
        except Unauthorized as exc:
            return json_response(asg_body(exc.code, exc.message), 401)
        request[SESSION] = session
        if operation in A2P_OPERATIONS and not runtime.config.a2p_permission:
            return ApiError(403, "CMN-401", "In order to call this API endpoint, application "
                            "needs to have [A2PSMS] permission").response()
        # "API rate limit is per user, per application": every login of the
        # same user and app shares one budget.
        group = AUTH if operation == "wstoken" else LIGHT  # the token is in the Auth group
        key = f"user:{runtime.config.extension_id}:app:{session.client_id}"
    decision = runtime.limiter.hit(key, group)
    if decision is None:
        return await handler(request)
    if not decision.allowed:
        body = asg_body("CMN-301", "Request rate exceeded")
        return json_response(body, 429, decision.headers)
    response = await _as_json_errors(request, handler)
    response.headers.update(decision.headers)
    return response


def _basic_client_id(authorization: str | None) -> str:
    """The client id named by a Basic header, valid or not (the Auth group's key)."""
    if not authorization:
        return ""
    _, _, value = authorization.strip().partition(" ")
    try:
        return base64.b64decode(value.strip(), validate=True).decode().partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return ""
