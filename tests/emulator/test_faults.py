"""Injected faults: 503 (with and without Retry-After), drop, lost answer, hang, latency."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import aiohttp
import orjson
import pytest
from support import until

from engine.emulator import CREATE_BATCH, EmulatorConfig, FaultConfig
from engine.emulator.config import FAULT_KINDS, config_from_dict, config_to_dict
from engine.emulator.faults import FaultInjector, FaultKind

from .conftest import ApiFactory
from .helpers import A2P, recipients


def test_fault_plans_are_seeded_and_follow_the_shares() -> None:
    config = FaultConfig(seed=7, drop_share=0.1, error_503_share=0.2, hang_share=0.1,
                         lost_answer_share=0.2, latency=0.01, latency_jitter=0.02)
    a, b = FaultInjector(config), FaultInjector(config)
    plans_a = [a.plan(CREATE_BATCH) for _ in range(2000)]
    plans_b = [b.plan(CREATE_BATCH) for _ in range(2000)]
    assert plans_a == plans_b
    assert FaultInjector(config).plan(CREATE_BATCH) == plans_a[0]
    kinds = Counter(p.kind for p in plans_a)
    assert 150 < kinds[FaultKind.DROP] < 250
    assert 320 < kinds[FaultKind.ERROR_503] < 480
    assert 150 < kinds[FaultKind.HANG] + kinds[FaultKind.HANG_AFTER_HEADERS] < 250
    assert 320 < kinds[FaultKind.LOST_ANSWER] < 480
    assert all(0.01 <= p.delay <= 0.03 for p in plans_a)
    # A lost answer is a POST-batches fault only; elsewhere that draw is no fault.
    c = FaultInjector(config)
    gets = Counter(c.plan("listA2PBatches").kind for _ in range(2000))
    assert gets[FaultKind.LOST_ANSWER] == 0
    assert gets[None] > 800  # the lost-answer share falls through to "no fault"
    assert FaultInjector(FaultConfig(error_503_share=1.0, paths=(CREATE_BATCH,))).plan(
        "readA2PBatch").kind is None


def test_a_script_names_the_faults_of_each_operations_first_requests() -> None:
    script = {CREATE_BATCH: ("hang", "", "lost_answer"), "readA2PBatch": ("error_503",)}
    injector = FaultInjector(FaultConfig(script=script, paths=()))
    # Other operations' requests in between do not move an operation's script on.
    plans = [injector.plan(op) for op in (CREATE_BATCH, "readA2PBatch", "listA2PBatches",
                                          CREATE_BATCH, "readA2PBatch", CREATE_BATCH,
                                          CREATE_BATCH)]
    assert [p.kind for p in plans] == [FaultKind.HANG, FaultKind.ERROR_503, None, None, None,
                                       FaultKind.LOST_ANSWER, None]
    # Past its script an operation draws from the shares (here: every one a 500).
    after = FaultInjector(FaultConfig(script={CREATE_BATCH: ("drop",)}, error_500_share=1.0))
    assert [after.plan(CREATE_BATCH).kind for _ in range(3)] == [
        FaultKind.DROP, FaultKind.ERROR_500, FaultKind.ERROR_500]
    assert set(FAULT_KINDS) == {k.value for k in FaultKind}


@pytest.mark.parametrize("script", [{"nope": ("hang",)}, {CREATE_BATCH: ("hung",)},
                                    {"readA2PBatch": ("lost_answer",)}])
def test_a_script_with_a_typo_is_refused(script: dict[str, tuple[str, ...]]) -> None:
    with pytest.raises(ValueError, match="script"):
        FaultConfig(script=script)


def test_a_script_survives_the_trip_to_a_child_process() -> None:
    config = EmulatorConfig.fast(faults=FaultConfig(script={CREATE_BATCH: ("hang", "")}))
    again = config_from_dict(orjson.loads(orjson.dumps(config_to_dict(config))))
    assert again.faults.script == {CREATE_BATCH: ("hang", "")}


@pytest.mark.parametrize(("retry_after", "header"), [(1.0, "1"), (2.5, "2.5"), (None, None)])
async def test_503_with_and_without_retry_after(api: ApiFactory, retry_after: float | None,
                                                header: str | None) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(error_503_share=1.0,
                                                         retry_after_503=retry_after)))
    reply = await client.send(recipients(2))
    assert reply.status == 503
    assert reply.body["errorCode"] == "AGW-503"
    assert reply.headers.get("Retry-After") == header
    ledger = client.emu.ledger()
    assert ledger["batches"] == 0
    assert ledger["faults"] == {"error_503": 1}
    assert ledger["status_counts"] == {"200": 1, "503": 1}  # the login, then the fault


async def test_500_is_cmn_201_and_stores_nothing(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(error_500_share=1.0)))
    reply = await client.send(recipients(2))
    assert (reply.status, reply.body["errorCode"]) == (500, "CMN-201")
    assert reply.body["message"] == "Service Temporary Unavailable"
    assert client.emu.ledger()["batches"] == 0


async def test_faults_apply_only_to_their_paths(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(error_503_share=1.0,
                                                         paths=(CREATE_BATCH,))))
    assert (await client.get(A2P + "/batches")).status == 200
    assert (await client.send(recipients(1))).status == 503
    client.emu.configure(faults={"error_503_share": 0.0})
    assert (await client.send(recipients(1))).status == 201


async def test_drop_closes_the_connection_and_stores_nothing(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(drop_share=1.0)))
    with pytest.raises(aiohttp.ClientError):
        await client.send(recipients(3))
    ledger = client.emu.ledger()
    assert ledger["faults"] == {"drop": 1}
    assert ledger["batches"] == 0
    assert ledger["requests"] == {"token": 1, CREATE_BATCH: 1}
    assert ledger["status_counts"] == {"200": 1}  # only the login was answered


async def test_lost_answer_stores_the_batch_but_sends_nothing(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(lost_answer_share=1.0,
                                                         paths=(CREATE_BATCH,))))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.send(recipients(4))
    ledger = client.emu.ledger()
    assert ledger["faults"] == {"lost_answer": 1}
    assert ledger["batches"] == 1
    assert ledger["accepted"] == 4
    assert len(ledger["lost_answer_batches"]) == 1
    # The client can still find the batch it never heard about.
    listing = await client.get(A2P + "/batches")
    assert [r["id"] for r in listing.body["records"]] == ledger["lost_answer_batches"]


async def test_hangs_stall_until_the_client_gives_up(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(hang_share=1.0, seed=1)))
    timeout = aiohttp.ClientTimeout(total=0.3)
    outcomes = []
    for _ in range(6):
        try:
            async with client.session.post(
                    client.emu.url + A2P + "/batches", timeout=timeout,
                    json={"from": "+16505550100", "text": "x", "messages": recipients(1)},
                    headers=client.auth_headers()) as r:
                outcomes.append(f"headers {r.status}")
                await r.read()
        except TimeoutError:
            outcomes.append("timeout")
    faults = client.emu.ledger()["faults"]
    assert faults.get("hang", 0) + faults.get("hang_after_headers", 0) == 6
    # Both variants happen with this seed: some stall before anything, some after headers.
    assert faults.get("hang", 0) > 0 and faults.get("hang_after_headers", 0) > 0
    assert outcomes.count("headers 201") == faults["hang_after_headers"]
    assert client.emu.ledger()["batches"] == faults["hang_after_headers"]
    # Handlers notice the clients hung up (they look every 0.25 s): none is left running.
    await until(lambda: client.emu.ledger()["in_flight"] == {}, "stalled handlers ending")


async def test_latency_delays_answers(api: ApiFactory) -> None:
    client = await api(EmulatorConfig.fast(faults=FaultConfig(latency=0.15)))
    started = time.monotonic()
    reply = await client.get(A2P + "/batches")
    assert reply.status == 200
    assert time.monotonic() - started >= 0.15
    await asyncio.sleep(0)
