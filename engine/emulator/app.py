"""The aiohttp application: RingCentral's High Volume SMS routes and the control API.

Handlers only: auth, faults, rate limits and bookkeeping are the middlewares
of `middleware.py`.

Assumptions where the sources are silent (see also `parse` and `state`):
- A body over `max_body_bytes` gets 413 with an ASG body
  `{"errorCode":"AGW-413","message":"Request entity too large",...}` and the
  connection is closed; Content-Length is checked before anything is read.
- A batch whose every recipient is rejected gets 201: batchSize 0, status
  Completed, cost 0, and the `rejected` list. It is listed like any batch.
- A message's own text over 1000 characters rejects that message (CMN-101
  in `rejected[]`); an overlong top-level text fails the request (400 CMN-101).
- Accounts: `accountId` may be `~` or the configured id; others give 404 CMN-102.

How the service behaves (`EmulatorConfig` defaults; `EmulatorConfig.fast()`
is the quick service of tests and benchmarks):
- Throughput per sender by `paymentType`: TollFree 8 messages/s, Local 1/s
  (RingCentral's batch-API announcement; current figures depend on the TCR
  tier). A sender's batches are processed one after another, in order. The
  account has two local A2P numbers, one plain SMS number and one toll-free
  A2P number (first A2P number: local).
- One clock for everything: `time_scale` emulated seconds per real second
  drive processing, receipts, token lifetimes, rate windows and daily caps.
  Timestamps in answers are emulated; `expires_in`, `X-Rate-Limit-Window`
  and `Retry-After` are in real seconds, so a client waiting in real time
  waits as long as the compressed clock needs (fractions when compressed).
- Lifecycle: Queued until processed, then Sent; the receipt arrives within
  `receipt_delay` (uniform), or one to two `late_receipt_delay`s later for
  `late_receipt_share` of messages (for all but the longest batches, after
  the batch is Completed). `pending_failure_share` of messages first show
  DeliveryFailed SMS-CAR-104 and their final status `pending_resolve_delay`
  later (the guide: "check again after an hour"). SMS-CAR-104 is never final.
  A Sent message is charged (it appears in `/statuses` `sent.cost`).
- `/statuses` counts `queued` (not yet processed) and `sent` (processed, no
  receipt yet); SMS-CAR-104 is counted under `deliveryFailed`, as the real
  service reports it.
- Destinations outside +1 (and "+1" numbers that are not 10 digits) are
  rejected in `rejected[]` with SMS-RC-410 (the guide's own example is
  +4088070206); so are `invalid_numbers` and a seeded `carrier_reject_share`
  of valid +1 numbers (the same numbers every time). `us_canada_only=False`
  models an account allowed to send abroad.
- Daily cap per sender (the index page's "up to 250,000 texts per day from a
  single number", modelled as a hard cap): messages scheduled past it in an
  emulated UTC day are SendingFailed with `daily_cap_code` (SMS-RC-403; the
  carriers' SMS-CAR-450/451/452 are the alternatives). The day is fixed by
  the schedule at submit; a later change of the processing rate does not
  move it.
- Rate limits are per user and app ("API rate limit is per user, per
  application"): every login of the emulated user with the app shares one
  Light budget.
- Lists (batches, messages) are newest first, as RingCentral's examples show.
- Faults: a 500 is CMN-201 "Service Temporary Unavailable" (RingCentral lists
  CMN-201 as a 500); a 503 is the gateway's, `AGW-503` (no documented code).
  Neither stores anything.
- An app without the A2P SMS permission (`a2p_permission=False`) gets 403
  CMN-401 "In order to call this API endpoint, application needs to have
  [A2PSMS] permission" on every A2P endpoint; its token's scope lacks A2PSMS.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from aiohttp import web

from .auth import OAuthError
from .config import EmulatorConfig
from .fastparse import parse_fast
from .memory import release_memory
from .middleware import BATCH_ID, CONTROL_PREFIX, guard, inject_faults, observe, too_large
from .parse import parse_batch
from .query import (
    date_window,
    decode_token,
    page_of,
    paging,
    parse_phone,
    per_page,
    phone_numbers,
)
from .responses import ApiError, asg_body, format_time, json_response
from .runtime import RUNTIME, Runtime
from .state import MessageQuery
from .websocket import add_event_routes

__all__ = ["RUNTIME", "create_app"]

API = "/restapi/v1.0/account/{accountId}"
A2P = API + "/a2p-sms"
BIG_BODY = 4 * 1024 * 1024  # after a body this big, give the parser's scratch memory back


def _runtime(request: web.Request) -> Runtime:
    return request.app[RUNTIME]


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


async def sms_configuration(request: web.Request) -> web.Response:
    """A number's SMS configuration (RingCentral's developer guide, "SMS requirements"):
    its TCR campaign (status, tier, use cases) and brand; both left out when the
    number is linked to no campaign."""
    config = _check_account(request)
    if request.match_info["extensionId"] not in ("~", config.extension_id):
        raise ApiError.not_found("extensionId")
    if not config.sms_configuration:
        raise ApiError(404, "CMN-102", "Resource for parameter [sms-configuration] is not found.")
    try:
        sender = config.senders[int(request.match_info["phoneNumberId"]) - 1_000_001]
    except (ValueError, IndexError):
        raise ApiError.not_found("phoneNumberId") from None
    out: dict[str, Any] = {"phoneNumberId": request.match_info["phoneNumberId"],
                           "phoneNumber": sender.phone_number}
    if sender.campaign_status is not None:
        out["smsCampaignInfo"] = {"id": "2008", "status": sender.campaign_status,
                                  "registrationTier": sender.registration_tier,
                                  "useCases": list(sender.use_cases)}
        out["smsBrandInfo"] = {"id": "1008", "status": "Verified"}
    return json_response(out)


# -- batches -------------------------------------------------------------------


async def create_batch(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    limit = runtime.config.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return too_large()
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
    # Unless configured otherwise, the POST answers as accepted; progress shows on later reads.
    if batch.size and not runtime.config.post_shows_progress:
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
    price = runtime.config.price_per_segment
    records = [b.message(i, now, price, detailed=view == "Detailed") for b, i in found]
    return json_response({"records": records, "paging": paging("m", size, after, next_after)})


async def read_message(request: web.Request) -> web.Response:
    _check_account(request)
    runtime = _runtime(request)
    batch, index = runtime.state.message(request.match_info["messageId"])
    return json_response(batch.message(index, runtime.clock(),
                                       runtime.config.price_per_segment, detailed=True))


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
    records = runtime.state.opt_outs.query(sender=sender, to=to, status=status)
    if "text/csv" in request.headers.get("Accept", ""):
        lines = ["from,to,status,source"]
        lines += [f"{r['from']},{r['to']},{r['status']},{r['source']}" for r in records]
        return web.Response(text="\n".join(lines) + "\n", content_type="text/csv")
    return json_response(page_of(records, query, "o"))


async def list_consents(request: web.Request) -> web.Response:
    """v2 consents (the spec's successor of the v1 opt-out list), one list for the
    account: each record's `coverage` says which numbers it applies to."""
    config = _runtime(request).config
    if request.match_info["accountId"] not in ("~", config.account_id):
        raise ApiError.not_found("accountId")
    if not config.consents_v2:
        raise ApiError(404, "CMN-102", "Resource for parameter [consents] is not found.")
    query = request.query
    status = query.get("optStatus")
    if status not in (None, "OptOut", "OptIn"):
        raise ApiError.invalid_parameter("optStatus")
    records = _runtime(request).state.opt_outs.consents(status=status)
    return json_response(page_of(records, query, "c"))


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
    return json_response(runtime.state.opt_outs.assign(sender, outs, ins))


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


async def control_advance(request: web.Request) -> web.Response:
    try:
        doc = orjson.loads(await request.read())
        seconds = float(doc["seconds"])
        _runtime(request).advance(seconds)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        return json_response(asg_body("EMU-400", f'expected {{"seconds": N >= 0}}: {exc}'), 400)
    return json_response({"now": format_time(_runtime(request).clock())})


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
    add("GET", API + "/extension/{extensionId}/phone-number/{phoneNumberId}/sms-configuration",
        sms_configuration, name="readSmsConfiguration")
    add("POST", A2P + "/batches", create_batch, name="createA2PSMS")
    add("GET", A2P + "/batches", list_batches, name="listA2PBatches")
    add("GET", A2P + "/batches/{batchId}", read_batch, name="readA2PBatch")
    add("GET", A2P + "/messages", list_messages, name="listA2PSMS")
    add("GET", A2P + "/messages/{messageId}", read_message, name="readA2PSMS")
    add("GET", A2P + "/statuses", statuses, name="aggregateA2PSMSStatuses")
    add("GET", A2P + "/opt-outs", list_opt_outs, name="readA2PSMSOptOuts")
    add("GET", "/restapi/v2/accounts/{accountId}/sms/consents", list_consents,
        name="listSmsConsents")
    add("POST", A2P + "/opt-outs/bulk-assign", assign_opt_outs, name="addA2PSMSOptOuts")
    add("GET", CONTROL_PREFIX + "ledger", control_ledger, name="emulator-ledger")
    add("POST", CONTROL_PREFIX + "config", control_config, name="emulator-config")
    add("POST", CONTROL_PREFIX + "lookup", control_lookup, name="emulator-lookup")
    add("POST", CONTROL_PREFIX + "reset", control_reset, name="emulator-reset")
    add("POST", CONTROL_PREFIX + "advance", control_advance, name="emulator-advance")
    add_event_routes(app, runtime)
    return app
