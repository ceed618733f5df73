"""Subscriptions and the WebSocket transport: the official SDK as a client, and faults."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
from ringcentral import SDK
from ringcentral.websocket import WebSocketClient, WebSocketEvents

from engine.emulator import Emulator, EmulatorConfig

from .helpers import Api

SENDER = "+16505550100"
TO = ["+14155550100", "+12125550100", "+13105550100"]
FILTERS = [
    f"/restapi/v1.0/account/~/a2p-sms/batches?from={SENDER}",
    f"/restapi/v1.0/account/~/a2p-sms/messages?direction=Outbound&from={SENDER}",
    f"/restapi/v1.0/account/~/a2p-sms/opt-outs?from={SENDER}",
]


def sdk_subscribes(url: str, config: EmulatorConfig) -> dict[str, Any]:
    """The SDK's own WebSocket client: subscribe, send a batch, collect its events."""
    sdk = SDK(config.client_id, config.client_secret, url)
    platform = sdk.platform()
    platform.login(jwt=config.jwt)
    client = WebSocketClient(platform)
    got: list[list[Any]] = []
    subscribed: list[Any] = []

    async def run() -> None:
        ready = asyncio.Event()
        done = asyncio.Event()
        client.on(WebSocketEvents.connectionCreated, lambda _c: ready.set())
        client.on(WebSocketEvents.subscriptionCreated, subscribed.append)

        def notified(message: list[Any]) -> None:
            got.append(message)
            bodies = [m[1]["body"] for m in got]
            finals = [b for b in bodies if "messageStatus" in b]
            if len(finals) >= len(TO) and any(b.get("status") == "Completed" for b in bodies):
                done.set()

        client.on(WebSocketEvents.receiveSubscriptionNotification, notified)
        connection = asyncio.create_task(client.create_new_connection())
        await asyncio.wait_for(ready.wait(), 10)
        await client.create_subscription(FILTERS)
        for _ in range(200):
            if subscribed:
                break
            await asyncio.sleep(0.02)
        # A blocking call, as the SDK makes them: the emulator runs in another loop.
        platform.post("/restapi/v1.0/account/~/a2p-sms/batches", {
            "from": SENDER, "text": "Hello", "messages": [{"to": [n]} for n in TO]})
        await asyncio.wait_for(done.wait(), 10)
        await client.close_connection()
        connection.cancel()
        await asyncio.gather(connection, return_exceptions=True)

    asyncio.run(run())
    platform.logout()
    return {"events": got, "subscription": subscribed[0].get_subscription_info()}


async def test_official_sdk_websocket_subscription(
        emulator: Callable[..., Awaitable[Emulator]]) -> None:
    emu = await emulator(EmulatorConfig.fast())
    result = await asyncio.to_thread(sdk_subscribes, emu.url, emu.config)

    meta, info = result["subscription"]
    assert meta["type"] == "ClientRequest" and meta["status"] == 200
    assert info["eventFilters"] == FILTERS
    assert info["deliveryMode"]["transportType"] == "WebSocket"
    assert info["status"] == "Active"
    events = result["events"]
    assert all(m[0]["type"] == "ServerNotification" for m in events)
    assert {m[1]["subscriptionId"] for m in events} == {info["id"]}
    bodies = [m[1]["body"] for m in events]
    messages = [b for b in bodies if "messageStatus" in b]
    assert sorted(b["to"][0] for b in messages) == sorted(TO)
    assert {b["messageStatus"] for b in messages} <= {"Delivered", "DeliveryFailed"}
    batches = [b for b in bodies if "batchSize" in b]
    assert batches[-1]["status"] == "Completed"
    assert batches[-1]["processedCount"] == 3 and batches[-1]["cost"] > 0
    assert "rejected" not in batches[-1]
    assert {m[1]["event"] for m in events} == {
        f.replace("~", emu.config.account_id, 1) for f in FILTERS[:2]}
    assert emu.events.counts["subscriptions"] == 1
    assert emu.ledger()["requests"]["wstoken"] == 1


class Raw:
    """A bare WebSocket client of the emulator (frames as they are)."""

    def __init__(self, http: aiohttp.ClientSession, emu: Emulator) -> None:
        self.http, self.emu = http, emu
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(self) -> list[Any]:
        api = Api(self.http, self.emu)
        await api.login()
        self.token = api.token
        async with self.http.post(self.emu.url + "/restapi/oauth/wstoken",
                                  headers={"Authorization": f"Bearer {self.token}"}) as r:
            ws = await r.json()
        self.ws = await self.http.ws_connect(f"{ws['uri']}?access_token={ws['ws_access_token']}")
        frame: list[Any] = orjson.loads(await self.ws.receive_str())
        return frame

    async def request(self, method: str, path: str, body: Any = None) -> list[Any]:
        assert self.ws is not None
        frame: list[Any] = [{"type": "ClientRequest", "messageId": "m1", "method": method,
                             "path": path}]
        if body is not None:
            frame.append(body)
        await self.ws.send_str(orjson.dumps(frame).decode())
        while True:
            got: list[Any] = orjson.loads(await self.ws.receive_str())
            if got[0]["type"] == "ClientRequest":
                return got

    async def notifications(self, count: int) -> list[dict[str, Any]]:
        assert self.ws is not None
        out = []
        while len(out) < count:
            msg = await asyncio.wait_for(self.ws.receive(), 10)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            frame = orjson.loads(msg.data)
            if frame[0]["type"] == "ServerNotification":
                out.append(frame[1])
        return out


