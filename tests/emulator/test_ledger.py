"""The ledger and the control API: duplicates, lookup, concurrency spy, runtime config."""

from __future__ import annotations

import asyncio

from engine.emulator import EmulatorConfig

from .conftest import ApiFactory
from .helpers import A2P, recipients


async def test_duplicates_count_extra_acceptances_per_sender(api: ApiFactory) -> None:
    client = await api()
    await client.send(recipients(10))  # 0..9
    await client.send(recipients(5, start=5))  # 5..9 again
    await client.send([{"to": ["+14155550000"]}, {"to": ["+14155550000"]}])  # 0 twice more
    await client.send(recipients(3), sender="+16505550101")  # other sender: not duplicates
    ledger = client.emu.ledger()
    assert ledger["accepted"] == 20
    assert ledger["duplicates"] == 5 + 2
    assert ledger["duplicate_numbers"] == 6
    assert ledger["per_sender"] == {"+16505550100": 17, "+16505550101": 3}
    assert ledger["batches"] == 4
    assert ledger["requests"]["createA2PSMS"] == 4
    assert ledger["status_counts"]["201"] == 4
    assert ledger["largest_body"] > 0

    lookup = client.emu.lookup(["+14155550000", "+14155550007", "+19999999999"])
    assert lookup["+16505550100"] == {"+14155550000": 3, "+14155550007": 2,
                                      "+19999999999": 0}
    assert lookup["+16505550101"]["+14155550000"] == 1


async def test_max_in_flight_spies_on_client_concurrency(api: ApiFactory) -> None:
    client = await api()
    client.emu.configure(faults={"latency": 0.2})
    await asyncio.gather(*(client.get(A2P + "/batches") for _ in range(4)))
    await client.get(A2P + "/statuses")
    ledger = client.emu.ledger()
    assert ledger["max_in_flight"]["listA2PBatches"] == 4
    assert ledger["max_in_flight"]["aggregateA2PSMSStatuses"] == 1
    assert ledger["faults"]["latency"] == 5


async def test_control_api_over_http(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(processing_rate=1.0))
    await client.send(recipients(3))
    ledger = await client.get("/_emulator/ledger", headers={"Authorization": ""})
    assert ledger.status == 200
    assert ledger.body["accepted"] == 3

    lookup = await client.post("/_emulator/lookup", json=["+14155550001"])
    assert lookup.body == {"+16505550100": {"+14155550001": 1}}

    config = await client.post("/_emulator/config", json={
        "faults": {"error_503_share": 1.0, "paths": ["readA2PBatch"]},
        "rate_limits": {"light": 7},
        "processing_rate": 1e9,
    })
    assert config.status == 200
    assert config.body["faults"]["error_503_share"] == 1.0
    assert config.body["rate_limits"]["light"] == 7
    listing = await client.get(A2P + "/batches")
    assert listing.headers["X-Rate-Limit-Limit"] == "7"
    assert listing.body["records"][0]["status"] == "Completed"
    bad = await client.post("/_emulator/config", json={"faults": {"nonsense": 1}})
    assert bad.status == 400

    # Control calls are not API calls: they are neither counted nor limited.
    requests = client.emu.ledger()["requests"]
    assert not any(name.startswith("emulator") for name in requests)

    reset = await client.post("/_emulator/reset", json={})
    assert reset.status == 200
    assert client.emu.ledger()["accepted"] == 0
    assert (await client.get(A2P + "/batches")).status == 200  # still logged in
