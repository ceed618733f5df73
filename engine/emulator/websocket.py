"""RingCentral's WebSocket transport: the token endpoint, the gateway and its framing.

`POST /restapi/oauth/wstoken` (Bearer) answers `{uri, ws_access_token,
expires_in}`; the client opens `uri?access_token=...` and gets a
`ConnectionDetails` frame. Every frame is a JSON array: a meta object
(`type`, `messageId`, `status`, `headers`, `wsc`) and, if any, a body.
Subscriptions are REST calls sent as `ClientRequest` frames (`POST
/restapi/v1.0/subscription`, `PUT|GET|DELETE .../{id}`, `POST .../{id}/renew`)
and are answered in kind; events come as `ServerNotification` frames with the
envelope `{uuid, event, timestamp, subscriptionId, ownerId, body}`. What the
official Python SDK needs is honoured: the answer to a subscription request
carries a `WSG-SubscriptionId` header.

The subscription calls are in the Medium rate group, the token in Auth (not
the Light group sends and polls share). Session recovery (`wsc`) is not
emulated: a reconnect with a `wsc` token is told `recoveryState: Failed`, so
the client subscribes again.

Faults (`EventConfig`, `Emulator.events.configure`): events delayed by
emulated seconds (an `advance()` sends them), a share sent twice, every
connection dropped after so many notifications, or `drop_all()` now.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from .middleware import SESSION
from .ratelimit import MEDIUM
from .responses import ApiError, asg_body, format_time, json_response
from .runtime import RUNTIME, Runtime
from .subscriptions import Event, EventSource, Subscription, Subscriptions

__all__ = ["GATEWAY", "EventConfig", "EventGateway", "add_event_routes"]

WS_PATH = "/ws"
SUBSCRIPTION = "/restapi/v1.0/subscription"
WS_TOKEN_LIFETIME = 600.0  # emulated seconds


@dataclass(frozen=True, slots=True)
class EventConfig:
    """How events flow (and misbehave). Real seconds for `tick`, emulated for `delay`."""

    tick: float = 0.05
    delay: float = 0.0
    duplicate_share: float = 0.0
    drop_after: int | None = None  # close a connection after this many notifications
    seed: int = 0


@dataclass(slots=True)
class _Connection:
    id: str
    ws: web.WebSocketResponse
    wsc: str
    owner: str
    sequence: int = 0
    sent: int = 0


@dataclass(slots=True)
class _Due:
    at: float
    subscription: str
    envelope: dict[str, Any]


@dataclass(slots=True)
class EventGateway:
    """Subscriptions, WebSocket connections and the pump that feeds them."""

    runtime: Runtime
    config: EventConfig = field(default_factory=EventConfig)
    subscriptions: Subscriptions = field(default_factory=Subscriptions)
    connections: dict[str, _Connection] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(
        ("connections", "subscriptions", "renewals", "notifications", "duplicates", "drops"),
        0))
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)
    _due: list[_Due] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _random: random.Random = field(default_factory=random.Random)
    _source: EventSource | None = None

    def configure(self, **changes: Any) -> None:
        self.config = replace(self.config, **changes)
        self._random.seed(self.config.seed)
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    async def drop_all(self) -> None:
        """Close every WebSocket now, as a network outage would."""
        for conn in list(self.connections.values()):
            await self._drop(conn)

    # -- tokens and connections ------------------------------------------------------

    def issue_token(self, owner: str) -> tuple[str, float]:
        token = secrets.token_urlsafe(24)
        expires = self.runtime.clock() + WS_TOKEN_LIFETIME
        self._tokens[token] = (owner, expires)
        return token, self.runtime.scaled.real(WS_TOKEN_LIFETIME)

    @property
    def issued_tokens(self) -> list[str]:
        """Every WebSocket token handed out (for tests that look for leaks)."""
        return list(self._tokens)

    def owner_of(self, token: str | None) -> str | None:
        entry = self._tokens.get(token or "")
        if entry is None or self.runtime.clock() >= entry[1]:
            return None
        return entry[0]

    # -- the pump --------------------------------------------------------------------

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.tick):
                    await self._wake.wait()
            self._wake.clear()
            await self.pump()

    async def pump(self) -> None:
        """Find what happened since the last look, and send what is due."""
        runtime = self.runtime
        now = runtime.clock()
        live = self.subscriptions.live(now)
        if live:
            if self._source is None:
                self._source = EventSource(price=runtime.config.price_per_segment)
            senders = _senders(live, runtime)
            messages = _senders(live, runtime, "messages")
            since = min(s.created for s in live)
            for event in self._source.tick(runtime.state, now, senders, since, messages):
                self._route(event, live, now)
        due = [d for d in self._due if d.at <= now]
        if due:
            self._due = [d for d in self._due if d.at > now]
            for item in due:
                await self._deliver(item, now)

    def _route(self, event: Event, live: list[Subscription], now: float) -> None:
        account = self.runtime.config.account_id
        for sub in live:
            matched = next((f for f in sub.filters
                            if f.matches(event.kind, event.sender, event.batch_id)), None)
            if matched is None:
                continue
            envelope = {"uuid": str(uuid.uuid4()), "event": matched.event_path(account),
                        "timestamp": format_time(now), "subscriptionId": sub.id,
                        "ownerId": self.runtime.config.extension_id, "body": event.body}
            self._due.append(_Due(now + self.config.delay, sub.id, envelope))
            if self.config.duplicate_share and self._random.random() < self.config.duplicate_share:
                self.counts["duplicates"] += 1
                self._due.append(_Due(now + self.config.delay, sub.id, envelope))

    async def _deliver(self, item: _Due, now: float) -> None:
        sub = self.subscriptions.by_id.get(item.subscription)
        conn = None if sub is None else self.connections.get(sub.connection or "")
        if conn is None or conn.ws.closed:
            return  # no connection: lost, as on the real service without recovery
        await self._send(conn, "ServerNotification", str(uuid.uuid4()), 200, {}, item.envelope)
        self.counts["notifications"] += 1
        conn.sent += 1
        limit = self.config.drop_after
        if limit is not None and conn.sent >= limit:
            await self._drop(conn)

    async def _drop(self, conn: _Connection) -> None:
        self.counts["drops"] += 1
        self.connections.pop(conn.id, None)
        await conn.ws.close()

    async def _send(self, conn: _Connection, kind: str, message_id: str, status: int,
                    headers: dict[str, str], body: Any = None) -> None:
        conn.sequence += 1
        meta = {"type": kind, "messageId": message_id, "status": status,
                "headers": {"RCRequestId": str(uuid.uuid4()), **headers},
                "wsc": {"token": conn.wsc, "sequence": conn.sequence}}
        frame = [meta] if body is None else [meta, body]
        with contextlib.suppress(ConnectionError, RuntimeError):
            await conn.ws.send_str(orjson.dumps(frame).decode())

    # -- one connection ----------------------------------------------------------------

    async def serve(self, request: web.Request) -> web.StreamResponse:
        owner = self.owner_of(request.query.get("access_token"))
        if owner is None:
            return json_response(asg_body("WSG-401", "Invalid or expired access token"), 401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(id=str(uuid.uuid4()), ws=ws, wsc=secrets.token_urlsafe(16),
                           owner=owner)
        self.connections[conn.id] = conn
        self.counts["connections"] += 1
        details: dict[str, Any] = {
            "creationTime": format_time(self.runtime.clock()), "maxConnectionsPerSession": 5,
            "recoveryBufferSize": 100, "recoveryTimeout": 60, "idleTimeout": 900,
            "absoluteTimeout": 86_400, "maxActiveRequests": 10}
        if request.query.get("wsc"):
            details.update(recoveryState="Failed", recoveryErrorCode="WSG-1005")
        await self._send(conn, "ConnectionDetails", str(uuid.uuid4()), 200, {}, details)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._frame(conn, msg.data)
        finally:
            self.connections.pop(conn.id, None)
            for sub in self.subscriptions.by_id.values():
                if sub.connection == conn.id:
                    sub.connection = None
        return ws

    async def _frame(self, conn: _Connection, text: str) -> None:
        try:
            frame = orjson.loads(text)
            meta = frame[0]
            kind, message_id = meta["type"], str(meta.get("messageId", ""))
        except (orjson.JSONDecodeError, LookupError, TypeError):
            await self._send(conn, "Error", "", 400, {},
                             {"errorCode": "WSG-1000", "message": "Cannot parse the message"})
            return
        if kind == "Heartbeat":
            await self._send(conn, "Heartbeat", message_id, 200, {})
            return
        if kind != "ClientRequest":
            return
        body = frame[1] if len(frame) > 1 else None
        try:
            status, answer, headers = self._request(conn, str(meta.get("method", "")).upper(),
                                                     str(meta.get("path", "")), body)
        except ApiError as exc:
            status, answer, headers = exc.status, asg_body(exc.code, exc.message), {}
        headers["Content-Type"] = "application/json;charset=UTF-8"
        await self._send(conn, "ClientRequest", message_id, status, headers, answer)

    def _request(self, conn: _Connection, method: str, path: str, body: Any
                 ) -> tuple[int, Any, dict[str, str]]:
        runtime = self.runtime
        decision = runtime.limiter.hit(conn.owner, MEDIUM)
        if decision is not None and not decision.allowed:
            raise ApiError(429, "CMN-301", "Request rate exceeded", decision.headers)
        now, subs = runtime.clock(), self.subscriptions
        parts = path.rstrip("/").split("?")[0].removeprefix(SUBSCRIPTION).strip("/").split("/")
        if not path.startswith(SUBSCRIPTION):
            raise ApiError(404, "CMN-102", "Resource for parameter [path] is not found.")
        if parts == [""] and method == "POST":
            sub = subs.create(body, now, conn.id)
            self.counts["subscriptions"] += 1
            self.wake()
        elif len(parts) == 1 and method == "PUT":
            sub = subs.update(parts[0], body, now, conn.id)
        elif len(parts) == 2 and parts[1] == "renew" and method == "POST":
            sub = subs.update(parts[0], None, now, conn.id)
            self.counts["renewals"] += 1
        elif len(parts) == 1 and method == "GET":
            sub = subs.get(parts[0], now)
        elif len(parts) == 1 and method == "DELETE":
            subs.delete(parts[0], now)
            return 204, None, {}
        else:
            raise ApiError(404, "CMN-102", "Resource for parameter [path] is not found.")
        return 200, sub.info(now, "", runtime.scaled.real), {"WSG-SubscriptionId": sub.id}

    async def close_all(self) -> None:
        for conn in list(self.connections.values()):
            with contextlib.suppress(Exception):
                await conn.ws.close()


def _senders(live: list[Subscription], runtime: Runtime, kind: str | None = None) -> set[str]:
    """The senders the live subscriptions' filters (of `kind`, or any) name."""
    senders: set[str] = set()
    for sub in live:
        for f in sub.filters:
            if kind is not None and f.kind != kind:
                continue
            if f.sender is None:
                return {s.phone_number for s in runtime.config.senders}
            senders.add(f.sender)
    return senders


GATEWAY = web.AppKey("events", EventGateway)


async def ws_token(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    session = request[SESSION]
    token, expires_in = gateway.issue_token(f"user:{request.app[RUNTIME].config.extension_id}"
                                            f":app:{session.client_id}")
    return json_response({"uri": f"ws://{request.host}{WS_PATH}", "ws_access_token": token,
                          "expires_in": expires_in})


async def ws_connect(request: web.Request) -> web.StreamResponse:
    return await request.app[GATEWAY].serve(request)


def add_event_routes(app: web.Application, runtime: Runtime) -> EventGateway:
    """The token endpoint, the gateway and the pump (started and stopped with the app)."""
    gateway = app[GATEWAY] = EventGateway(runtime)
    runtime.on_advance.append(gateway.wake)
    app.router.add_route("POST", "/restapi/oauth/wstoken", ws_token, name="wstoken")
    app.router.add_route("GET", WS_PATH, ws_connect, name="websocket")

    async def pump(app: web.Application) -> Any:
        task = asyncio.create_task(gateway.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def close(app: web.Application) -> None:
        await gateway.close_all()

    app.cleanup_ctx.append(pump)
    app.on_shutdown.append(close)
    return gateway
