"""The official `ringcentral` SDK, unmodified, runs RingCentral's own A2P sample flow."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from ringcentral import SDK
from ringcentral.http.api_exception import ApiException

from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig

ALICE = "+14155550100"
BOB = "+12125550100"


def sample_flow(url: str, config: EmulatorConfig,
                settle: Callable[[Any], None] = lambda platform: None) -> dict[str, Any]:
    """`code-samples/messaging/code-snippets/send-a2p-sms.py`, polling faster.

    `settle(platform)` runs once both batches are Completed: the receipts may
    still be on their way.
    """
    sdk = SDK(config.client_id, config.client_secret, url)
    platform = sdk.platform()
    platform.login(jwt=config.jwt)

    sender = None
    records = platform.get("/restapi/v1.0/account/~/extension/~/phone-number").json().records
    for record in records:
        for feature in record.features:
            if feature == "A2PSmsSender" and sender is None:
                sender = record.phoneNumber
    assert sender is not None

    endpoint = "/restapi/v1.0/account/~/a2p-sms/batches"
    plain = platform.post(endpoint, {
        "from": sender, "text": "Hello Team",
        "messages": [{"to": [ALICE]}, {"to": [BOB]}],
    }).json()
    personal = platform.post(endpoint, {
        "from": sender, "text": "Hello Team",
        "messages": [{"to": [ALICE], "text": "Hello Alice"}, {"to": [BOB]}],
    }).json()

    polls: dict[str, list[str]] = {}
    for batch_id in (plain.id, personal.id):
        seen = polls.setdefault(batch_id, [])
        deadline = time.monotonic() + 20
        while True:
            batch = platform.get(endpoint + "/" + batch_id).json_dict()
            seen.append(batch["status"])
            if batch["status"] == "Completed":
                break
            assert time.monotonic() < deadline, "batch never completed"
            time.sleep(0.05)

    at_completion = platform.get("/restapi/v1.0/account/~/a2p-sms/statuses",
                                 {"batchId": personal.id}).json_dict()
    settle(platform)
    statuses = platform.get("/restapi/v1.0/account/~/a2p-sms/statuses",
                            {"batchId": personal.id}).json_dict()
    # The SDK does not URL-encode query strings: this `+` reaches the server raw.
    messages = platform.get("/restapi/v1.0/account/~/a2p-sms/messages",
                            {"batchId": personal.id, "phoneNumber": ALICE,
                             "view": "Detailed"}).json_dict()
    platform.logout()
    return {"sender": sender, "plain": plain, "personal": personal, "polls": polls,
            "final": batch, "at_completion": at_completion, "statuses": statuses,
            "messages": messages}


async def test_official_sdk_sample_flow(emulator: Callable[..., Awaitable[Emulator]]) -> None:
    # The realistic service (a local number sends 1 message a second, receipts
    # come later), ten times faster than real time.
    config = EmulatorConfig(time_scale=10.0, delivery_failure_share=0.0)
    emu = await emulator(config)
    horizon = config.receipt_delay + config.late_receipt_delay * 2 + config.pending_resolve_delay

    def settle(platform: Any) -> None:
        # Two hours later every receipt is in; the token of back then is not.
        emu.advance(horizon)
        platform.login(jwt=config.jwt)

    result = await asyncio.to_thread(sample_flow, emu.url, config, settle)

    assert result["sender"] == "+16505550100"
    early = result["at_completion"]
    assert early["queued"]["count"] == 0
    assert sum(early[k]["count"] for k in ("sent", "delivered", "deliveryFailed")) == 2
    assert result["plain"].status == "Processing"
    assert result["plain"].batchSize == 2
    assert result["plain"].rejected == []
    for seen in result["polls"].values():
        assert seen[-1] == "Completed"
    # Queued behind the first batch of the same sender, so seen in progress.
    assert "Processing" in result["polls"][result["personal"].id]
    assert result["final"]["processedCount"] == 2
    assert result["final"]["cost"] == pytest.approx(0.014)
    assert result["statuses"]["delivered"]["count"] == 2
    assert result["statuses"]["queued"]["count"] == 0
    records = result["messages"]["records"]
    assert [(r["to"], r["text"], r["messageStatus"]) for r in records] == [
        ([ALICE], "Hello Alice", "Delivered")]
    ledger = emu.ledger()
    assert ledger["accepted"] == 4
    assert ledger["duplicates"] == 2
    assert ledger["requests"]["token"] == 2  # the login, and the one two hours later
    assert ledger["requests"]["revoke"] == 1
    assert ledger["requests"]["createA2PSMS"] == 2
    assert ledger["status_counts"].get("401", 0) == 0


async def test_two_sdk_logins_share_one_rate_budget(
        emulator: Callable[..., Awaitable[Emulator]]) -> None:
    emu = await emulator(EmulatorConfig(rate_limits=RateLimitConfig(light=3)))

    def run() -> list[int]:
        statuses = []
        platforms = []
        for _ in range(2):
            platform = SDK(emu.config.client_id, emu.config.client_secret, emu.url).platform()
            platform.login(jwt=emu.config.jwt)
            platforms.append(platform)
        for i in range(4):  # alternating logins: 4 requests against one budget of 3
            try:
                response = platforms[i % 2].get("/restapi/v1.0/account/~/a2p-sms/batches")
                statuses.append(response.response().status_code)
            except ApiException as exc:
                statuses.append(exc.api_response().response().status_code)
        return statuses

    assert await asyncio.to_thread(run) == [200, 200, 200, 429]
    assert emu.runtime.tokens.session_count == 2


async def test_sdk_sees_errors_as_api_exceptions(
        emulator: Callable[..., Awaitable[Emulator]]) -> None:
    emu = await emulator()

    def run() -> tuple[int, dict[str, Any], int]:
        platform = SDK(emu.config.client_id, emu.config.client_secret, emu.url).platform()
        platform.login(jwt=emu.config.jwt)
        try:
            platform.post("/restapi/v1.0/account/~/a2p-sms/batches",
                          {"from": "+16505550102", "text": "x", "messages": [{"to": [BOB]}]})
        except ApiException as exc:
            response = exc.api_response().response()
            bad_from = (response.status_code, response.json())
        bad_login = SDK(emu.config.client_id, "wrong", emu.url).platform()
        try:
            bad_login.login(jwt=emu.config.jwt)
        except ApiException as exc:
            login_status = exc.api_response().response().status_code
        return bad_from[0], bad_from[1], login_status

    status, body, login_status = await asyncio.to_thread(run)

    assert status == 400
    assert body["errorCode"] == "CMN-101"
    assert body["message"] == "Parameter [from] value is invalid."
    assert body["errors"] == [{"errorCode": "CMN-101",
                               "message": "Parameter [from] value is invalid."}]
    assert login_status == 401


async def test_sdk_refreshes_its_own_expired_token(
        emulator: Callable[..., Awaitable[Emulator]]) -> None:
    emu = await emulator(EmulatorConfig(access_token_ttl=1))

    def run() -> tuple[int, int]:
        platform = SDK(emu.config.client_id, emu.config.client_secret, emu.url).platform()
        platform.login(jwt=emu.config.jwt)
        first = platform.get("/restapi/v1.0/account/~/a2p-sms/batches").response().status_code
        time.sleep(1.1)  # the SDK sees its token expired and refreshes before the GET
        second = platform.get("/restapi/v1.0/account/~/a2p-sms/batches").response().status_code
        return first, second

    assert await asyncio.to_thread(run) == (200, 200)
    ledger = emu.ledger()
    assert ledger["requests"]["token"] == 2  # login, then the refresh
    assert ledger["status_counts"].get("401", 0) == 0
