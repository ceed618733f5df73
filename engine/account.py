"""The account side of a job: log in, and check the sender, before any row is read.

A wrong URL, refused credentials or a number that cannot send show up in
seconds, before a large file has been planned (`engine.session` runs it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from .api.a2p import A2P
from .api.auth import Auth
from .api.http import ApiClient
from .config import Credentials, JobOptions
from .errors import ApiError, AuthError, HvsmsError, LoginRefused, NumberNotReady, SenderError
from .registration import NumberConfig, parse_config, refusal
from .senders import ALL, is_toll_free, parse_senders

__all__ = ["login_hint", "open_api", "pick_sender", "read_configs"]


def login_hint(exc: AuthError) -> str:
    """Which variables to check when the server refuses the app or the user."""
    code, message = (exc.error_code or "").upper(), exc.message.lower()
    if code == "OAU-123" or (not code and "invalid client" in message):
        what = ("RC_APP_CLIENT_ID and RC_APP_CLIENT_SECRET (the app's client credentials), and "
                "that RC_SERVER_URL is the app's environment (sandbox apps: "
                "https://platform.devtest.ringcentral.com)")
    elif "jwt" in message or code.startswith("OAU-2"):
        what = "RC_USER_JWT (the user's JWT credential, issued for this app and environment)"
    else:
        what = "RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET, RC_USER_JWT and RC_SERVER_URL"
    return f"check {what}"


async def open_api(
    stack: contextlib.AsyncExitStack, creds: Credentials, options: JobOptions,
    *, on_retry: Callable[[HvsmsError], None] | None = None,
) -> tuple[ApiClient, A2P, Auth]:
    """An API client on `stack` (closed, and the session revoked, when it unwinds)."""
    client = ApiClient(
        creds.server_url, request_timeout=options.request_timeout,
        connect_timeout=options.connect_timeout, max_retries=options.max_retries,
        limit=options.concurrency + 2, light_limit=options.light_limit,
    )
    client.on_retry = on_retry
    await stack.enter_async_context(client)
    auth = client.auth = Auth(client, creds)
    stack.push_async_callback(auth.revoke)
    return client, A2P(client), auth


async def pick_sender(a2p: A2P, sender: str | None) -> str:
    """Log in (the first request does) and return the sender(s): `sender` checked (one
    number, several comma-separated, or `all`), or the account's first A2P number.
    A pool comes back as its numbers joined by commas."""
    wanted = parse_senders(sender)  # raises SenderError for anything but E.164 numbers
    try:
        senders = await a2p.a2p_senders()
    except LoginRefused:
        raise
    except AuthError as exc:
        if exc.endpoint != "token":
            raise
        raise LoginRefused(exc.status, exc.error_code,
                           f"{exc.message}\n  hint: {login_hint(exc)}",
                           endpoint=exc.endpoint) from None
    if wanted is None or wanted == (ALL,):
        if not senders:
            raise SenderError("the account has no number with the A2PSmsSender feature")
        return ",".join(senders) if wanted else senders[0]
    for one in wanted:
        if one not in senders:
            have = ", ".join(senders) or "none"
            raise SenderError(f"{one} is not an A2P SMS sender of this account "
                              f"(A2P senders: {have})")
    return ",".join(wanted)


async def read_configs(a2p: A2P, numbers: list[str]
                       ) -> tuple[dict[str, NumberConfig], str | None]:
    """Each sender's SMS configuration (after `pick_sender`), and a note when the
    server does not say (the endpoint missing or forbidden: default caps apply).
    Raises `NumberNotReady` for numbers whose messages would fail."""
    configs: dict[str, NumberConfig] = {}
    for number in numbers:
        toll_free = a2p.payment_types.get(number) == "TollFree" or is_toll_free(number)
        if number not in a2p.number_ids:
            continue
        try:
            data = await a2p.sms_configuration(number)
        except ApiError as exc:
            if exc.status in (403, 404, 405, 501):
                return {}, (f"the server does not say what the numbers may send (SMS "
                            f"configuration: HTTP {exc.status}): each is taken to send up "
                            "to 250,000 a day")
            raise
        configs[number] = parse_config(number, data, toll_free=toll_free)
    refused = [line for cfg in configs.values() if (line := refusal(cfg)) is not None]
    if refused:
        raise NumberNotReady(refused)
    return configs, None
