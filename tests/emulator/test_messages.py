"""Messages, statuses and opt-outs: paging to the end, and the two views agreeing."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from engine.emulator import EmulatorConfig

from .conftest import ApiFactory
from .helpers import A2P, Api, recipients


async def all_pages(client: Api, path: str, params: dict[str, str]) -> tuple[list[Any], int]:
    records: list[Any] = []
    token = None
    pages = 0
    while True:
        query = dict(params, **({"pageToken": token} if token else {}))
        reply = await client.get(path, params=query)
        assert reply.status == 200, reply.body
        records += reply.body["records"]
        pages += 1
        token = reply.body["paging"].get("nextPageToken")
        if token is None:
            return records, pages


async def test_messages_page_to_the_end_and_agree_with_statuses(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(delivery_failure_share=0.3, seed=5,
                                      opt_outs={"+16505550100": ["+14155550003"]}))
    batch = (await client.send(recipients(25))).body["id"]
    await client.send(recipients(5, start=500))  # another batch, filtered out below

    records, pages = await all_pages(client, A2P + "/messages",
                                     {"batchId": batch, "perPage": "10"})
    assert pages == 3
    assert len(records) == 25
    assert len({r["id"] for r in records}) == 25
    assert all(isinstance(r["id"], str) and r["batchId"] == batch for r in records)
    ids = [int(r["id"]) for r in records]
    assert ids == sorted(ids, reverse=True)  # newest first
    opted = next(r for r in records if r["to"] == ["+14155550003"])
    assert opted["messageStatus"] == "SendingFailed"
    assert opted["errorCode"] == "SMS-RC-413"
    assert "cost" not in opted

    statuses = (await client.get(A2P + "/statuses", params={"batchId": batch})).body
    by_status = Counter(r["messageStatus"] for r in records)
    assert statuses["delivered"]["count"] == by_status["Delivered"]
    assert statuses["deliveryFailed"]["count"] == by_status["DeliveryFailed"] > 0
    assert statuses["sendingFailed"]["count"] == 1
    assert statuses["sendingFailed"]["errorCodeCounts"] == {"SMS-RC-413": 1}
    failed_codes = Counter(r["errorCode"] for r in records
                           if r["messageStatus"] == "DeliveryFailed")
    assert statuses["deliveryFailed"]["errorCodeCounts"] == dict(failed_codes)
    assert all(code.startswith("SMS-CAR-") for code in failed_codes)
    assert statuses["delivered"]["cost"] == pytest.approx(
        sum(r["cost"] for r in records if r["messageStatus"] == "Delivered"))
    assert statuses["queued"] == {"count": 0, "cost": 0.0}
    batch_view = (await client.get(A2P + "/batches/" + batch)).body
    assert batch_view["cost"] == pytest.approx(
        statuses["delivered"]["cost"] + statuses["deliveryFailed"]["cost"])


async def test_unprocessed_messages_are_queued(api: ApiFactory) -> None:
    # A message per 100 emulated seconds: real time hardly moves it, `advance` does.
    client = await api(EmulatorConfig.fast(processing_rate=0.01, delivery_failure_share=0.0))
    batch = (await client.send(recipients(100))).body["id"]
    client.emu.advance(550)  # 5.5 messages' time
    statuses = (await client.get(A2P + "/statuses", params={"batchId": batch})).body
    records, _ = await all_pages(client, A2P + "/messages", {"batchId": batch})
    queued = sum(r["messageStatus"] == "Queued" for r in records)
    assert statuses["queued"]["count"] == queued == 95
    assert statuses["delivered"]["count"] == 5
    # Each index is processed in order: newest first, the Queued ones come first.
    statuses_in_order = [r["messageStatus"] for r in records]
    assert statuses_in_order == sorted(statuses_in_order, key=lambda s: s != "Queued")


async def test_texts_and_segments_in_detailed_view(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(delivery_failure_share=0.0))
    messages: list[dict[str, Any]] = [{"to": ["+14155550100"], "text": "a" * 161},
                {"to": ["+14155550101"], "text": "Привет"},
                {"to": ["+14155550102"]}]
    batch = (await client.send(messages, text="Default")).body["id"]
    simple = (await client.get(A2P + "/messages", params={"batchId": batch})).body["records"]
    assert all("text" not in r for r in simple)
    detailed = (await client.get(A2P + "/messages", params={"batchId": batch,
                                                            "view": "Detailed"})).body["records"]
    assert [r["text"] for r in detailed] == ["Default", "Привет", "a" * 161]
    assert [r["segmentCount"] for r in detailed] == [1, 1, 2]
    one = await client.get(A2P + "/messages/" + detailed[1]["id"])
    assert one.status == 200
    assert one.body["text"] == "Привет"
    assert one.body["to"] == ["+14155550101"]
    missing = await client.get(A2P + "/messages/999")
    assert (missing.status, missing.body["errorCode"]) == (404, "CMN-102")


async def test_phone_number_filter_accepts_the_sdks_raw_plus(api: ApiFactory) -> None:
    client = await api()
    await client.send(recipients(5))
    await client.send(recipients(3, start=2))
    # `phoneNumber=+14155550003` sent without encoding arrives as " 14155550003".
    raw = await client.get(A2P + "/messages?phoneNumber=+14155550003")
    assert [r["to"] for r in raw.body["records"]] == [["+14155550003"]] * 2
    encoded = await client.get(A2P + "/messages", params={"phoneNumber": "+14155550003"})
    assert encoded.body["records"] == raw.body["records"]
    statuses = await client.get(A2P + "/statuses?phoneNumber=+14155550003")
    assert sum(v["count"] for v in statuses.body.values()) == 2
    by_sender = await client.get(A2P + "/messages?phoneNumber=+16505550100")
    assert len(by_sender.body["records"]) == 8
    too_many = await client.get(A2P + "/messages",
                                params=[("phoneNumber", f"+1415555{i:04d}") for i in range(16)])
    assert too_many.status == 400
    inbound = await client.get(A2P + "/messages", params={"direction": "Inbound"})
    assert inbound.body["records"] == []


async def test_opt_outs_list_pages_csv_and_bulk_assign(api: ApiFactory) -> None:
    opted = [f"+1415555{i:04d}" for i in range(5)]
    client = await api(EmulatorConfig.fast(opt_outs={"+16505550100": opted}))
    records, pages = await all_pages(client, A2P + "/opt-outs",
                                     {"from": "+16505550100", "perPage": "2"})
    assert pages == 3
    assert [r["to"] for r in records] == opted
    assert records[0] == {"from": "+16505550100", "to": opted[0], "status": "OptOut",
                          "source": "Recipient"}

    reply = await client.post(A2P + "/opt-outs/bulk-assign", json={
        "from": "+16505550100", "optOuts": ["+14155559999", "nope"], "optIns": [opted[0]]})
    assert reply.status == 200
    assert reply.body["optOuts"]["successful"] == ["+14155559999"]
    assert reply.body["optOuts"]["failed"][0]["to"] == "nope"
    assert reply.body["optIns"] == {"successful": [opted[0]], "failed": []}

    now_out = (await client.get(A2P + "/opt-outs", params={"from": "*"})).body["records"]
    assert {r["to"] for r in now_out} == {*opted[1:], "+14155559999"}
    opted_in = (await client.get(A2P + "/opt-outs", params={"status": "optin"})).body
    assert [r["to"] for r in opted_in["records"]] == [opted[0]]
    csv = await client.get(A2P + "/opt-outs", headers={"Accept": "text/csv"})
    assert csv.headers["Content-Type"].startswith("text/csv")
    assert csv.body.splitlines()[0] == "from,to,status,source"
    assert len(csv.body.splitlines()) == 1 + 5

    # Opt-outs apply to sends from then on: SendingFailed SMS-RC-413, no cost.
    batch = (await client.send([{"to": ["+14155559999"]}, {"to": [opted[0]]}])).body["id"]
    statuses = (await client.get(A2P + "/statuses", params={"batchId": batch})).body
    assert statuses["sendingFailed"]["count"] == 1
    assert statuses["sendingFailed"]["cost"] == 0


async def test_bulk_assign_validation(api: ApiFactory) -> None:
    client = await api()
    empty = await client.post(A2P + "/opt-outs/bulk-assign", json={"from": "+16505550100"})
    assert empty.status == 400
    bad_from = await client.post(A2P + "/opt-outs/bulk-assign",
                                 json={"from": "+19999999999", "optOuts": ["+14155550100"]})
    assert (bad_from.status, bad_from.body["errorCode"]) == (400, "CMN-101")
    garbage = await client.post(A2P + "/opt-outs/bulk-assign", data=b"{")
    assert (garbage.status, garbage.body["errorCode"]) == (400, "CMN-104")
