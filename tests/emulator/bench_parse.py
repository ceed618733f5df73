"""Measure how fast the emulator takes a ~50 MB batch (not a test; run it by hand).

    python tests/emulator/bench_parse.py [--http]

Builds a `to`-only body and a personalised one, each just under 50 MiB, and
times parse + validate + store in-process (best of 3); with `--http` also the
whole POST over loopback against a running `Emulator`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time

import aiohttp
import orjson

from engine.emulator import Emulator, EmulatorConfig
from engine.emulator.fastparse import parse_fast
from engine.emulator.parse import parse_batch
from engine.emulator.runtime import Runtime

LIMIT = 50 * 1024 * 1024 - 4096


def plain_body() -> bytes:
    head = b'{"from":"+16505550100","text":"Hello from the benchmark","messages":['
    one = b'{"to":["+1415%07d"]},'
    count = (LIMIT - len(head)) // len(one % 0)
    parts = [one % (i % 10_000_000) for i in range(count)]
    return head + b"".join(parts)[:-1] + b"]}"


def personal_body() -> bytes:
    head = b'{"from":"+16505550100","messages":['
    one = b'{"to":["+1415%07d"],"text":"Hi customer %07d, your code is %06d. Reply STOP to end"},'
    size = len(one % (0, 0, 0))
    count = (LIMIT - len(head)) // size
    parts = [one % (i, i, i % 1_000_000) for i in range(count)]
    return head + b"".join(parts)[:-1] + b"]}"


def mixed_body() -> bytes:
    """As hvsms sends it when a third of the rows use the default text."""
    head = b'{"from":"+16505550100","text":"Hello","messages":['
    own = b'{"to":["+1415%07d"],"text":"Hi customer %07d, your code is %06d"},'
    plain = b'{"to":["+1415%07d"]},'
    parts = []
    size = len(head)
    i = 0
    while size < LIMIT - 200:
        part = plain % i if i % 3 == 0 else own % (i, i, i % 1_000_000)
        parts.append(part)
        size += len(part)
        i += 1
    return head + b"".join(parts)[:-1] + b"]}"


def time_store(body: bytes, runs: int = 3) -> tuple[float, float, int]:
    best_parse = best_total = float("inf")
    size = 0
    for _ in range(runs):
        runtime = Runtime(EmulatorConfig())
        gc.collect()
        t0 = time.perf_counter()
        request = parse_fast(body) or parse_batch(body)
        t1 = time.perf_counter()
        batch, _ = runtime.state.create_batch(request)
        t2 = time.perf_counter()
        best_parse = min(best_parse, t1 - t0)
        best_total = min(best_total, t2 - t0)
        size = batch.size
    return best_parse, best_total, size


async def time_http(body: bytes) -> float:
    config = EmulatorConfig()
    async with Emulator(config) as emu, aiohttp.ClientSession() as session:
        token_reply = await session.post(
            emu.url + "/restapi/oauth/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                  "assertion": config.jwt},
            headers={"Authorization": aiohttp.encode_basic_auth(config.client_id,
                                                                config.client_secret)})
        token = (await token_reply.json())["access_token"]
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            async with session.post(emu.url + "/restapi/v1.0/account/~/a2p-sms/batches",
                                    data=body, headers={"Authorization": "Bearer " + token,
                                                        "Content-Type": "application/json"}) as r:
                reply = orjson.loads(await r.read())
                assert r.status == 201, reply
            best = min(best, time.perf_counter() - t0)
        return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", action="store_true")
    args = parser.parse_args()
    for name, build in (("to-only", plain_body), ("personalised", personal_body),
                        ("mixed", mixed_body)):
        body = build()
        parse_s, total_s, size = time_store(body)
        print(f"{name}: {len(body) / 1e6:.1f} MB, {size:,} messages: parse {parse_s:.3f} s, "
              f"parse+validate+store {total_s:.3f} s ({size / total_s / 1e6:.2f} M msg/s)")
        if args.http:
            print(f"{name}: POST over loopback {asyncio.run(time_http(body)):.3f} s")


if __name__ == "__main__":
    main()
