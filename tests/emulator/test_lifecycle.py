"""The realistic service: pace by number type, receipts after processing, SMS-CAR-104
detours, daily caps, 403 without the A2P permission, one clock for everything.

The emulated clock is moved with `advance`, so nothing here waits on real time.
"""

from __future__ import annotations

from typing import Any

import pytest

from engine.emulator import EmulatorConfig, SenderNumber

from .conftest import ApiFactory
from .helpers import A2P, ACCOUNT, recipients

TOLL_FREE = "+18885550100"


async def statuses(client: Any, batch_id: str) -> dict[str, Any]:
    reply = await client.get(A2P + "/statuses", params={"batchId": batch_id})
    assert reply.status == 200
    body: dict[str, Any] = reply.body
    return body


def counts(body: dict[str, Any]) -> dict[str, int]:
    return {k: v["count"] for k, v in body.items() if v["count"]}


async def test_the_account_has_toll_free_and_local_a2p_numbers(api: ApiFactory) -> None:
    client = await api(EmulatorConfig())
    records = (await client.get(ACCOUNT + "/extension/~/phone-number")).body["records"]
    a2p = {r["phoneNumber"]: r["paymentType"] for r in records
           if "A2PSmsSender" in r["features"]}
    assert a2p == {"+16505550100": "Local", "+16505550101": "Local", TOLL_FREE: "TollFree"}


async def test_each_number_keeps_its_own_pace_in_emulated_time(api: ApiFactory) -> None:
    client = await api(EmulatorConfig(receipt_delay=0.0, late_receipt_share=0.0,
                                      pending_failure_share=0.0,
                                      delivery_failure_share=0.0))
    local = (await client.send(recipients(100))).body["id"]
    toll_free = (await client.send(recipients(100), sender=TOLL_FREE)).body["id"]
    queued_behind = (await client.send(recipients(10))).body["id"]
    client.emu.advance(10.5)
    done = {b: (await client.get(A2P + "/batches/" + b)).body["processedCount"]
            for b in (local, toll_free, queued_behind)}
    assert done == {local: 10, toll_free: 84, queued_behind: 0}  # 1/s, 8/s, FIFO
    client.emu.advance(100)
    view = (await client.get(A2P + "/batches/" + queued_behind)).body
    assert (view["status"], view["processedCount"]) == ("Completed", 10)


async def test_receipts_come_after_processing_some_after_the_batch_completed(
        api: ApiFactory) -> None:
    client = await api(EmulatorConfig(processing_rate=100.0, receipt_delay=10.0,
                                      late_receipt_share=1.0, late_receipt_delay=600.0,
                                      pending_failure_share=0.0,
                                      delivery_failure_share=0.0))
    batch = (await client.send(recipients(50))).body["id"]
    assert counts(await statuses(client, batch)) == {"queued": 50}
    client.emu.advance(1.0)
    view = (await client.get(A2P + "/batches/" + batch)).body
    assert view["status"] == "Completed"
    sent = await statuses(client, batch)
    assert counts(sent) == {"sent": 50}
    assert sent["sent"]["cost"] == pytest.approx(50 * 0.007)
    message = (await client.get(A2P + "/messages", params={"batchId": batch})).body
    assert {r["messageStatus"] for r in message["records"]} == {"Sent"}
    client.emu.advance(1300)  # past 10 + 2 x 600
    assert counts(await statuses(client, batch)) == {"delivered": 50}


