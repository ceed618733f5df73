"""The aiohttp application: RingCentral's High Volume SMS routes and the control API.

Request path, outermost first: `observe` (ledger counts, in-flight spy, JSON
404/405), `inject_faults` (API endpoints listed in the fault config),
`guard` (bearer check and rate limit, `X-Rate-Limit-*` headers), the handler.
The `/_emulator/*` control endpoints skip all but the JSON error mapping.

Assumptions where the sources are silent (see also `parse` and `state`):
- A body over `max_body_bytes` gets 413 with an ASG body
  `{"errorCode":"AGW-413","message":"Request entity too large",...}` and the
  connection is closed; Content-Length is checked before anything is read.
- A batch whose every recipient is rejected gets 201: batchSize 0, status
  Completed, cost 0, and the `rejected` list. It is listed like any batch.
- A message's own text over 1000 characters rejects that message (CMN-101
  in `rejected[]`); an overlong top-level text fails the request (400 CMN-101).
- Accounts: `accountId` may be `~` or the configured id; others give 404 CMN-102.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from .auth import OAuthError, Session, Unauthorized
from .config import EmulatorConfig
from .fastparse import parse_fast
from .faults import FaultKind
from .memory import release_memory
from .parse import parse_batch
from .query import (
    date_window,
    decode_token,
    paging,
    parse_phone,
    per_page,
    phone_numbers,
)
from .ratelimit import AUTH, LIGHT
from .responses import ApiError, asg_body, json_response
from .runtime import Runtime
from .state import MessageQuery

__all__ = ["RUNTIME", "create_app"]

RUNTIME = web.AppKey("runtime", Runtime)
SESSION = web.RequestKey("session", Session)
NO_ANSWER = web.RequestKey("no_answer", bool)  # set when the connection was closed on purpose
BATCH_ID = web.RequestKey("batch_id", str)  # the batch a POST stored, for the ledger

API = "/restapi/v1.0/account/{accountId}"
A2P = API + "/a2p-sms"
CONTROL_PREFIX = "/_emulator/"
AUTH_OPERATIONS = frozenset({"token", "revoke"})
BIG_BODY = 4 * 1024 * 1024  # after a body this big, give the parser's scratch memory back

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


# -- middlewares ---------------------------------------------------------------


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
        return response
    finally:
        ledger.finished(operation)


async def _as_json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return exc.response()
    except web.HTTPRequestEntityTooLarge:
        return _too_large()
    except web.HTTPNotFound:
        return ApiError(404, "CMN-102", "Resource for parameter [path] is not found.").response()
    except web.HTTPMethodNotAllowed:
        return ApiError(405, "CMN-102", "Method not allowed").response()


def _too_large() -> web.Response:
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
        raise ApiError(503, "CMN-201", "Service Temporary Unavailable", headers)
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
    if not _is_api(request):
        return await handler(request)
    runtime = _runtime(request)
    operation = _operation(request)
    if operation in AUTH_OPERATIONS:
        group, key = AUTH, "client:" + _basic_client_id(request.headers.get("Authorization"))
    else:
        try:
            session = runtime.tokens.authenticate(request.headers.get("Authorization"))
        except Unauthorized as exc:
            return json_response(asg_body(exc.code, exc.message), 401)
        request[SESSION] = session
        group, key = LIGHT, "session:" + session.id
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


# -- OAuth ---------------------------------------------------------------------


async def token(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    try:
        client_id = runtime.tokens.client_id(request.headers.get("Authorization"))
        form = await request.post()
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        return json_response(runtime.tokens.grant(client_id, fields))
    except OAuthError as exc:
        return json_response(exc.body, exc.status)


async def revoke(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    try:
        runtime.tokens.client_id(request.headers.get("Authorization"))
    except OAuthError as exc:
        return json_response(exc.body, exc.status)
    form = await request.post()
    value = form.get("token")
    if isinstance(value, str):
        runtime.tokens.revoke(value)
    return web.Response(status=200)


# -- account -------------------------------------------------------------------


def _check_account(request: web.Request) -> EmulatorConfig:
    config = _runtime(request).config
    if request.match_info["accountId"] not in ("~", config.account_id):
        raise ApiError.not_found("accountId")
    return config


async def phone_numbers_list(request: web.Request) -> web.Response:
    config = _check_account(request)
    if request.match_info["extensionId"] not in ("~", config.extension_id):
        raise ApiError.not_found("extensionId")
    query = request.query
    try:
        page = int(query.get("page", "1"))
        size = int(query.get("perPage", "100"))
    except ValueError:
        raise ApiError.invalid_parameter("page") from None
    if page < 1 or size < 1:
        raise ApiError.invalid_parameter("page")
    usage = set(query.getall("usageType", ()))
    senders = [s for s in config.senders if not usage or s.usage_type in usage]
    base = (f"{request.scheme}://{request.host}/restapi/v1.0/account/{config.account_id}"
            f"/extension/{config.extension_id}")
    records = []
    for i, sender in enumerate(senders):
        number_id = 1_000_001 + config.senders.index(sender)
        records.append({
            "uri": f"{base}/phone-number/{number_id}",
            "id": number_id,
            "phoneNumber": sender.phone_number,
            "paymentType": sender.payment_type,
            "type": "VoiceFax",
            "usageType": sender.usage_type,
            "status": "Normal",
            "primary": i == 0,
            "features": list(sender.features),
        })
    total = len(records)
    pages = max(1, -(-total // size))
    chunk = records[(page - 1) * size:page * size]

    def link(p: int) -> dict[str, str]:
        return {"uri": f"{base}/phone-number?page={p}&perPage={size}"}

    navigation = {"firstPage": link(1), "lastPage": link(pages)}
    if page < pages:
        navigation["nextPage"] = link(page + 1)
    if page > 1:
        navigation["previousPage"] = link(page - 1)
    paging_info: dict[str, Any] = {"page": page, "totalPages": pages, "perPage": size,
                                   "totalElements": total}
    if chunk:
        paging_info["pageStart"] = (page - 1) * size
        paging_info["pageEnd"] = (page - 1) * size + len(chunk) - 1
    return json_response({"uri": f"{base}/phone-number?page={page}&perPage={size}",
                          "records": chunk, "paging": paging_info, "navigation": navigation})


# -- batches -------------------------------------------------------------------


async def create_batch(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    limit = runtime.config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _too_large()
    body = await request.read()
    runtime.ledger.body(len(body))
    # Large bodies of the usual shapes take the numpy path; the rest orjson.
    batch_request = parse_fast(body) or parse_batch(body)
    try:
        batch, rejected = runtime.state.create_batch(batch_request)
    finally:
        if len(body) > BIG_BODY:
            del batch_request
            release_memory()
    request[BATCH_ID] = batch.id
    view = batch.view(runtime.clock(), runtime.config.price_per_segment, rejected)
    # The POST always answers as accepted; progress shows on later reads.
    if batch.size:
        view.update(processedCount=0, status="Processing")
        view.pop("cost", None)
    return json_response(view, 201)


async def list_batches(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    query = request.query
    size = per_page(query)
    date_from, date_to = date_window(query, runtime.clock())
    after = decode_token("b", query.get("pageToken"))
    sender = parse_phone(query["from"]) if query.get("from") else None
    statuses = set(query.getall("status", ()))
    found, next_after = runtime.state.list_batches(
        date_from=date_from, date_to=date_to, sender=sender, statuses=statuses,
        after=after, per_page=size)
    now, price = runtime.clock(), runtime.config.price_per_segment
    return json_response({"records": [b.view(now, price) for b in found],
                          "paging": paging("b", size, after, next_after)})


async def read_batch(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    batch = runtime.state.batch(request.match_info["batchId"])
    return json_response(batch.view(runtime.clock(), runtime.config.price_per_segment))


# -- messages and statuses -----------------------------------------------------


def _message_query(request: web.Request, runtime: Runtime) -> MessageQuery:
    query = request.query
    date_from, date_to = date_window(query, runtime.clock())
    directions = set(query.getall("direction", ()))
    if directions - {"Inbound", "Outbound"}:
        raise ApiError.invalid_parameter("direction")
    return MessageQuery(
        date_from=date_from, date_to=date_to,
        batch_id=query.get("batchId") or None,
        phone_numbers=phone_numbers(query),
        outbound=not directions or "Outbound" in directions,
    )


async def list_messages(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    query = request.query
    view = query.get("view", "Simple")
    if view not in ("Simple", "Detailed"):
        raise ApiError.invalid_parameter("view")
    size = per_page(query)
    after = decode_token("m", query.get("pageToken"))
    found, next_after = runtime.state.list_messages(
        _message_query(request, runtime), after=after, per_page=size)
    now = runtime.clock()
    state = runtime.state
    records = [state.message_view(b, i, now, detailed=view == "Detailed") for b, i in found]
    return json_response({"records": records, "paging": paging("m", size, after, next_after)})


async def read_message(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    batch, index = runtime.state.message(request.match_info["messageId"])
    return json_response(runtime.state.message_view(batch, index, runtime.clock(),
                                                    detailed=True))


async def statuses(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    totals = runtime.state.statuses(_message_query(request, runtime))
    price = runtime.config.price_per_segment
    out: dict[str, Any] = {}
    for name in ("queued", "delivered", "deliveryFailed", "sent", "sendingFailed"):
        entry: dict[str, Any] = {
            "count": totals.counts.get(name, 0),
            "cost": round(totals.units.get(name, 0) * price, 6),
        }
        if name in ("deliveryFailed", "sendingFailed"):
            entry["errorCodeCounts"] = totals.errors.get(name, {})
        out[name] = entry
    return json_response(out)


# -- opt-outs ------------------------------------------------------------------


async def list_opt_outs(request: web.Request) -> web.StreamResponse:
    _check_account(request)
    runtime = _runtime(request)
    query = request.query
    status = query.get("status", "optout").lower()
    if status not in ("optout", "optin", "all"):
        raise ApiError.invalid_parameter("status")
    sender = query.get("from")
    sender = None if sender is None else (sender.strip() if sender.strip() == "*"
                                          else parse_phone(sender))
    to = parse_phone(query["to"]) if query.get("to") else None
    records = runtime.state.opt_out_records(sender=sender, to=to, status=status)
    if "text/csv" in request.headers.get("Accept", ""):
        lines = ["from,to,status,source"]
        lines += [f"{r['from']},{r['to']},{r['status']},{r['source']}" for r in records]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/csv")
    size = per_page(query)
    after = decode_token("o", query.get("pageToken"))
    chunk = records[after + 1:after + 1 + size]
    last = after + len(chunk)
    next_after = last if last + 1 < len(records) else None
    return json_response({"records": chunk, "paging": paging("o", size, after, next_after)})


async def assign_opt_outs(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    try:
        doc = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise ApiError.cannot_parse() from None
    if not isinstance(doc, dict):
        raise ApiError.cannot_parse()
    sender, outs, ins = doc.get("from"), doc.get("optOuts") or [], doc.get("optIns") or []
    if not isinstance(sender, str):
        raise ApiError.invalid_parameter("from")
    if not isinstance(outs, list) or not isinstance(ins, list):
        raise ApiError.cannot_parse()
    if not outs and not ins:
        raise ApiError.invalid_parameter("optOuts")
    return json_response(runtime.state.assign_opt_outs(sender, outs, ins))


# -- control API ---------------------------------------------------------------


async def control_ledger(request: web.Request) -> web.Response:
    return json_response(_runtime(request).ledger_snapshot())


async def control_config(request: web.Request) -> web.Response:
    runtime = _runtime(request)
    try:
        patch = orjson.loads(await request.read())
        if not isinstance(patch, dict):
            raise TypeError("expected a JSON object")
        runtime.configure(faults=patch.get("faults"), rate_limits=patch.get("rate_limits"),
                          processing_rate=patch.get("processing_rate"))
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        return json_response(asg_body("EMU-400", str(exc)), 400)
    return json_response({"faults": _asdict(runtime.config.faults),
                          "rate_limits": _asdict(runtime.config.rate_limits),
                          "processing_rate": runtime.config.processing_rate})


async def control_lookup(request: web.Request) -> web.Response:
    try:
        numbers = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        numbers = None
    if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
        return json_response(asg_body("EMU-400", "expected a JSON list of numbers"), 400)
    return json_response(_runtime(request).state.lookup(numbers))


async def control_reset(request: web.Request) -> web.Response:
    _runtime(request).reset()
    return json_response({"reset": True})


def _asdict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = dataclasses.asdict(obj)
    return out


# -- the app -------------------------------------------------------------------


def create_app(config: EmulatorConfig | None = None, *,
               runtime: Runtime | None = None) -> web.Application:
    """The emulator as an aiohttp application (state lives under `RUNTIME`)."""
    runtime = runtime or Runtime(config or EmulatorConfig())
    # Bodies over the limit must meet our JSON 413, never aiohttp's text one.
    app = web.Application(client_max_size=runtime.config.max_body_bytes,
                          middlewares=[observe, inject_faults, guard])
    app[RUNTIME] = runtime

    async def release_hanging(app: web.Application) -> None:
        app[RUNTIME].closing.set()

    app.on_shutdown.append(release_hanging)
    add = app.router.add_route
    add("POST", "/restapi/oauth/token", token, name="token")
    add("POST", "/restapi/oauth/revoke", revoke, name="revoke")
    add("GET", API + "/extension/{extensionId}/phone-number", phone_numbers_list,
        name="listExtensionPhoneNumbers")
    add("POST", A2P + "/batches", create_batch, name="createA2PSMS")
    add("GET", A2P + "/batches", list_batches, name="listA2PBatches")
    add("GET", A2P + "/batches/{batchId}", read_batch, name="readA2PBatch")
    add("GET", A2P + "/messages", list_messages, name="listA2PSMS")
    add("GET", A2P + "/messages/{messageId}", read_message, name="readA2PSMS")
    add("GET", A2P + "/statuses", statuses, name="aggregateA2PSMSStatuses")
    add("GET", A2P + "/opt-outs", list_opt_outs, name="readA2PSMSOptOuts")
    add("POST", A2P + "/opt-outs/bulk-assign", assign_opt_outs, name="addA2PSMSOptOuts")
    add("GET", CONTROL_PREFIX + "ledger", control_ledger, name="emulator-ledger")
    add("POST", CONTROL_PREFIX + "config", control_config, name="emulator-config")
    add("POST", CONTROL_PREFIX + "lookup", control_lookup, name="emulator-lookup")
    add("POST", CONTROL_PREFIX + "reset", control_reset, name="emulator-reset")
    return app
