"""RingCentral's own A2P sample, done for a CSV, with the official `ringcentral` SDK.

`code-samples/messaging/code-snippets/send-a2p-sms.py` (ringcentral-api-docs):
log in with the JWT, find the extension's number with the A2PSmsSender
feature, POST one batch with every message, then GET the batch every 5 s
until it is Completed. Done for a CSV the plain way: the rows are read into
a list with the csv module, one message per row (the template rendered with
`str.format`), all in ONE `POST /restapi/v1.0/account/~/a2p-sms/batches`.

Changed from the sample: the poll waits `--poll-interval` (0.2 s, the same
for every contender) instead of 5 s, and loops instead of recursing. A body
over the API's 50 MB limit is refused by the emulator (413, connection
closed): that is reported as ``failed: body over 50 MB``, not as a time.
"""

from __future__ import annotations

import csv
import string
import sys
import time
from collections.abc import Sequence
from typing import Any

from ringcentral import SDK

from ._common import Clock, Env, Result, parse_args, run_main

BATCHES = "/restapi/v1.0/account/~/a2p-sms/batches"


def find_sender(platform: Any) -> str:
    resp = platform.get("/restapi/v1.0/account/~/extension/~/phone-number")
    for record in resp.json().records:
        for feature in record.features:
            if feature == "A2PSmsSender":
                return str(record.phoneNumber)
    raise RuntimeError("none of this user's phone numbers has the A2P SMS capability")


def build_body(path: str, text: str, sender: str) -> tuple[dict[str, Any], int]:
    personal = any(name for _, name, _, _ in string.Formatter().parse(text))
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if personal:
        messages = [{"to": [row["to"]], "text": text.format(**row)} for row in rows]
        body: dict[str, Any] = {"from": sender, "messages": messages}
    else:
        messages = [{"to": [row["to"]]} for row in rows]
        body = {"from": sender, "text": text, "messages": messages}
    return body, len(rows)


def post_failure(exc: Exception) -> tuple[int | None, str]:
    """The HTTP status (None if no answer came) and a short reason."""
    api_response = getattr(exc, "api_response", None)
    response = api_response().response() if callable(api_response) else None
    status = getattr(response, "status_code", None)
    cause = exc.__context__ or exc.__cause__
    kind = type(cause).__name__ if cause is not None else type(exc).__name__
    if status == 413:
        return 413, "failed: body over 50 MB (413)"
    if status is None:
        return None, f"failed: no answer to the POST ({kind})"
    return int(status), f"failed: HTTP {status} on the POST"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args("sdk_sample", argv)
    env = Env.load()

    def work(clock: Clock, result: Result) -> None:
        sdk = SDK(env.client_id, env.client_secret, env.server_url)
        platform = sdk.platform()
        platform.login(jwt=env.jwt)
        sender = find_sender(platform)
        body, rows = build_body(args.file, args.text, sender)
        result.rows = result.messages = rows
        try:
            resp = platform.post(BATCHES, body)
        except Exception as exc:  # noqa: BLE001 - the SDK wraps everything in ApiException
            status, reason = post_failure(exc)
            result.status, result.reason = "failed", reason
            result.extra = {"post_status": status}
            return
        del body
        batch = resp.json()
        result.batches = 1
        result.accepted = int(batch.batchSize)
        result.rejected = len(batch.rejected)
        batch_id = str(batch.id)
        while True:
            current = platform.get(BATCHES + "/" + batch_id).json_dict()
            result.polls += 1
            if current["status"] == "Completed":
                break
            time.sleep(args.poll_interval)
        result.extra = {"status": current["status"], "processed": current["processedCount"]}
        platform.logout()

    return run_main("sdk_sample", args.file, work)


if __name__ == "__main__":
    sys.exit(main())