async def test_car_104_first_then_a_final_status(api: ApiFactory) -> None:
    client = await api(EmulatorConfig(processing_rate=1000.0, receipt_delay=1.0,
                                      late_receipt_share=0.0, pending_failure_share=1.0,
                                      pending_resolve_delay=1800.0,
                                      delivery_failure_share=0.0))
    batch = (await client.send(recipients(20))).body["id"]
    client.emu.advance(5)
    early = await statuses(client, batch)
    assert counts(early) == {"deliveryFailed": 20}
    assert early["deliveryFailed"]["errorCodeCounts"] == {"SMS-CAR-104": 20}
    records = (await client.get(A2P + "/messages", params={"batchId": batch})).body["records"]
    assert {(r["messageStatus"], r["errorCode"]) for r in records} == {
        ("DeliveryFailed", "SMS-CAR-104")}
    client.emu.advance(1800)
    assert counts(await statuses(client, batch)) == {"delivered": 20}
    one = (await client.get(A2P + "/messages/" + records[0]["id"])).body
    assert one["messageStatus"] == "Delivered" and "errorCode" not in one


async def test_a_daily_cap_fails_the_messages_past_it(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(daily_cap=30, daily_cap_code="SMS-CAR-451",
                                           delivery_failure_share=0.0))
    first = (await client.send(recipients(20))).body["id"]
    second = (await client.send(recipients(20, start=100))).body["id"]
    assert counts(await statuses(client, first)) == {"delivered": 20}
    over = await statuses(client, second)
    assert counts(over) == {"delivered": 10, "sendingFailed": 10}
    assert over["sendingFailed"]["errorCodeCounts"] == {"SMS-CAR-451": 10}
    view = (await client.get(A2P + "/batches/" + second)).body
    assert view["cost"] == pytest.approx(10 * 0.007)  # the failed ones cost nothing
    # Another number has its own cap.
    other = (await client.send(recipients(20), sender=TOLL_FREE)).body["id"]
    assert counts(await statuses(client, other)) == {"delivered": 20}


async def test_an_app_without_the_a2p_permission_gets_403(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(a2p_permission=False))
    assert "A2PSMS" not in client.token_info["scope"]
    reply = await client.send(recipients(1))
    assert reply.status == 403
    assert reply.body["errorCode"] == "CMN-401"
    assert "[A2PSMS] permission" in reply.body["message"]
    assert (await client.get(ACCOUNT + "/extension/~/phone-number")).status == 200


async def test_token_lifetimes_follow_the_compressed_clock(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(time_scale=360.0))
    assert client.token_info["expires_in"] == 10  # an hour, in real seconds
    client.emu.advance(3600)
    reply = await client.get(A2P + "/batches")
    assert (reply.status, reply.body["errorCode"]) == (401, "OAU-128")


async def test_a_sender_can_have_its_own_throughput(api: ApiFactory) -> None:
    senders = (SenderNumber("+16505550100", throughput=25.0),)
    client = await api(EmulatorConfig(senders=senders, receipt_delay=0.0))
    batch = (await client.send(recipients(100))).body["id"]
    client.emu.advance(2.1)
    assert (await client.get(A2P + "/batches/" + batch)).body["processedCount"] == 52


async def test_totals_agree_with_the_messages_at_every_moment(api: ApiFactory) -> None:
    # The running tally serves messages past the lifecycle's horizon; the rest
    # are looked at singly: both must tell the same story as the messages.
    # The clock all but stands still between the jumps.
    client = await api(EmulatorConfig(time_scale=1e-6, processing_rate=20.0, receipt_delay=5.0,
                                      late_receipt_share=0.3, late_receipt_delay=100.0,
                                      pending_failure_share=0.2, pending_resolve_delay=50.0,
                                      delivery_failure_share=0.1, seed=4))
    batch = (await client.send(recipients(400))).body["id"]
    for step in (3.0, 10.0, 30.0, 60.0, 120.0, 400.0):
        client.emu.advance(step)
        records = (await client.get(A2P + "/messages", params={"batchId": batch})).body
        shown: dict[str, int] = {}
        for r in records["records"]:
            key = {"Queued": "queued", "Sent": "sent", "Delivered": "delivered",
                   "DeliveryFailed": "deliveryFailed",
                   "SendingFailed": "sendingFailed"}[r["messageStatus"]]
            shown[key] = shown.get(key, 0) + 1
        assert counts(await statuses(client, batch)) == shown, step
    assert set(shown) <= {"delivered", "deliveryFailed"}