async def _send(http: aiohttp.ClientSession, raw: Raw, to: list[str]) -> str:
    async with http.post(raw.emu.url + "/restapi/v1.0/account/~/a2p-sms/batches",
                         json={"from": SENDER, "text": "Hi", "messages": [{"to": [n]} for n in to]},
                         headers={"Authorization": f"Bearer {raw.token}"}) as r:
        assert r.status == 201
        batch_id: str = (await r.json())["id"]
        return batch_id


async def test_framing_renew_delete_and_bad_filters(
        emulator: Callable[..., Awaitable[Emulator]], http: aiohttp.ClientSession) -> None:
    emu = await emulator(EmulatorConfig.fast())
    raw = Raw(http, emu)
    meta, details = await raw.connect()
    assert meta["type"] == "ConnectionDetails" and meta["wsc"]["sequence"] == 1
    assert details["recoveryTimeout"] == 60
    bad = await raw.request("POST", "/restapi/v1.0/subscription", {
        "eventFilters": ["/restapi/v1.0/account/~/extension/~/presence"],
        "deliveryMode": {"transportType": "WebSocket"}})
    assert bad[0]["status"] == 400 and bad[1]["errorCode"] == "SUB-526"
    made = await raw.request("POST", "/restapi/v1.0/subscription/", {
        "eventFilters": FILTERS[:1], "deliveryMode": {"transportType": "WebSocket"},
        "expiresIn": 60})
    sub_id = made[1]["id"]
    assert made[1]["expiresIn"] == 60
    renewed = await raw.request("POST", f"/restapi/v1.0/subscription/{sub_id}/renew")
    assert renewed[0]["status"] == 200 and renewed[1]["expiresIn"] == 900
    gone = await raw.request("DELETE", f"/restapi/v1.0/subscription/{sub_id}")
    assert gone[0]["status"] == 204
    again = await raw.request("GET", f"/restapi/v1.0/subscription/{sub_id}")
    assert again[0]["status"] == 404
    async with http.get(emu.url + "/ws?access_token=nope") as r:
        assert r.status == 401


async def test_delayed_duplicated_and_dropped_events(
        emulator: Callable[..., Awaitable[Emulator]], http: aiohttp.ClientSession) -> None:
    emu = await emulator(EmulatorConfig.fast())
    # Delayed by ten emulated minutes: nothing arrives until the clock is advanced.
    emu.events.configure(delay=600.0, duplicate_share=1.0)
    raw = Raw(http, emu)
    await raw.connect()
    await raw.request("POST", "/restapi/v1.0/subscription", {
        "eventFilters": FILTERS[1:2], "deliveryMode": {"transportType": "WebSocket"}})
    await _send(http, raw, TO[:2])
    await emu.events.pump()
    assert emu.events.counts["notifications"] == 0
    emu.advance(600.0)
    got = await raw.notifications(4)
    # Every event twice (the same uuid): a client must apply them idempotently.
    assert sorted(b["body"]["to"][0] for b in got) == sorted(TO[:2] * 2)
    assert len({b["uuid"] for b in got}) == 2
    # A drop after one more notification: the connection closes, the rest is lost.
    emu.events.configure(delay=0.0, duplicate_share=0.0, drop_after=1)
    await _send(http, raw, TO)
    got = await raw.notifications(3)
    assert len(got) == 1
    assert raw.ws is not None and raw.ws.closed
    assert emu.events.counts["drops"] == 1


async def test_batch_events_only_when_messages_are_not_subscribed(
        emulator: Callable[..., Awaitable[Emulator]], http: aiohttp.ClientSession) -> None:
    emu = await emulator(EmulatorConfig.fast())
    raw = Raw(http, emu)
    await raw.connect()
    await raw.request("POST", "/restapi/v1.0/subscription", {
        "eventFilters": [FILTERS[0], FILTERS[2]], "deliveryMode": {"transportType": "WebSocket"}})
    batch_id = await _send(http, raw, TO)
    (event,) = await raw.notifications(1)
    await emu.events.pump()
    # One event for the whole batch (Completed at once here), none per message.
    assert emu.events.counts["notifications"] == 1
    assert event["body"]["id"] == batch_id and event["body"]["status"] == "Completed"
    emu.opt_out(SENDER, TO[0])
    (event,) = await raw.notifications(1)
    assert event["body"] == {"from": SENDER, "to": TO[0], "active": True}
    assert event["event"] == FILTERS[2].replace("~", emu.config.account_id, 1)
