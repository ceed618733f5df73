"""A careful hand-written sender: csv, json, aiohttp; 10,000 messages a batch.

What a competent user might write instead of hvsms: one aiohttp session, a
JWT login, the A2P sender looked up, the CSV streamed with `csv.DictReader`,
exact duplicates skipped with a set, batches of 10,000 messages (the
"10,000 texts per API request" of RingCentral's guide) built with `json` and
POSTed one after another, `rejected` entries kept, a 429 answered by waiting
`Retry-After`; then every batch polled (one GET per open batch, every
`--poll-interval` s, the same for all contenders) until all are Completed.
No phone-number normalisation, no body-size packing, no journal.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import json
import string
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import aiohttp

from ._common import Clock, Env, Result, parse_args, run_main

BATCH_MESSAGES = 10_000
API = "/restapi/v1.0/account/~"


class Api:
    def __init__(self, session: aiohttp.ClientSession, env: Env) -> None:
        self.session = session
        self.env = env
        self.token = ""

    async def login(self) -> None:
        basic = base64.b64encode(f"{self.env.client_id}:{self.env.client_secret}".encode())
        async with self.session.post(
            self.env.server_url + "/restapi/oauth/token",
            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                  "assertion": self.env.jwt},
            headers={"Authorization": "Basic " + basic.decode()},
        ) as resp:
            resp.raise_for_status()
            self.token = (await resp.json())["access_token"]

    async def call(self, method: str, path: str, body: bytes | None = None) -> Any:
        headers = {"Authorization": "Bearer " + self.token}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for _ in range(10):
            async with self.session.request(method, self.env.server_url + path, data=body,
                                            headers=headers) as resp:
                if resp.status == 429:
                    await asyncio.sleep(float(resp.headers.get("Retry-After", "60")))
                    continue
                resp.raise_for_status()
                return json.loads(await resp.read())
        raise RuntimeError(f"{method} {path}: still rate limited after 10 tries")


def read_rows(path: str) -> Iterator[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


async def send(args: Any, env: Env, result: Result) -> None:
    async with aiohttp.ClientSession() as session:
        api = Api(session, env)
        await api.login()
        numbers = await api.call("GET", API + "/extension/~/phone-number")
        sender = next(r["phoneNumber"] for r in numbers["records"]
                      if "A2PSmsSender" in r.get("features", ()))
        personal = any(name for _, name, _, _ in string.Formatter().parse(args.text))
        batch_ids: list[str] = []
        seen: set[str] = set()

        async def post(messages: list[dict[str, Any]]) -> None:
            doc: dict[str, Any] = {"from": sender, "messages": messages}
            if not personal:
                doc["text"] = args.text
            body = json.dumps(doc, separators=(",", ":")).encode()
            answer = await api.call("POST", API + "/a2p-sms/batches", body)
            batch_ids.append(answer["id"])
            result.batches += 1
            result.bytes_posted += len(body)
            result.largest_body = max(result.largest_body, len(body))
            result.accepted += answer["batchSize"]
            result.rejected += len(answer.get("rejected") or ())

        messages: list[dict[str, Any]] = []
        for row in read_rows(args.file):
            result.rows += 1
            to = row["to"].strip()
            if not to or to in seen:
                continue
            seen.add(to)
            message: dict[str, Any] = {"to": [to]}
            if personal:
                message["text"] = args.text.format(**row)
            messages.append(message)
            if len(messages) == BATCH_MESSAGES:
                result.messages += len(messages)
                await post(messages)
                messages = []
        if messages:
            result.messages += len(messages)
            await post(messages)

        open_ids = list(batch_ids)
        while open_ids:
            still = []
            for batch_id in open_ids:
                batch = await api.call("GET", f"{API}/a2p-sms/batches/{batch_id}")
                result.polls += 1
                if batch["status"] != "Completed":
                    still.append(batch_id)
            open_ids = still
            if open_ids:
                await asyncio.sleep(args.poll_interval)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args("handwritten", argv)
    env = Env.load()

    def work(clock: Clock, result: Result) -> None:
        asyncio.run(send(args, env, result))

    return run_main("handwritten", args.file, work)


if __name__ == "__main__":
    sys.exit(main())
