"""POST and GET of A2P batches: validation, rejections, 413, processing over time, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from engine.emulator import EmulatorConfig

from .conftest import ApiFactory
from .helpers import A2P, recipients


async def test_batch_is_accepted_as_processing(api: ApiFactory) -> None:
    client = await api()
    reply = await client.send(recipients(3))
    assert reply.status == 201
    body = reply.body
    assert (body["batchSize"], body["processedCount"], body["status"]) == (3, 0, "Processing")
    assert body["from"] == "+16505550100"
    assert body["rejected"] == []
    assert "cost" not in body
    assert body["creationTime"].endswith("Z")


async def test_invalid_recipients_are_rejected_with_one_based_indexes(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(invalid_numbers=("+14155550999",)))
    messages: list[dict[str, Any]] = [
        {"to": ["+14155550100"]},
        {"to": ["4155550101"]},  # no +
        {"to": ["+14155550102", "+14155550103"]},  # two recipients
        {"to": ["+14155550999"]},  # configured as invalid
        {"to": []},
        {"to": ["+04155550104"]},  # country code 0
        {"to": ["+14155550105"]},
    ]
    reply = await client.send(messages)
    assert reply.status == 201
    assert reply.body["batchSize"] == 2
    rejected = reply.body["rejected"]
    assert [r["index"] for r in rejected] == [2, 3, 4, 5, 6]
    assert rejected[0] == {"index": 2, "to": ["4155550101"], "errorCode": "SMS-RC-410",
                           "description": "The recipient number is invalid"}
    assert rejected[1]["to"] == ["+14155550102", "+14155550103"]
    assert {r["errorCode"] for r in rejected} == {"SMS-RC-410"}
    batch = await client.get(A2P + "/batches/" + reply.body["id"])
    assert batch.body["rejected"] == []
    assert client.emu.ledger()["rejected"] == 5


async def test_destinations_outside_plus_one_are_rejected(api: ApiFactory) -> None:
    client = await api()
    # The developer guide's own example of a rejected recipient is +4088070206.
    reply = await client.send([{"to": ["+14155550100"]}, {"to": ["+4088070206"]},
                               {"to": ["+442071838750"]}, {"to": ["+1415555010"]}])
    assert reply.body["batchSize"] == 1
    assert [(r["index"], r["to"], r["errorCode"]) for r in reply.body["rejected"]] == [
        (2, ["+4088070206"], "SMS-RC-410"), (3, ["+442071838750"], "SMS-RC-410"),
        (4, ["+1415555010"], "SMS-RC-410")]


async def test_an_account_allowed_abroad_accepts_other_countries(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(us_canada_only=False))
    reply = await client.send([{"to": ["+442071838750"]}])
    assert (reply.body["batchSize"], reply.body["rejected"]) == (1, [])


async def test_carrier_rejects_a_seeded_share_and_always_the_same_numbers(
        api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(carrier_reject_share=0.1, seed=5))
    messages = [{"to": [f"+1415555{i:04d}"]} for i in range(2000)]
    first = (await client.send(messages)).body
    second = (await client.send(messages[::-1])).body
    refused = {r["to"][0] for r in first["rejected"]}
    assert 140 < len(refused) < 260
    assert {r["to"][0] for r in second["rejected"]} == refused
    assert first["batchSize"] == 2000 - len(refused)
    assert all(r["index"] == int(r["to"][0][-4:]) + 1 for r in first["rejected"])


async def test_all_rejected_batch_is_201_completed_and_empty(api: ApiFactory) -> None:
    client = await api()
    reply = await client.send([{"to": ["bogus"]}, {"to": ["+1"]}])
    assert reply.status == 201
    body = reply.body
    assert (body["batchSize"], body["status"], body["cost"]) == (0, "Completed", 0.0)
    assert [r["index"] for r in body["rejected"]] == [1, 2]


async def test_overlong_message_text_rejects_only_that_message(api: ApiFactory) -> None:
    client = await api()
    reply = await client.send([{"to": ["+14155550100"], "text": "x" * 1001},
                               {"to": ["+14155550101"], "text": "é" * 1000}])
    assert reply.status == 201
    assert reply.body["batchSize"] == 1
    assert reply.body["rejected"] == [{
        "index": 1, "to": ["+14155550100"], "errorCode": "CMN-101",
        "description": "The message text exceeds 1000 characters"}]


@pytest.mark.parametrize(("body", "code", "message"), [
    (b"not json", "CMN-104", "Cannot parse request"),
    (b"[]", "CMN-104", "Cannot parse request"),
    (b'{"from":"+16505550100","text":"x","messages":{"to":["+14155550100"]}}',
     "CMN-104", "Cannot parse request"),
    (b'{"from":"+16505550100","text":5,"messages":[{"to":["+14155550100"]}]}',
     "CMN-104", "Cannot parse request"),
    (b'{"text":"x","messages":[{"to":["+14155550100"]}]}',
     "CMN-101", "Parameter [from] value is invalid."),
    (b'{"from":"+16505550102","text":"x","messages":[{"to":["+14155550100"]}]}',
     "CMN-101", "Parameter [from] value is invalid."),
    (b'{"from":"+19995550100","text":"x","messages":[{"to":["+14155550100"]}]}',
     "CMN-101", "Parameter [from] value is invalid."),
    (b'{"from":"+16505550100","messages":[{"to":["+14155550100"]}]}',
     "CMN-101", "Parameter [text] value is invalid."),
    ((b'{"from":"+16505550100","messages":[{"to":["+14155550100"],"text":"a"},'
     b'{"to":["+14155550101"]}]}'), "CMN-101", "Parameter [text] value is invalid."),
    (b'{"from":"+16505550100","text":"' + b"y" * 1001 + b'","messages":[{"to":["+1415"]}]}',
     "CMN-101", "Parameter [text] value is invalid."),
    (b'{"from":"+16505550100","text":"x","messages":[]}',
     "CMN-101", "Parameter [messages] value is invalid."),
])
async def test_bad_bodies_are_400_asg_errors(api: ApiFactory, body: bytes, code: str,
                                             message: str) -> None:
    client = await api()
    reply = await client.post(A2P + "/batches", data=body)
    assert reply.status == 400
    assert reply.body == {"errorCode": code, "message": message,
                          "errors": [{"errorCode": code, "message": message}]}
    assert client.emu.ledger()["batches"] == 0


async def test_body_over_the_limit_is_413_json(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(max_body_bytes=2000))
    small = await client.send(recipients(10))
    assert small.status == 201
    reply = await client.send(recipients(200))
    assert reply.status == 413
    assert reply.body["errorCode"] == "AGW-413"
    assert reply.body["errors"][0]["errorCode"] == "AGW-413"
    ledger = client.emu.ledger()
    assert ledger["batches"] == 1
    assert ledger["status_counts"]["413"] == 1


async def test_chunked_body_over_the_limit_is_413_json(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(max_body_bytes=2000))
    payload = orjson.dumps({"from": "+16505550100", "text": "x", "messages": recipients(200)})

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(payload), 500):
            yield payload[i:i + 500]

    async with client.session.post(client.emu.url + A2P + "/batches", data=chunks(),
                                   headers={**client.auth_headers(),
                                            "Content-Type": "application/json"}) as r:
        assert r.status == 413
        assert (await r.json())["errorCode"] == "AGW-413"


async def test_unknown_batch_is_404_cmn_102(api: ApiFactory) -> None:
    client = await api()
    reply = await client.get(A2P + "/batches/does-not-exist")
    assert reply.status == 404
    assert reply.body["errorCode"] == "CMN-102"


async def test_unknown_account_is_404(api: ApiFactory) -> None:
    client = await api()
    reply = await client.get("/restapi/v1.0/account/12345/a2p-sms/batches")
    assert reply.status == 404
    ok = await client.get(f"/restapi/v1.0/account/{client.emu.config.account_id}"
                          "/a2p-sms/batches")
    assert ok.status == 200


async def test_processing_is_fifo_per_sender_and_cost_comes_at_completion(
        api: ApiFactory) -> None:
    # A message per 100 emulated seconds: real time hardly moves it, `advance` does.
    client = await api(EmulatorConfig.fast(processing_rate=0.01, delivery_failure_share=0.0))
    first = (await client.send(recipients(20))).body["id"]
    second = (await client.send(recipients(20, start=100))).body["id"]
    other = (await client.send(recipients(20), sender="+16505550101")).body["id"]
    client.emu.advance(1050)  # 10.5 messages' time
    a = (await client.get(A2P + "/batches/" + first)).body
    b = (await client.get(A2P + "/batches/" + second)).body
    c = (await client.get(A2P + "/batches/" + other)).body
    assert a["processedCount"] == 10 and a["status"] == "Processing"
    assert b["processedCount"] == 0 and b["status"] == "Processing"  # waits for the first
    assert c["processedCount"] == 10  # another sender works in parallel
    assert "cost" not in a
    client.emu.configure(processing_rate=1e9)
    done = (await client.get(A2P + "/batches/" + second)).body
    assert done["status"] == "Completed"
    assert done["processedCount"] == 20
    assert done["cost"] == pytest.approx(20 * 0.007)


async def test_list_batches_pages_to_the_end_with_filters(api: ApiFactory) -> None:
    client = await api()
    ids = [(await client.send(recipients(1, start=i))).body["id"] for i in range(7)]
    other = (await client.send(recipients(1), sender="+16505550101")).body["id"]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"perPage": "3", "from": " 16505550100"}  # the SDK's raw `+` is a space
        if token:
            params["pageToken"] = token
        page = await client.get(A2P + "/batches", params=params)
        assert page.status == 200
        assert page.body["paging"]["perPage"] == 3
        seen += [r["id"] for r in page.body["records"]]
        pages += 1
        token = page.body["paging"].get("nextPageToken")
        if token is None:
            break
    assert seen == ids[::-1]  # newest first, as RingCentral's examples show
    assert pages == 3
    everything = await client.get(A2P + "/batches")
    assert [r["id"] for r in everything.body["records"]] == [other, *ids[::-1]]
    assert "nextPageToken" not in everything.body["paging"]
    completed = await client.get(A2P + "/batches",
                                 params=[("status", "Completed"), ("status", "Processing")])
    assert len(completed.body["records"]) == 8
    queued = await client.get(A2P + "/batches", params={"status": "Queued"})
    assert queued.body["records"] == []


async def test_list_batches_default_window_is_24_hours(api: ApiFactory) -> None:
    client = await api()
    await client.send(recipients(1))
    client.emu.state.batches[0].created -= 25 * 3600
    assert (await client.get(A2P + "/batches")).body["records"] == []
    older = await client.get(A2P + "/batches", params={"dateFrom": "2000-01-01T00:00:00Z"})
    assert len(older.body["records"]) == 1


@pytest.mark.parametrize(("params", "name"), [
    ({"perPage": "1001"}, "perPage"),
    ({"perPage": "0"}, "perPage"),
    ({"pageToken": "garbage!"}, "pageToken"),
    ({"dateFrom": "yesterday"}, "dateFrom"),
])
async def test_bad_list_parameters_are_400(api: ApiFactory, params: dict[str, str],
                                           name: str) -> None:
    client = await api()
    reply = await client.get(A2P + "/batches", params=params)
    assert reply.status == 400
    assert reply.body["message"] == f"Parameter [{name}] value is invalid."
