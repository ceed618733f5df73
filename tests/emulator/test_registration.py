"""The emulator's numbers as RingCentral registers them, read with the official SDK:
each number's SMS configuration; a number not registered to send fails every
message; LowVolume numbers share 6,000 a day; content filtering."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ringcentral import SDK

from engine.emulator import Emulator, EmulatorConfig, RateLimitConfig, SenderNumber

EXT = "/restapi/v1.0/account/~/extension/~"
A2P = "/restapi/v1.0/account/~/a2p-sms"
SENDERS = (SenderNumber("+16505550100", registration_tier="LowVolume"),
           SenderNumber("+16505550101", registration_tier="LowVolume"),
           SenderNumber("+16505550102", campaign_status="Submitted"),
           SenderNumber("+18885550100", payment_type="TollFree", campaign_status="Unconfirmed"),
           SenderNumber("+16505550103"))


def _flow(url: str, config: EmulatorConfig) -> dict[str, Any]:
    platform = SDK(config.client_id, config.client_secret, url).platform()
    platform.login(jwt=config.jwt)
    records = platform.get(f"{EXT}/phone-number").json_dict()["records"]
    ids = {r["phoneNumber"]: r["id"] for r in records}
    configs = {n: platform.get(f"{EXT}/phone-number/{i}/sms-configuration").json_dict()
               for n, i in ids.items()}
    sent: dict[str, str] = {}
    for number, size in (("+16505550100", 4000), ("+16505550101", 4000),
                         ("+16505550102", 5), ("+18885550100", 5), ("+16505550103", 5)):
        text = "see bit.ly/x" if number == "+16505550103" else "Hi"
        body = {"from": number, "text": text,
                "messages": [{"to": [f"+1415555{i:04d}"]} for i in range(size)]}
        sent[number] = platform.post(f"{A2P}/batches", body).json_dict()["id"]
    totals = {n: platform.get(f"{A2P}/statuses", {"batchId": b}).json_dict()
              for n, b in sent.items()}
    return {"configs": configs, "totals": totals}


async def test_numbers_registrations_caps_and_filters(
        emulator: Callable[..., Awaitable[Emulator]]) -> None:
    config = EmulatorConfig.fast(senders=SENDERS, rate_limits=RateLimitConfig(enabled=False),
                                 content_filter={"bit.ly/": "SMS-CAR-430"})
    emu = await emulator(config)
    got = await asyncio.to_thread(_flow, emu.url, config)
    configs, totals = got["configs"], got["totals"]
    assert configs["+16505550100"]["smsCampaignInfo"]["registrationTier"] == "LowVolume"
    assert configs["+16505550102"]["smsCampaignInfo"]["status"] == "Submitted"
    assert configs["+16505550103"]["smsCampaignInfo"]["status"] == "Confirmed"

    def failed(number: str, kind: str) -> dict[str, int]:
        out: dict[str, int] = totals[number][kind]["errorCodeCounts"]
        return out

    assert failed("+16505550102", "deliveryFailed") == {"SMS-UP-414": 5}
    assert failed("+18885550100", "deliveryFailed") == {"SMS-CAR-461": 5}
    assert failed("+16505550103", "deliveryFailed") == {"SMS-CAR-430": 5}
    # 8,000 from two LowVolume numbers in one day: 6,000 go, 2,000 past the tier's cap.
    assert failed("+16505550100", "sendingFailed") == {}
    assert failed("+16505550101", "sendingFailed") == {"SMS-RC-403": 2000}
    assert emu.ledger()["per_day"]["LowVolume"] == {
        d: 8000 for d in emu.ledger()["per_day"]["+16505550100"]}
